package cattail

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"
)

// Client keeps one syncer type's data flowing to the agent's callbacks, across reconnects and
// replicas. Create it with New and run it with Run.
type Client struct {
	opts    resolvedOptions
	tls     *tls.Config
	view    *hostView
	backoff backoff
	// attempts counts connection attempts per address across connections, so a client shed by
	// one replica goes to one it has tried less (the tried-set).
	attempts map[string]int
	// refused holds the addresses that refused this client for good (4002/4003, HTTP 401/403).
	refused  map[string]*Error
	connSeq  int
	connBase string
	// k8s is set when the replicas come from EndpointSlices.
	k8s *k8sLister
}

// New checks the options and builds a Client; the only error it returns has CodeInvalidOptions
// or CodeTLSConfig.
func New(o Options) (*Client, error) {
	r, err := resolveOptions(o)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := buildTLSConfig(r.TLS)
	if err != nil {
		return nil, err
	}
	var k8s *k8sLister
	if r.Kubernetes != nil {
		if k8s, err = newK8sLister(*r.Kubernetes, r.TLS != nil, r.Random); err != nil {
			return nil, err
		}
	}
	return &Client{
		k8s:      k8s,
		opts:     r,
		tls:      tlsCfg,
		view:     newHostView(),
		backoff:  backoff{opts: r.Backoff, random: r.Random},
		attempts: map[string]int{},
		refused:  map[string]*Error{},
		connBase: fmt.Sprintf("%08x", r.Random.Uint32()),
	}, nil
}

// Run connects and reconnects until ctx is cancelled (it then returns nil) or every server has
// refused this client for good (it returns that *Error, CodeRefused). Callbacks are called
// from Run's goroutine. A panic in a callback is recovered and reported (CodeHostCallback);
// Run itself never panics into the host.
func (c *Client) Run(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Code: CodeProtocol, Reason: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	for ctx.Err() == nil {
		addrs, derr := c.addresses(ctx)
		if derr != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.report(derr)
			if !c.sleep(ctx, c.backoff.next()) {
				return nil
			}
			continue
		}
		addr := c.pickServer(addrs)
		if addr == "" {
			var last *Error
			for _, e := range c.refused {
				last = e
			}
			return last
		}
		c.attempts[addr]++
		c.connSeq++
		out := c.runSession(ctx, addr, fmt.Sprintf("%s-%d", c.connBase, c.connSeq))
		if ctx.Err() != nil {
			return nil
		}
		if out.err != nil {
			c.report(out.err)
			if out.err.Code == CodeRefused {
				c.refused[addr] = out.err
				continue
			}
		}
		if out.streamed {
			c.backoff.reset()
		}
		if !c.sleep(ctx, c.backoff.next()) {
			return nil
		}
	}
	return nil
}

// sleep waits d; false when ctx ended first.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	c.opts.Logger.Log(LevelDebug, "reconnecting", "delayMs", d.Milliseconds())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// addresses is the static list, or the replicas discovered right now.
func (c *Client) addresses(ctx context.Context) ([]string, *Error) {
	if c.k8s == nil {
		return c.opts.servers, nil
	}
	addrs, err := c.k8s.load(ctx)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, c.k8s.fail("no ready endpoint with port "+c.k8s.opts.PortName, nil)
	}
	return addrs, nil
}

// pickServer chooses the least-tried address that has not refused this client: for a static
// list ties are broken at random, for a discovered list (same-node first, groups shuffled) the
// first in its order wins. "" when every address refused.
func (c *Client) pickServer(addrs []string) string {
	best := ""
	bestN, ties := 0, 0
	for _, s := range addrs {
		if c.refused[s] != nil {
			continue
		}
		n := c.attempts[s]
		switch {
		case best == "" || n < bestN:
			best, bestN, ties = s, n, 1
		case n == bestN && c.k8s == nil:
			ties++
			if c.opts.Random.Intn(ties) == 0 {
				best = s
			}
		}
	}
	return best
}

func (c *Client) report(e *Error) {
	level := LevelWarn
	if e.Code == CodeUnavailable {
		level = LevelInfo
	}
	c.opts.Logger.Log(level, "connection ended", "code", string(e.Code), "server", e.Server, "closeCode", e.CloseCode, "reason", e.Reason, "error", e.Err)
	if c.opts.OnError != nil {
		c.safeCall(func() { c.opts.OnError(e) })
	}
}

// safeCall runs a host callback, turning a panic into a reported error.
func (c *Client) safeCall(f func()) {
	defer func() {
		if p := recover(); p != nil {
			e := &Error{Code: CodeHostCallback, Reason: fmt.Sprint(p)}
			c.opts.Logger.Log(LevelError, "agent callback panicked", "panic", e.Reason)
			if c.opts.OnError != nil {
				func() {
					defer func() { _ = recover() }()
					c.opts.OnError(e)
				}()
			}
		}
	}()
	f()
}

func (c *Client) deliverStatus(s SyncStatus) {
	c.safeCall(func() { c.opts.Callbacks.OnStatusUpdated(s) })
}

func (c *Client) deliverUpdates(updates []Update) {
	for len(updates) > 0 {
		n := len(updates)
		if n > c.opts.MaxBatchSize {
			n = c.opts.MaxBatchSize
		}
		batch := updates[:n]
		updates = updates[n:]
		c.safeCall(func() { c.opts.Callbacks.OnUpdates(batch) })
	}
}
