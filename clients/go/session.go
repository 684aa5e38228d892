package cattail

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type sessionOutcome struct {
	// streamed: the connection got as far as snapshotEnd (the backoff starts over).
	streamed bool
	err      *Error
}

// runSession runs one connection to addr through the client states of PROTOCOL.md §10.1.
func (c *Client) runSession(ctx context.Context, addr, connID string) (out sessionOutcome) {
	dialer := websocket.Dialer{
		HandshakeTimeout:  c.opts.ConnectTimeout,
		TLSClientConfig:   c.tls,
		EnableCompression: false, // permessage-deflate is off (§1)
		Proxy:             nil,
	}
	dialCtx, cancelDial := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	conn, resp, err := dialer.DialContext(dialCtx, addr, nil)
	cancelDial()
	if err != nil {
		return sessionOutcome{err: dialError(addr, resp, err)}
	}
	defer conn.Close()
	conn.SetReadLimit(c.opts.MaxFrameBytes)
	log := c.opts.Logger
	log.Log(LevelDebug, "connected", "server", addr, "clientConnId", connID)

	var writeMu sync.Mutex
	write := func(frame []byte) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		return conn.WriteMessage(websocket.BinaryMessage, frame)
	}
	closeWith := func(code int, reason string) {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
	// Cancellation closes the socket, which ends the blocked read below.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			closeWith(websocket.CloseNormalClosure, "client closing")
			_ = conn.Close()
		case <-done:
		}
	}()

	var offered []string
	if !c.opts.DisableCompression {
		offered = []string{compressionZstd}
	}
	hello, err := encodeHello(c.opts.SyncerType, c.opts.Hostname, c.opts.ClientInfo, connID, offered)
	if err == nil {
		err = write(hello)
	}
	if err != nil {
		return sessionOutcome{err: &Error{Code: CodeConnectFailed, Server: addr, Reason: "sending hello", Err: err}}
	}

	gotHello := false
	defer func() {
		// Step 7.2: a connection that had its serverHello ended, for any reason. The agent is
		// told only when the client goes on (not when Run is being cancelled).
		if gotHello && c.view.connectionLost() && ctx.Err() == nil {
			c.deliverStatus(WaitForDatastore)
		}
	}()
	// failClosing ends the session with a protocol error, closing with closeCode.
	failClosing := func(closeCode int, reason string) sessionOutcome {
		closeWith(closeCode, truncate(reason, 120))
		out.err = &Error{Code: CodeProtocol, Server: addr, Reason: reason}
		return out
	}
	fail := func(code ErrorCode, reason string, err error) sessionOutcome {
		if code == CodeProtocol {
			closeWith(websocket.CloseProtocolError, truncate(reason, 120))
		}
		out.err = &Error{Code: code, Server: addr, Reason: reason, Err: err}
		return out
	}
	// decompressor is set once the serverHello chose zstd (§7.1).
	var decompressor *frameDecompressor
	defer func() {
		if decompressor != nil {
			decompressor.close()
		}
	}()
	for {
		timeout := c.opts.ReadTimeout
		if !gotHello {
			timeout = c.opts.HandshakeTimeout
		}
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		kind, frame, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return out
			}
			out.err = readError(addr, err, gotHello)
			return out
		}
		if kind != websocket.BinaryMessage {
			return fail(CodeProtocol, "the server sent a text frame", nil)
		}
		if isCompressedFrame(frame) {
			if decompressor == nil {
				return failClosing(closeBadFrame, "a compressed frame on a connection that did not negotiate compression")
			}
			plain, ferr := decompressor.decompress(frame)
			if ferr != nil {
				return failClosing(ferr.closeCode, ferr.reason)
			}
			frame = plain
		}
		msg, err := decodeServerMessage(frame)
		if err != nil {
			return fail(CodeProtocol, "undecodable server frame: "+err.Error(), nil)
		}
		if !gotHello {
			if msg.Type != "serverHello" {
				return fail(CodeProtocol, "first server message is "+msg.Type+", not serverHello", nil)
			}
			if msg.ProtocolVersion != protocolVersion {
				return fail(CodeProtocol, fmt.Sprintf("server speaks protocol version %d, this client %d", msg.ProtocolVersion, protocolVersion), nil)
			}
			if msg.Compression != "" {
				if msg.Compression != compressionZstd || c.opts.DisableCompression {
					return failClosing(closeNotOffered, "server chose compression "+msg.Compression+", which this client did not offer")
				}
				if decompressor, err = newFrameDecompressor(c.opts.MaxFrameBytes); err != nil {
					return fail(CodeProtocol, "starting the zstd decoder", err)
				}
			}
			if msg.SyncerType != c.opts.SyncerType {
				return fail(CodeProtocol, "serverHello names syncer type "+msg.SyncerType+", not "+c.opts.SyncerType, nil)
			}
			gotHello = true
			log.Log(LevelInfo, "server answered", "server", addr, "serverInstanceId", msg.ServerInstanceID, "serverVersion", msg.ServerVersion, "connectionId", msg.ConnectionID, "clientConnId", connID, "compression", compressionName(msg.Compression))
			if c.view.connectionStarted() {
				c.deliverStatus(ResyncInProgress)
			}
			continue
		}
		switch msg.Type {
		case "serverHello":
			return fail(CodeProtocol, "a second serverHello", nil)
		case "kvs":
			if updates := c.view.apply(msg.KVs); len(updates) > 0 {
				c.deliverUpdates(updates)
			}
		case "snapshotEnd":
			if out.streamed {
				return fail(CodeProtocol, "a second snapshotEnd", nil)
			}
			out.streamed = true
			ack, err := encodeAck()
			if err == nil {
				err = write(ack)
			}
			if err != nil {
				return fail(CodeConnectFailed, "sending ack", err)
			}
			log.Log(LevelDebug, "snapshot received", "seq", msg.Seq, "keys", msg.Keys)
		case "status":
			// A status inside the snapshot could say in-sync before the snapshot's own keys
			// arrived, and the resync rule would then delete them.
			if !out.streamed {
				return fail(CodeProtocol, "status before snapshotEnd", nil)
			}
			s, ok := parseStatus(msg.Status)
			if !ok {
				return fail(CodeProtocol, "unknown status "+msg.Status, nil)
			}
			deletions, report := c.view.serverStatus(s)
			if len(deletions) > 0 {
				c.deliverUpdates(deletions)
			}
			if report {
				c.deliverStatus(s)
			}
		case "ping":
			pong, err := encodePong(msg.Timestamp)
			if err == nil {
				err = write(pong)
			}
			if err != nil {
				return fail(CodeConnectFailed, "sending pong", err)
			}
		default:
			// A message type this client never asked for (§7): ignored, so a newer server's
			// additions cannot cut the stream.
			log.Log(LevelDebug, "ignoring unknown message type", "type", msg.Type)
		}
	}
}

func dialError(addr string, resp *http.Response, err error) *Error {
	if resp != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		_ = resp.Body.Close()
		e := &Error{Code: CodeConnectFailed, Server: addr, CloseCode: resp.StatusCode, Reason: strings.TrimSpace(string(body)), Err: err}
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.Code = CodeRefused
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			e.Code = CodeUnavailable
		}
		return e
	}
	code := CodeConnectFailed
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.Is(err, errServerIdentity) || errors.As(err, &hostname):
		code = CodeTLSNameMismatch
	case errors.As(err, &unknownCA):
		code = CodeTLSUntrusted
	}
	return &Error{Code: code, Server: addr, Err: err}
}

func readError(addr string, err error, gotHello bool) *Error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		e := &Error{Code: CodeServerClosed, Server: addr, CloseCode: ce.Code, Reason: ce.Text}
		switch ce.Code {
		case 4002, 4003:
			e.Code = CodeRefused
		case 4020, 4021, websocket.CloseNormalClosure, websocket.CloseGoingAway:
			e.Code = CodeUnavailable
		}
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if !gotHello {
			return &Error{Code: CodeHandshakeTimeout, Server: addr, Err: err}
		}
		return &Error{Code: CodeReadTimeout, Server: addr, Err: err}
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return &Error{Code: CodeProtocol, Server: addr, Reason: "server frame over MaxFrameBytes", Err: err}
	}
	return &Error{Code: CodeServerClosed, Server: addr, CloseCode: websocket.CloseAbnormalClosure, Err: err}
}

// compressionName is the serverHello's choice as logged: "none" for plain frames.
func compressionName(chosen string) string {
	if chosen == "" {
		return "none"
	}
	return chosen
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
