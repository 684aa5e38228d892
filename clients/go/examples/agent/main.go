// Command agent is a minimal node agent on the Cattail Go client: it keeps the model of one
// syncer type in a map, logs what changes, and with -dump prints the whole model as JSON once
// in sync and exits.
//
//	go run ./examples/agent -server 127.0.0.1:5473 -syncer felix -dump
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	cattail "github.com/cattail/cattail/clients/go"
)

// agent is what a real agent's callbacks look like: apply updates to its own model, act on
// the status (program the dataplane, report ready) only at in-sync.
type agent struct {
	model  map[string]interface{}
	dump   bool
	cancel context.CancelFunc
}

func (a *agent) OnUpdates(updates []cattail.Update) {
	for _, u := range updates {
		if u.Type == cattail.UpdateTypeDeleted {
			delete(a.model, u.Key)
		} else {
			a.model[u.Key] = u.Value
		}
		if !a.dump {
			log.Printf("%s %s (revision %q)", u.Type, u.Key, u.Revision)
		}
	}
}

func (a *agent) OnStatusUpdated(s cattail.SyncStatus) {
	if !a.dump {
		log.Printf("status %s, %d keys", s, len(a.model))
		return
	}
	if s == cattail.InSync {
		out, err := json.MarshalIndent(a.model, "", "  ") // map keys come out sorted
		if err != nil {
			log.Fatalf("encoding the model: %v", err)
		}
		fmt.Println(string(out))
		a.cancel()
	}
}

func main() {
	servers := flag.String("server", "127.0.0.1:5473", "comma-separated server addresses (host:port, ws:// or wss://)")
	syncer := flag.String("syncer", "felix", "syncer type: felix, bgp, tunnel-ip-allocation or node-status")
	dump := flag.Bool("dump", false, "print the model as JSON once in sync, then exit")
	dumpTimeout := flag.Duration("dump-timeout", time.Minute, "with -dump: give up (exit 5) when not in sync by then")
	ca := flag.String("ca", "", "CA file: connect with TLS")
	cert := flag.String("cert", "", "client certificate file (mTLS)")
	key := flag.String("key", "", "client key file (mTLS)")
	serverCN := flag.String("server-cn", "", "require this server certificate Common Name")
	serverURISAN := flag.String("server-uri-san", "", "require this server certificate URI SAN")
	verbose := flag.Bool("v", false, "log the client's debug records")
	k8sService := flag.String("k8s-service", "", "discover the replicas from this Service's EndpointSlices (instead of -server)")
	k8sNamespace := flag.String("k8s-namespace", "kube-system", "the Service's namespace")
	k8sPort := flag.String("k8s-port-name", "cattail", "the Service port's name")
	k8sAPI := flag.String("k8s-api", "", "Kubernetes API base URL (default: in-cluster)")
	k8sToken := flag.String("k8s-token-file", "", "bearer token file (default: the service account's)")
	k8sCA := flag.String("k8s-ca", "", "Kubernetes API CA file (default: the service account's)")
	node := flag.String("node", os.Getenv("NODE_NAME"), "this node's name: same-node replicas are tried first")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	a := &agent{model: map[string]interface{}{}, dump: *dump, cancel: cancel}
	opts := cattail.Options{
		Servers:    strings.Split(*servers, ","),
		SyncerType: *syncer,
		Callbacks:  a,
		Logger:     cattail.StdLogger(log.New(os.Stderr, "cattail ", log.LstdFlags), levelFor(*verbose)),
	}
	if *k8sService != "" {
		opts.Servers = nil
		opts.Kubernetes = &cattail.KubernetesDiscovery{ServiceName: *k8sService, Namespace: *k8sNamespace, PortName: *k8sPort, NodeName: *node, APIServer: *k8sAPI, TokenFile: *k8sToken, CAFile: *k8sCA}
	}
	if *ca != "" || *cert != "" {
		opts.TLS = &cattail.TLSOptions{CAFile: *ca, CertFile: *cert, KeyFile: *key, ServerCommonName: *serverCN, ServerURISAN: *serverURISAN}
	}
	client, err := cattail.New(opts)
	if err != nil {
		log.Printf("%v", err)
		os.Exit(64)
	}
	if *dump {
		timer := time.AfterFunc(*dumpTimeout, func() {
			log.Printf("not in sync within %s (%d keys)", *dumpTimeout, len(a.model))
			os.Exit(5)
		})
		defer timer.Stop()
	}
	if err := client.Run(ctx); err != nil {
		log.Printf("stopped: %v", err)
		os.Exit(2)
	}
}

func levelFor(verbose bool) cattail.LogLevel {
	if verbose {
		return cattail.LevelDebug
	}
	return cattail.LevelInfo
}
