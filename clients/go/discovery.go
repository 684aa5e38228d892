package cattail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// KubernetesDiscovery finds the replicas from the EndpointSlices of the Service in front of
// them, through the Kubernetes REST API with the pod's service-account token (no client-go).
// The list is fetched before every attempt: ready endpoints only (an unset ready counts as
// ready, as the API defines), the named port only, this node's endpoints first, each group
// shuffled.
type KubernetesDiscovery struct {
	// ServiceName is the Service; its slices carry the label kubernetes.io/service-name. Required.
	ServiceName string
	// Namespace defaults to kube-system.
	Namespace string
	// PortName is the Service port's name; default cattail.
	PortName string
	// NodeName is this agent's node (e.g. from the downward API), so same-node replicas come first.
	NodeName string
	// APIServer is the API's base URL; default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
	APIServer string
	// TokenFile holds the bearer token, read before every request (tokens rotate); default the
	// service account's. An empty file sends no Authorization header.
	TokenFile string
	// CAFile verifies the API server; default the service account's ca.crt (when APIServer is https).
	CAFile string
	// RequestTimeout bounds each list; default 30 s.
	RequestTimeout time.Duration
}

type endpointSliceList struct {
	Items []struct {
		Ports []struct {
			Name *string `json:"name"`
			Port *int    `json:"port"`
		} `json:"ports"`
		Endpoints []struct {
			Addresses  []string `json:"addresses"`
			Conditions struct {
				Ready *bool `json:"ready"`
			} `json:"conditions"`
			NodeName *string `json:"nodeName"`
		} `json:"endpoints"`
	} `json:"items"`
}

type k8sLister struct {
	opts   KubernetesDiscovery
	http   *http.Client
	scheme string
	random *rand.Rand
}

func newK8sLister(o KubernetesDiscovery, secure bool, random *rand.Rand) (*k8sLister, error) {
	if o.ServiceName == "" {
		return nil, &Error{Code: CodeInvalidOptions, Reason: "Kubernetes.ServiceName is required"}
	}
	if o.Namespace == "" {
		o.Namespace = "kube-system"
	}
	if o.PortName == "" {
		o.PortName = "cattail"
	}
	if o.APIServer == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, &Error{Code: CodeInvalidOptions, Reason: "Kubernetes.APIServer is not set and KUBERNETES_SERVICE_HOST/PORT are not in the environment (not in a pod?)"}
		}
		o.APIServer = "https://" + net.JoinHostPort(host, port)
	}
	if o.TokenFile == "" {
		o.TokenFile = serviceAccountDir + "/token"
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 30 * time.Second
	}
	transport := &http.Transport{Proxy: nil}
	if strings.HasPrefix(o.APIServer, "https://") {
		caFile := o.CAFile
		if caFile == "" {
			caFile = serviceAccountDir + "/ca.crt"
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &Error{Code: CodeTLSConfig, Reason: "reading the Kubernetes CA", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Error{Code: CodeTLSConfig, Reason: caFile + " holds no PEM certificate"}
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	scheme := "ws"
	if secure {
		scheme = "wss"
	}
	return &k8sLister{opts: o, http: &http.Client{Transport: transport, Timeout: o.RequestTimeout}, scheme: scheme, random: random}, nil
}

func (l *k8sLister) describe() string {
	return fmt.Sprintf("kubernetes service %s/%s port %s", l.opts.Namespace, l.opts.ServiceName, l.opts.PortName)
}

// load lists the slices and returns the sync URLs, same-node first, each group shuffled.
func (l *k8sLister) load(ctx context.Context) ([]string, *Error) {
	u := strings.TrimRight(l.opts.APIServer, "/") + "/apis/discovery.k8s.io/v1/namespaces/" + url.PathEscape(l.opts.Namespace) +
		"/endpointslices?labelSelector=" + url.QueryEscape("kubernetes.io/service-name="+l.opts.ServiceName)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, l.fail("building the request", err)
	}
	token, err := os.ReadFile(l.opts.TokenFile)
	if err != nil {
		return nil, l.fail("reading the service-account token", err)
	}
	if t := strings.TrimSpace(string(token)); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, l.fail("listing EndpointSlices", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, l.fail("reading EndpointSlices", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, l.fail("listing EndpointSlices: HTTP "+strconv.Itoa(resp.StatusCode)+": "+truncate(strings.TrimSpace(string(body)), 200), nil)
	}
	var list endpointSliceList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, l.fail("decoding EndpointSlices", err)
	}
	var local, other []string
	seen := map[string]bool{}
	for _, s := range list.Items {
		port := 0
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == l.opts.PortName && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				addr := l.scheme + "://" + net.JoinHostPort(a, strconv.Itoa(port)) + "/sync"
				if seen[addr] {
					continue
				}
				seen[addr] = true
				if l.opts.NodeName != "" && e.NodeName != nil && *e.NodeName == l.opts.NodeName {
					local = append(local, addr)
				} else {
					other = append(other, addr)
				}
			}
		}
	}
	l.random.Shuffle(len(local), func(i, j int) { local[i], local[j] = local[j], local[i] })
	l.random.Shuffle(len(other), func(i, j int) { other[i], other[j] = other[j], other[i] })
	return append(local, other...), nil
}

func (l *k8sLister) fail(what string, err error) *Error {
	return &Error{Code: CodeDiscoveryFailed, Reason: l.describe() + ": " + what, Err: err}
}
