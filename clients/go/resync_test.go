package cattail

import (
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func kv(t *testing.T, key string, value interface{}, typ UpdateType) wireKV {
	t.Helper()
	if value == nil {
		return wireKV{Key: key, Revision: "r", Type: typ}
	}
	raw, err := msgpack.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return wireKV{Key: key, Value: raw, Revision: "r", Type: typ}
}

func keysOf(h *hostView) []string {
	var out []string
	for k := range h.held {
		out = append(out, k)
	}
	return sortedCopy(out)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestTheFirstConnectionHasNoPendingSetSoInSyncDeletesNothing(t *testing.T) {
	h := newHostView()
	h.connectionStarted()
	h.apply([]wireKV{kv(t, "/a", "1", 1)})
	if dels, _ := h.serverStatus(InSync); len(dels) != 0 {
		t.Fatalf("deleted %v", dels)
	}
}

func TestKeysTheNewServerNeverMentionsAreDeletedOnlyAtInSync(t *testing.T) {
	h := newHostView()
	h.connectionStarted()
	h.apply([]wireKV{kv(t, "/a", "1", 1), kv(t, "/b", "1", 1), kv(t, "/c", "1", 1), kv(t, "/d", "1", 1)})
	h.serverStatus(InSync)
	h.connectionLost()
	h.connectionStarted()
	// The snapshot is older than the server's state: /b arrives as a delta, /c is deleted.
	h.apply([]wireKV{kv(t, "/a", "2", 1)})
	if got := keysOf(h); !reflect.DeepEqual(got, []string{"/a", "/b", "/c", "/d"}) {
		t.Fatalf("before in-sync the client must keep every key, holds %v", got)
	}
	ups := h.apply([]wireKV{kv(t, "/b", "2", 1), kv(t, "/c", nil, 3)})
	if len(ups) != 2 || ups[0].Type != UpdateTypeUpdated || ups[1].Type != UpdateTypeDeleted {
		t.Fatalf("updates %+v", ups)
	}
	dels, report := h.serverStatus(InSync)
	if !report || len(dels) != 1 || dels[0].Key != "/d" || dels[0].Type != UpdateTypeDeleted {
		t.Fatalf("in-sync deleted %+v (report %v), want only /d", dels, report)
	}
	if got := keysOf(h); !reflect.DeepEqual(got, []string{"/a", "/b"}) {
		t.Fatalf("holds %v", got)
	}
}

func TestAResyncCutBeforeInSyncDeletesNothingAndTheNextPendingSetIsEverythingHeld(t *testing.T) {
	h := newHostView()
	h.connectionStarted()
	h.apply([]wireKV{kv(t, "/a", "1", 1), kv(t, "/late", "1", 1)})
	h.serverStatus(InSync)
	h.connectionLost()
	h.connectionStarted()
	h.apply([]wireKV{kv(t, "/a", "1", 1)})
	h.serverStatus(ResyncInProgress)
	h.connectionLost()
	if got := keysOf(h); !reflect.DeepEqual(got, []string{"/a", "/late"}) {
		t.Fatalf("holds %v", got)
	}
	h.connectionStarted()
	h.apply([]wireKV{kv(t, "/late", "1", 1)})
	dels, _ := h.serverStatus(InSync)
	if len(dels) != 1 || dels[0].Key != "/a" {
		t.Fatalf("in-sync deleted %+v, want /a", dels)
	}
}

func TestADeletionOfAKeyTheAgentDoesNotHoldIsNotDelivered(t *testing.T) {
	h := newHostView()
	if ups := h.apply([]wireKV{kv(t, "/nobody", nil, 3)}); len(ups) != 0 {
		t.Fatalf("delivered %+v", ups)
	}
}

func TestValuesAreDeliveredRawAndDecodedGenerically(t *testing.T) {
	h := newHostView()
	ups := h.apply([]wireKV{kv(t, "/p", map[string]interface{}{"order": 5, "types": []string{"ingress"}}, 1)})
	m, ok := ups[0].Value.(map[string]interface{})
	if !ok || m["order"] != int64(5) || len(ups[0].Raw) == 0 {
		t.Fatalf("value %#v raw %x", ups[0].Value, ups[0].Raw)
	}
}

func TestStatusesAreReportedOnlyWhenTheyChange(t *testing.T) {
	h := newHostView()
	if !h.connectionStarted() || h.connectionStarted() {
		t.Fatal("resync-in-progress must be reported once")
	}
	if _, r := h.serverStatus(InSync); !r {
		t.Fatal("in-sync not reported")
	}
	if _, r := h.serverStatus(InSync); r {
		t.Fatal("in-sync reported twice")
	}
}
