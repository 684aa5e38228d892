package cattail

import (
	"fmt"
	"strconv"
)

// ErrorCode is a stable identifier of what went wrong; match on it, not on messages.
type ErrorCode string

const (
	// CodeInvalidOptions: New was given options it cannot use.
	CodeInvalidOptions ErrorCode = "INVALID_OPTIONS"
	// CodeRefused: the server refused this client for good (close 4002/4003, HTTP 401/403).
	CodeRefused ErrorCode = "REFUSED"
	// CodeUnavailable: the server refused the upgrade for now (HTTP 429/503, close 4020/4021).
	CodeUnavailable ErrorCode = "UNAVAILABLE"
	// CodeDiscoveryFailed: the EndpointSlices could not be listed, or listed no ready replica.
	CodeDiscoveryFailed ErrorCode = "DISCOVERY_FAILED"
	// CodeConnectFailed: TCP, TLS or the HTTP upgrade failed.
	CodeConnectFailed ErrorCode = "CONNECT_FAILED"
	// CodeTLSUntrusted: the server's certificate does not chain to the configured CA.
	CodeTLSUntrusted ErrorCode = "TLS_UNTRUSTED"
	// CodeTLSNameMismatch: the server's certificate lacks the required CN / URI SAN (or host name).
	CodeTLSNameMismatch ErrorCode = "TLS_NAME_MISMATCH"
	// CodeTLSConfig: the TLS files could not be loaded.
	CodeTLSConfig ErrorCode = "TLS_CONFIG"
	// CodeHandshakeTimeout: no serverHello within HandshakeTimeout.
	CodeHandshakeTimeout ErrorCode = "HANDSHAKE_TIMEOUT"
	// CodeReadTimeout: no message within ReadTimeout; the connection is taken for dead.
	CodeReadTimeout ErrorCode = "READ_TIMEOUT"
	// CodeProtocol: the server sent something the protocol does not allow (garbage, a text
	// frame, a frame over MaxFrameBytes, a wrong syncer type).
	CodeProtocol ErrorCode = "PROTOCOL"
	// CodeServerClosed: the server closed the connection with a code that asks for a fix or
	// a fresh start (4000, 4001, 4009, 4010, 4012, ...), or the socket dropped.
	CodeServerClosed ErrorCode = "SERVER_CLOSED"
	// CodeHostCallback: an agent callback panicked; the client recovered and went on.
	CodeHostCallback ErrorCode = "HOST_CALLBACK"
)

// Error is every error the client reports.
type Error struct {
	Code ErrorCode
	// Server is the address the error concerns, when there is one.
	Server string
	// CloseCode is the WebSocket close code (1006 for a dropped socket), or the HTTP status of
	// a refused upgrade; 0 when neither applies.
	CloseCode int
	// Reason is the server's close reason or HTTP body, when there is one.
	Reason string
	// Err is the underlying error, when there is one.
	Err error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Server != "" {
		msg += " " + e.Server
	}
	if e.CloseCode != 0 {
		msg += " (" + strconv.Itoa(e.CloseCode) + ")"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func toString(v interface{}) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
