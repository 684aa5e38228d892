package cattail

import (
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"strings"
	"time"
)

// LargestServerFrameBytes is the largest frame a server with the default --max-value-bytes
// (2 MiB) sends: 2,097,152 + 65,553 (PROTOCOL.md §1, "Frame sizes").
const LargestServerFrameBytes = 2_162_705

// Options configures a Client. Zero values take the defaults documented on each field.
type Options struct {
	// Servers is the static address list: "host:port", "ws://host:port" or "wss://host:port"
	// (path /sync and port 5473 are added when missing). Exactly one of Servers and Kubernetes.
	Servers []string
	// Kubernetes discovers the replicas from a Service's EndpointSlices before every attempt.
	Kubernetes *KubernetesDiscovery
	// SyncerType is felix (default), bgp, tunnel-ip-allocation or node-status.
	SyncerType string
	// Hostname is sent in the hello; default os.Hostname().
	Hostname string
	// ClientInfo is free text for the server's logs.
	ClientInfo string
	// Callbacks receives the data. Required.
	Callbacks SyncerCallbacks
	// OnError, when set, is told every error the client recovers from (it keeps running).
	OnError func(*Error)
	// Logger receives structured records; default none.
	Logger Logger
	// TLS enables wss:// with a CA, a client certificate and optional server name checks.
	TLS *TLSOptions
	// ConnectTimeout bounds TCP + TLS + HTTP upgrade; default 10 s.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the wait for serverHello after the upgrade; default 10 s.
	HandshakeTimeout time.Duration
	// ReadTimeout is the silence after which the connection is taken for dead (about three
	// missed 10 s pings); default 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write; default 10 s.
	WriteTimeout time.Duration
	// MaxFrameBytes is the largest server frame accepted; default LargestServerFrameBytes.
	MaxFrameBytes int64
	// DisableCompression stops the hello offering zstd (PROTOCOL.md §7.1), so every server
	// frame arrives plain; by default the client offers it and decodes what the server sends.
	DisableCompression bool
	// MaxBatchSize is the most updates per OnUpdates call; default 100.
	MaxBatchSize int
	// Backoff is the delay between failed attempts; zero fields take its defaults.
	Backoff BackoffOptions
	// Random drives jitter and shuffling; default a time-seeded source.
	Random *rand.Rand
}

type resolvedOptions struct {
	Options
	servers []string
}

func resolveOptions(o Options) (resolvedOptions, error) {
	var problems []string
	r := resolvedOptions{Options: o}
	if (len(o.Servers) == 0) == (o.Kubernetes == nil) {
		problems = append(problems, "set exactly one of Servers (at least one address) and Kubernetes")
	}
	for _, s := range o.Servers {
		u, err := normaliseServer(s, o.TLS != nil)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r.servers = append(r.servers, u)
	}
	if o.Callbacks == nil {
		problems = append(problems, "Callbacks is required")
	}
	if r.SyncerType == "" {
		r.SyncerType = "felix"
	}
	if r.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown"
		}
		r.Hostname = h
	}
	if len(r.Hostname) > 253 {
		problems = append(problems, "Hostname is over 253 bytes")
	}
	if r.ClientInfo == "" {
		r.ClientInfo = "cattail go client " + Version
	}
	if len(r.ClientInfo) > 1024 {
		problems = append(problems, "ClientInfo is over 1024 bytes")
	}
	if r.Logger == nil {
		r.Logger = nopLogger{}
	}
	r.ConnectTimeout = orDefault(r.ConnectTimeout, 10*time.Second)
	r.HandshakeTimeout = orDefault(r.HandshakeTimeout, 10*time.Second)
	r.ReadTimeout = orDefault(r.ReadTimeout, 30*time.Second)
	r.WriteTimeout = orDefault(r.WriteTimeout, 10*time.Second)
	if r.MaxFrameBytes == 0 {
		r.MaxFrameBytes = LargestServerFrameBytes
	}
	if r.MaxBatchSize == 0 {
		r.MaxBatchSize = 100
	}
	if r.ConnectTimeout < 0 || r.HandshakeTimeout < 0 || r.ReadTimeout < 0 || r.WriteTimeout < 0 || r.MaxFrameBytes < 0 || r.MaxBatchSize < 0 {
		problems = append(problems, "timeouts, MaxFrameBytes and MaxBatchSize must not be negative")
	}
	b, err := r.Backoff.resolve()
	if err != nil {
		problems = append(problems, err.Error())
	}
	r.Backoff = b
	if r.Random == nil {
		r.Random = rand.New(rand.NewSource(time.Now().UnixNano()))
	}
	if len(problems) > 0 {
		return r, &Error{Code: CodeInvalidOptions, Reason: strings.Join(problems, "; ")}
	}
	return r, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// normaliseServer turns "host", "host:port" or a ws(s) URL into a full ws(s)://host:port/sync URL.
func normaliseServer(s string, tls bool) (string, error) {
	raw := strings.TrimSpace(s)
	if !strings.Contains(raw, "://") {
		scheme := "ws://"
		if tls {
			scheme = "wss://"
		}
		raw = scheme + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q is not host:port or a ws:// or wss:// URL", s)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("server %q: scheme must be ws or wss", s)
	}
	if tls && u.Scheme != "wss" {
		return "", fmt.Errorf("server %q: TLS is configured, so the scheme must be wss", s)
	}
	if u.Port() == "" {
		u.Host += ":5473"
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/sync"
	}
	return u.String(), nil
}
