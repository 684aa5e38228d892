// Package cattail is a client for the Cattail sync protocol (docs/PROTOCOL.md in the Cattail
// repository): it connects to a Cattail server, receives the snapshot and deltas of one syncer
// type, and hands them to the agent through callbacks shaped like libcalico-go's
// api.SyncerCallbacks, keeping the agent's view consistent across reconnects without ever
// asking it to restart.
package cattail

// SyncStatus is the sync status the agent is told about.
type SyncStatus string

const (
	// WaitForDatastore: no server has answered yet on the current connection; data may be empty.
	WaitForDatastore SyncStatus = "wait-for-datastore"
	// ResyncInProgress: a server is streaming; data may be incomplete or stale.
	ResyncInProgress SyncStatus = "resync-in-progress"
	// InSync: the data equals the server's complete state.
	InSync SyncStatus = "in-sync"
)

func parseStatus(s string) (SyncStatus, bool) {
	switch SyncStatus(s) {
	case WaitForDatastore, ResyncInProgress, InSync:
		return SyncStatus(s), true
	}
	return "", false
}

// UpdateType says how an update relates to what the agent already holds.
type UpdateType int

const (
	// UpdateTypeNew: a key the agent does not hold.
	UpdateTypeNew UpdateType = 1
	// UpdateTypeUpdated: a key the agent holds, with a new value.
	UpdateTypeUpdated UpdateType = 2
	// UpdateTypeDeleted: a key the agent holds is gone; Value is nil.
	UpdateTypeDeleted UpdateType = 3
)

func (t UpdateType) String() string {
	switch t {
	case UpdateTypeNew:
		return "new"
	case UpdateTypeUpdated:
		return "updated"
	case UpdateTypeDeleted:
		return "deleted"
	}
	return "unknown"
}

// Update is one key's change as delivered to the agent.
type Update struct {
	// Key is the Calico default-path key, e.g. /calico/v1/policy/tier/default/policy/....
	Key string
	// Value is the model value decoded generically: map[string]interface{} for structured
	// kinds, string for the raw-text kinds, nil for a deletion. Integers decode as int64 or
	// uint64, floats as float64.
	Value interface{}
	// Raw is the value's MessagePack encoding as it arrived (nil for a deletion), for agents
	// that decode into their own structs.
	Raw []byte
	// Revision is the datastore revision of the change; opaque, compare for equality only.
	// Empty for deletions the client synthesises after a resync.
	Revision string
	// Type is computed against what the agent holds (not the server's label).
	Type UpdateType
}

// SyncerCallbacks receives the stream, in the shape of libcalico-go's api.SyncerCallbacks. The
// client calls them from one goroutine, one at a time, in the order the data arrived.
type SyncerCallbacks interface {
	OnStatusUpdated(status SyncStatus)
	OnUpdates(updates []Update)
}
