package cattail

import (
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func pack(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAKvsFrameDecodesWithExtraElementsAndUnknownFieldsIgnored(t *testing.T) {
	frame := pack(t, map[string]interface{}{
		"type":   "kvs",
		"future": map[string]interface{}{"x": 1},
		"kvs":    []interface{}{[]interface{}{"/a", "v", "7", 1, "extra"}, []interface{}{"/b", nil, "8", 3}},
	})
	msg, err := decodeServerMessage(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.KVs) != 2 || msg.KVs[0].Key != "/a" || msg.KVs[0].Revision != "7" || msg.KVs[1].Value != nil || msg.KVs[1].Type != UpdateTypeDeleted {
		t.Fatalf("%+v", msg.KVs)
	}
}

func TestFramesThatAreNotOneMapWithAStringTypeAreRefused(t *testing.T) {
	cases := map[string][]byte{
		"garbage":          {0xc1},
		"an array":         pack(t, []int{1, 2}),
		"no type":          pack(t, map[string]interface{}{"status": "in-sync"}),
		"two values":       append(pack(t, map[string]interface{}{"type": "ping"}), 0x01),
		"value for delete": pack(t, map[string]interface{}{"type": "kvs", "kvs": []interface{}{[]interface{}{"/a", "v", "1", 3}}}),
	}
	for name, frame := range cases {
		if _, err := decodeServerMessage(frame); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestAPongEchoesThePingTimestampUnchanged(t *testing.T) {
	msg, err := decodeServerMessage(pack(t, map[string]interface{}{"type": "ping", "timestamp": 1764633600123.5}))
	if err != nil {
		t.Fatal(err)
	}
	pong, err := encodePong(msg.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]interface{}
	if err := msgpack.Unmarshal(pong, &back); err != nil {
		t.Fatal(err)
	}
	if back["type"] != "pong" || back["pingTimestamp"] != 1764633600123.5 {
		t.Fatalf("%v", back)
	}
}

func decodeHelloCapabilities(t *testing.T, compression []string) (map[string]interface{}, map[string]interface{}) {
	t.Helper()
	hello, err := encodeHello("bgp", "node-1", "info", "c1", compression)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]interface{}
	if err := msgpack.Unmarshal(hello, &back); err != nil {
		t.Fatal(err)
	}
	caps, _ := back["capabilities"].(map[string]interface{})
	return back, caps
}

func TestTheHelloOffersTheCompressionsItIsGiven(t *testing.T) {
	back, caps := decodeHelloCapabilities(t, []string{"zstd"})
	list, _ := caps["compression"].([]interface{})
	if back["syncerType"] != "bgp" || len(list) != 1 || list[0] != "zstd" {
		t.Fatalf("%v", back)
	}
}

func TestAHelloWithCompressionOffOffersNoCapability(t *testing.T) {
	back, caps := decodeHelloCapabilities(t, nil)
	if back["syncerType"] != "bgp" || caps == nil || len(caps) != 0 {
		t.Fatalf("%v", back)
	}
}

func TestServerAddressesAreNormalisedAndBadOnesReportedTogether(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.1": "ws://10.0.0.1:5473/sync", "h:6000": "ws://h:6000/sync", "ws://h/": "ws://h:5473/sync"} {
		if got, err := normaliseServer(in, false); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	_, err := resolveOptions(Options{Servers: []string{"http://x"}, Backoff: BackoffOptions{Jitter: 2}})
	if err == nil || !strings.Contains(err.Error(), "scheme") || !strings.Contains(err.Error(), "Callbacks") || !strings.Contains(err.Error(), "Jitter") {
		t.Fatalf("%v", err)
	}
}
