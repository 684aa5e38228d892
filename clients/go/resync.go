package cattail

import "sort"

// hostView is what the agent has been given, plus the resync pending set of PROTOCOL.md §10
// step 7. It turns wire entries into updates typed against what the agent holds and decides
// which statuses the agent sees. Used from the one goroutine that runs the connection loop.
//
// Why a pending set and not "held minus snapshot" at in-sync: the snapshot can be older than
// the server's newest state (§2.1), and keys it lacks may arrive as deltas before in-sync;
// every entry of any kind clears its key, and only in-sync deletes what is left.
type hostView struct {
	held map[string][]byte
	// pending is nil on the first connection and after in-sync; otherwise the held keys the
	// current server has not mentioned yet.
	pending map[string]struct{}
	status  SyncStatus
}

func newHostView() *hostView {
	return &hostView{held: map[string][]byte{}}
}

// apply turns wire entries into the updates the agent must see, in order. A deletion of a key
// the agent does not hold is dropped.
func (h *hostView) apply(kvs []wireKV) []Update {
	out := make([]Update, 0, len(kvs))
	for _, kv := range kvs {
		if h.pending != nil {
			delete(h.pending, kv.Key) // step 7.3: every entry, any update type
		}
		_, holds := h.held[kv.Key]
		if kv.Type == UpdateTypeDeleted {
			if !holds {
				continue
			}
			delete(h.held, kv.Key)
			out = append(out, Update{Key: kv.Key, Revision: kv.Revision, Type: UpdateTypeDeleted})
			continue
		}
		value, err := decodeValue(kv.Value)
		if err != nil {
			// decodeKVs has read the value as one MessagePack value already; cannot happen.
			value = nil
		}
		t := UpdateTypeNew
		if holds {
			t = UpdateTypeUpdated
		}
		h.held[kv.Key] = kv.Value
		out = append(out, Update{Key: kv.Key, Value: value, Raw: kv.Value, Revision: kv.Revision, Type: t})
	}
	return out
}

// serverStatus records a status from the server. At in-sync with a pending set it returns the
// deletions of the keys still pending (step 7.4), to deliver before the status. The status to
// report is returned when it differs from the last one reported.
func (h *hostView) serverStatus(s SyncStatus) (deletions []Update, report bool) {
	if s == InSync && h.pending != nil {
		keys := make([]string, 0, len(h.pending))
		for key := range h.pending {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			delete(h.held, key)
			deletions = append(deletions, Update{Key: key, Type: UpdateTypeDeleted})
		}
		h.pending = nil
	}
	return deletions, h.setStatus(s)
}

// connectionStarted: a server answered the hello; its data follows.
func (h *hostView) connectionStarted() bool { return h.setStatus(ResyncInProgress) }

// connectionLost: a connection that had its serverHello ended (steps 7.2 and 7.6): the pending
// set becomes every held key, replacing the earlier one.
func (h *hostView) connectionLost() bool {
	h.pending = make(map[string]struct{}, len(h.held))
	for k := range h.held {
		h.pending[k] = struct{}{}
	}
	return h.setStatus(WaitForDatastore)
}

func (h *hostView) setStatus(s SyncStatus) bool {
	if s == h.status {
		return false
	}
	h.status = s
	return true
}
