package cattail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// syncServer answers one hello with a one-key snapshot and in-sync, then stays quiet.
func syncServer(t *testing.T) http.Handler {
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
		send := func(v interface{}) { b, _ := msgpack.Marshal(v); _ = conn.WriteMessage(websocket.BinaryMessage, b) }
		send(map[string]interface{}{"type": "serverHello", "protocolVersion": 1, "syncerType": "felix", "serverInstanceId": "i1", "compression": nil})
		send(map[string]interface{}{"type": "kvs", "kvs": []interface{}{[]interface{}{"/calico/v1/Ready", "true", "1", 1}}})
		send(map[string]interface{}{"type": "snapshotEnd", "seq": 1, "keys": 1})
		if _, _, err := conn.ReadMessage(); err != nil { // the ack
			return
		}
		// A message type this client does not know, with a payload: ignored, not an error.
		send(map[string]interface{}{"type": "futureMessage", "payload": []interface{}{1, "two"}})
		send(map[string]interface{}{"type": "status", "status": "in-sync"})
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
}

type recording struct {
	mu       sync.Mutex
	statuses []SyncStatus
	updates  []Update
	panicOn  SyncStatus
	inSync   chan struct{}
}

func (r *recording) OnStatusUpdated(s SyncStatus) {
	r.mu.Lock()
	r.statuses = append(r.statuses, s)
	r.mu.Unlock()
	if s == InSync {
		close(r.inSync)
	}
	if s == r.panicOn {
		panic("agent bug")
	}
}

func (r *recording) OnUpdates(u []Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u...)
}

func runUntilInSync(t *testing.T, o Options, rec *recording) error {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-rec.inSync:
	case <-time.After(60 * time.Second):
		cancel()
		return errors.New("not in sync within 60 s")
	}
	cancel()
	return <-done
}

func TestRunDeliversTheSnapshotThenInSyncIgnoringAnUnknownMessageTypeAndReturnsNilOnCancellation(t *testing.T) {
	srv := httptest.NewServer(syncServer(t))
	defer srv.Close()
	rec := &recording{inSync: make(chan struct{}), panicOn: InSync}
	var reported []*Error
	var mu sync.Mutex
	o := Options{Servers: []string{strings.Replace(srv.URL, "http", "ws", 1)}, Callbacks: rec, OnError: func(e *Error) { mu.Lock(); reported = append(reported, e); mu.Unlock() }}
	if err := runUntilInSync(t, o, rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rec.updates) != 1 || rec.updates[0].Value != "true" || rec.updates[0].Type != UpdateTypeNew {
		t.Fatalf("updates %+v", rec.updates)
	}
	if want := []SyncStatus{ResyncInProgress, InSync}; len(rec.statuses) != 2 || rec.statuses[0] != want[0] || rec.statuses[1] != want[1] {
		t.Fatalf("statuses %v", rec.statuses)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || reported[0].Code != CodeHostCallback {
		t.Fatalf("the panicking callback, and nothing else, must be reported (HOST_CALLBACK); got %v", reported)
	}
}

func TestTLSChecksTheServerCommonNameInsteadOfTheAddress(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "cattail-server"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, _ := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(syncServer(t))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}
	srv.StartTLS()
	defer srv.Close()
	addr := strings.Replace(srv.URL, "https", "wss", 1)

	rec := &recording{inSync: make(chan struct{})}
	if err := runUntilInSync(t, Options{Servers: []string{addr}, Callbacks: rec, TLS: &TLSOptions{CAFile: caFile, ServerCommonName: "cattail-server"}}, rec); err != nil {
		t.Fatalf("the right CN: %v", err)
	}

	errs := make(chan *Error, 10)
	c, err := New(Options{Servers: []string{addr}, Callbacks: &recording{inSync: make(chan struct{})}, TLS: &TLSOptions{CAFile: caFile, ServerCommonName: "someone-else"}, OnError: func(e *Error) { errs <- e }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = c.Run(ctx) }()
	defer cancel()
	select {
	case e := <-errs:
		if e.Code != CodeTLSNameMismatch || !errors.Is(e, errServerIdentity) {
			t.Fatalf("a wrong CN must fail the connection as an identity mismatch, got %v", e)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no error within 60 s")
	}

	// A CA that did not sign the server's certificate: untrusted, whatever the name.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &otherKey.PublicKey, otherKey)
	otherFile := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []*TLSOptions{{CAFile: otherFile, ServerCommonName: "cattail-server"}} {
		untrusted := make(chan *Error, 10)
		c, err := New(Options{Servers: []string{addr}, Callbacks: &recording{inSync: make(chan struct{})}, TLS: opts, OnError: func(e *Error) { untrusted <- e }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = c.Run(ctx) }()
		select {
		case e := <-untrusted:
			if e.Code != CodeTLSUntrusted {
				t.Fatalf("a server certificate from another CA (CN check %q) must be TLS_UNTRUSTED, got %v", opts.ServerCommonName, e)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("no error within 60 s")
		}
		cancel()
	}
}
