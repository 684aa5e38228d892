package cattail

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const slicesJSON = `{"kind":"EndpointSliceList","items":[
 {"ports":[{"name":"metrics","port":9098},{"name":"cattail","port":5473}],"endpoints":[
   {"addresses":["10.0.0.1"],"conditions":{"ready":true},"nodeName":"node-a"},
   {"addresses":["10.0.0.2"],"conditions":{"ready":false},"nodeName":"node-b"},
   {"addresses":["10.0.0.3"],"conditions":{},"nodeName":"node-b"},
   {"addresses":["fd00::4"],"nodeName":"node-c"}]},
 {"ports":[{"name":"other","port":1}],"endpoints":[{"addresses":["10.9.9.9"]}]}]}`

func k8sTestServer(t *testing.T, token string) (*httptest.Server, string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices" || r.URL.Query().Get("labelSelector") != "kubernetes.io/service-name=cattail" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(slicesJSON))
	}))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, tokenFile
}

func TestDiscoveryListsReadyEndpointsOfTheNamedPortWithThisNodesFirst(t *testing.T) {
	srv, tokenFile := k8sTestServer(t, "sa-token")
	defer srv.Close()
	l, err := newK8sLister(KubernetesDiscovery{ServiceName: "cattail", NodeName: "node-b", APIServer: srv.URL, TokenFile: tokenFile}, false, rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	addrs, derr := l.load(context.Background())
	if derr != nil {
		t.Fatal(derr)
	}
	if len(addrs) != 3 || addrs[0] != "ws://10.0.0.3:5473/sync" {
		t.Fatalf("want the ready same-node endpoint first, then the other ready ones; got %v", addrs)
	}
	rest := strings.Join(addrs[1:], " ")
	if !strings.Contains(rest, "ws://10.0.0.1:5473/sync") || !strings.Contains(rest, "ws://[fd00::4]:5473/sync") {
		t.Fatalf("got %v", addrs)
	}
}

func TestDiscoveryWithAWrongTokenIsADiscoveryFailureNamingTheStatus(t *testing.T) {
	srv, _ := k8sTestServer(t, "sa-token")
	defer srv.Close()
	bad := filepath.Join(t.TempDir(), "token")
	_ = os.WriteFile(bad, []byte("wrong"), 0o600)
	l, _ := newK8sLister(KubernetesDiscovery{ServiceName: "cattail", APIServer: srv.URL, TokenFile: bad}, false, rand.New(rand.NewSource(1)))
	_, derr := l.load(context.Background())
	if derr == nil || derr.Code != CodeDiscoveryFailed || !strings.Contains(derr.Error(), "HTTP 401") {
		t.Fatalf("%v", derr)
	}
}

func TestTheTriedSetSendsTheNextAttemptToAReplicaNotTriedYet(t *testing.T) {
	c := &Client{attempts: map[string]int{}, refused: map[string]*Error{}, k8s: &k8sLister{}}
	addrs := []string{"ws://a/sync", "ws://b/sync", "ws://c/sync"}
	var got []string
	for i := 0; i < 4; i++ {
		a := c.pickServer(addrs)
		c.attempts[a]++
		got = append(got, a)
	}
	if strings.Join(got, ",") != "ws://a/sync,ws://b/sync,ws://c/sync,ws://a/sync" {
		t.Fatalf("attempts went to %v", got)
	}
	c.refused["ws://b/sync"] = &Error{Code: CodeRefused}
	c.refused["ws://a/sync"] = &Error{Code: CodeRefused}
	c.refused["ws://c/sync"] = &Error{Code: CodeRefused}
	if a := c.pickServer(addrs); a != "" {
		t.Fatalf("every address refused, yet picked %s", a)
	}
}
