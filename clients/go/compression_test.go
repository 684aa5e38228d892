package cattail

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// The test vectors of PROTOCOL.md §7.1: a kvs frame of two WorkloadEndpoints, plain (297
// bytes) and as the server compresses it (166 bytes).
const (
	vectorPlainHex = "82a474797065a36b7673a36b76739294d93e2f63616c69636f2f76312f686f73742f6e6f64652d312f776f726b6c6f61642f6b38732f6e732d312532667765622d302f656e64706f696e742f65746830de0004a57374617465a6616374697665a46e616d65a465746830ab70726f66696c655f69647391a86b6e732e6e732d31a9697076345f6e65747391ab31302e302e302e312f3332a33130300194d93e2f63616c69636f2f76312f686f73742f6e6f64652d312f776f726b6c6f61642f6b38732f6e732d312532667765622d312f656e64706f696e742f65746830de0004a57374617465a6616374697665a46e616d65a465746830ab70726f66696c655f69647391a86b6e732e6e732d31a9697076345f6e65747391ab31302e302e302e322f3332a331303101"
	vectorZstdHex  = "28b52ffd602900e5040042092227a0b5396855f508facfff6c0d130db6ca92844a492b1d019242c8fef7c936bb93a48cffc10a6901c82a8b30b69362d04dd856923ff77298f20decf24ebca180e4ee2dfcbc2642b2a278d19ae2f99e6901fced1d80302860ceb37ebf285db3b2a5e0a8510abbbcd511505d8b0f8462a4bbd8c5d6f7e8e84e8dcc7b1aa3098287c3279c58329e6a040600601007f40e31719ab3c77a9ad9725d"
)

func vectors(t *testing.T) (plain, compressed []byte) {
	t.Helper()
	plain, err := hex.DecodeString(vectorPlainHex)
	if err != nil {
		t.Fatal(err)
	}
	compressed, err = hex.DecodeString(vectorZstdHex)
	if err != nil {
		t.Fatal(err)
	}
	return plain, compressed
}

func decompressor(t *testing.T, maxBytes int64) *frameDecompressor {
	t.Helper()
	d, err := newFrameDecompressor(maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

func TestTheProtocolTestVectorDecompressesToItsPlainFrameAndDecodes(t *testing.T) {
	plain, compressed := vectors(t)
	if len(plain) != 297 || len(compressed) != 166 || !isCompressedFrame(compressed) || isCompressedFrame(plain) {
		t.Fatalf("vector sizes %d and %d", len(plain), len(compressed))
	}
	got, ferr := decompressor(t, LargestServerFrameBytes).decompress(compressed)
	if ferr != nil {
		t.Fatal(ferr)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("decoded %x", got)
	}
	msg, err := decodeServerMessage(got)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != "kvs" || len(msg.KVs) != 2 || msg.KVs[1].Key != "/calico/v1/host/node-1/workload/k8s/ns-1%2fweb-1/endpoint/eth0" || msg.KVs[1].Revision != "101" {
		t.Fatalf("%+v", msg)
	}
}

func TestAFrameExactlyAtTheLimitDecodesAndOneByteOverIsMessageTooBig(t *testing.T) {
	plain, compressed := vectors(t)
	if _, ferr := decompressor(t, int64(len(plain))).decompress(compressed); ferr != nil {
		t.Fatalf("at the limit: %v", ferr)
	}
	_, ferr := decompressor(t, int64(len(plain)-1)).decompress(compressed)
	if ferr == nil || ferr.closeCode != 1009 {
		t.Fatalf("over the limit: %v", ferr)
	}
}

func TestTwoZstdFramesInOneMessageAreABadFrame(t *testing.T) {
	_, compressed := vectors(t)
	_, ferr := decompressor(t, LargestServerFrameBytes).decompress(append(append([]byte{}, compressed...), compressed...))
	if ferr == nil || ferr.closeCode != 4001 {
		t.Fatalf("%v", ferr)
	}
}

// rawFrame is a zstd frame holding content as one raw block after the given header bytes.
func rawFrame(header []byte, content []byte) []byte {
	bh := 1 | len(content)<<3 // last block, raw
	f := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, header...)
	f = append(f, byte(bh), byte(bh>>8), byte(bh>>16))
	return append(f, content...)
}

func TestAHandBuiltFrameWithItsContentSizeDecodes(t *testing.T) {
	content := []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'}
	got, ferr := decompressor(t, LargestServerFrameBytes).decompress(rawFrame([]byte{0x20, byte(len(content))}, content))
	if ferr != nil || !bytes.Equal(got, content) {
		t.Fatalf("%x %v", got, ferr)
	}
}

func TestAFrameWithoutItsContentSizeADictionaryOrTruncatedIsABadFrame(t *testing.T) {
	content := []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'}
	_, compressed := vectors(t)
	for name, frame := range map[string][]byte{
		"no content size": rawFrame([]byte{0x00, 0x00}, content),
		"a dictionary":    rawFrame([]byte{0x21, 0x07, byte(len(content))}, content),
		"truncated":       compressed[:len(compressed)-1],
		"header only":     compressed[:5],
	} {
		if _, ferr := decompressor(t, LargestServerFrameBytes).decompress(frame); ferr == nil || ferr.closeCode != 4001 {
			t.Errorf("%s: %v", name, ferr)
		}
	}
}

func TestAFrameWhoseBlocksHoldMoreThanItDeclaresIsABadFrame(t *testing.T) {
	// Declares 11 bytes (within the 1,500-byte limit), then holds 2,000 in two raw blocks of
	// 1,000 (a block is at most the 1 KiB window).
	block := bytes.Repeat([]byte{0x01}, 1000)
	first := rawFrame([]byte{0x20, 11}, block)
	first[6] &^= 1              // not the last block
	second := 1 | len(block)<<3 // last, raw
	_, ferr := decompressor(t, 1500).decompress(append(append(first, byte(second), byte(second>>8), byte(second>>16)), block...))
	if ferr == nil || ferr.closeCode != 4001 {
		t.Fatalf("%v", ferr)
	}
}

// zstdServer answers a hello with a serverHello choosing `chosen` (nil for none) and the
// test vector's kvs frame compressed, then snapshotEnd and in-sync; it reports the hello's
// capabilities and the close code the client sends.
func zstdServer(t *testing.T, chosen interface{}, hello chan<- map[string]interface{}, closed chan<- int) http.Handler {
	_, compressed := vectors(t)
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var h map[string]interface{}
		_ = msgpack.Unmarshal(frame, &h)
		caps, _ := h["capabilities"].(map[string]interface{})
		hello <- caps
		send := func(v interface{}) { b, _ := msgpack.Marshal(v); _ = conn.WriteMessage(websocket.BinaryMessage, b) }
		send(map[string]interface{}{"type": "serverHello", "protocolVersion": 1, "syncerType": "felix", "serverInstanceId": "i1", "compression": chosen})
		_ = conn.WriteMessage(websocket.BinaryMessage, compressed)
		send(map[string]interface{}{"type": "snapshotEnd", "seq": 1, "keys": 2})
		for {
			if _, frame, err = conn.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				}
				return
			}
			var m map[string]interface{}
			if msgpack.Unmarshal(frame, &m) == nil && m["type"] == "ack" {
				send(map[string]interface{}{"type": "status", "status": "in-sync"})
			}
		}
	})
}

func TestTheClientOffersZstdAndAppliesACompressedSnapshotWhenTheServerChoosesIt(t *testing.T) {
	hello, closed := make(chan map[string]interface{}, 10), make(chan int, 10)
	srv := httptest.NewServer(zstdServer(t, "zstd", hello, closed))
	defer srv.Close()
	rec := &recording{inSync: make(chan struct{})}
	if err := runUntilInSync(t, Options{Servers: []string{strings.Replace(srv.URL, "http", "ws", 1)}, Callbacks: rec}, rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	caps := <-hello
	if list, _ := caps["compression"].([]interface{}); len(list) != 1 || list[0] != "zstd" {
		t.Fatalf("hello capabilities %v", caps)
	}
	if len(rec.updates) != 2 || rec.updates[0].Key != "/calico/v1/host/node-1/workload/k8s/ns-1%2fweb-0/endpoint/eth0" {
		t.Fatalf("updates %+v", rec.updates)
	}
	v, _ := rec.updates[1].Value.(map[string]interface{})
	if nets, _ := v["ipv4_nets"].([]interface{}); len(nets) != 1 || nets[0] != "10.0.0.2/32" {
		t.Fatalf("value %v", rec.updates[1].Value)
	}
}

// firstFailure runs a client against handler until it reports an error, and returns it.
func firstFailure(t *testing.T, handler http.Handler, o Options) *Error {
	t.Helper()
	srv := httptest.NewServer(handler)
	defer srv.Close()
	errs := make(chan *Error, 10)
	o.Servers = []string{strings.Replace(srv.URL, "http", "ws", 1)}
	o.Callbacks = &recording{inSync: make(chan struct{})}
	o.OnError = func(e *Error) {
		select {
		case errs <- e:
		default:
		}
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case e := <-errs:
		return e
	case <-time.After(60 * time.Second):
		t.Fatal("no error within 60 s")
		return nil
	}
}

func TestACompressedFrameOnAPlainConnectionIsClosedWith4001(t *testing.T) {
	hello, closed := make(chan map[string]interface{}, 10), make(chan int, 10)
	e := firstFailure(t, zstdServer(t, nil, hello, closed), Options{})
	if e.Code != CodeProtocol || !strings.Contains(e.Reason, "did not negotiate compression") {
		t.Fatalf("%v", e)
	}
	if code := <-closed; code != 4001 {
		t.Fatalf("closed with %d", code)
	}
}

func TestWithCompressionDisabledTheHelloOffersNoneAndAServerChoosingZstdIsClosedWith4000(t *testing.T) {
	hello, closed := make(chan map[string]interface{}, 10), make(chan int, 10)
	e := firstFailure(t, zstdServer(t, "zstd", hello, closed), Options{DisableCompression: true})
	if caps := <-hello; len(caps) != 0 {
		t.Fatalf("hello capabilities %v", caps)
	}
	if e.Code != CodeProtocol || !strings.Contains(e.Reason, "did not offer") {
		t.Fatalf("%v", e)
	}
	if code := <-closed; code != 4000 {
		t.Fatalf("closed with %d", code)
	}
}
