// Command conformance-adapter runs the Go client (clients/go) for one conformance scenario:
//
//	conformance-adapter '<config JSON>'
//
// config: {"url", "syncerType", "readTimeoutMs"}. It prints one JSON line per event on stdout
// ({"event": "status"|"error"|"stopped", ...}); when stdin ends it cancels the client and
// prints {"event": "final", "state", "statuses"} built from what the callbacks received.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	cattail "github.com/cattail/cattail/clients/go"
)

type config struct {
	URL           string `json:"url"`
	SyncerType    string `json:"syncerType"`
	ReadTimeoutMs int    `json:"readTimeoutMs"`
}

type recorder struct {
	mu       sync.Mutex
	state    map[string]interface{}
	statuses []string
}

var out = json.NewEncoder(os.Stdout)

func (r *recorder) OnStatusUpdated(s cattail.SyncStatus) {
	r.mu.Lock()
	r.statuses = append(r.statuses, string(s))
	r.mu.Unlock()
	print(map[string]interface{}{"event": "status", "status": string(s)})
}

func (r *recorder) OnUpdates(updates []cattail.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range updates {
		if u.Type == cattail.UpdateTypeDeleted {
			delete(r.state, u.Key)
		} else {
			r.state[u.Key] = u.Value
		}
	}
}

var printMu sync.Mutex

func print(v interface{}) {
	printMu.Lock()
	defer printMu.Unlock()
	if err := out.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "encoding output:", err)
	}
}

func main() {
	var cfg config
	if len(os.Args) < 2 || json.Unmarshal([]byte(os.Args[1]), &cfg) != nil {
		fmt.Fprintln(os.Stderr, "usage: conformance-adapter '<config JSON>'")
		os.Exit(2)
	}
	rec := &recorder{state: map[string]interface{}{}}
	client, err := cattail.New(cattail.Options{
		Servers:     []string{cfg.URL},
		SyncerType:  cfg.SyncerType,
		Hostname:    "conformance",
		Callbacks:   rec,
		ReadTimeout: time.Duration(cfg.ReadTimeoutMs) * time.Millisecond,
		Backoff:     cattail.BackoffOptions{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		OnError: func(e *cattail.Error) {
			print(map[string]interface{}{"event": "error", "code": string(e.Code), "message": e.Error()})
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := client.Run(ctx); err != nil {
			print(map[string]interface{}{"event": "stopped", "reason": "refused", "message": err.Error()})
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	print(map[string]interface{}{"event": "final", "state": rec.state, "statuses": rec.statuses})
}
