package cattail

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// protocolVersion is the only version this client speaks.
const protocolVersion = 1

// serverMessage is one decoded server frame. Only the fields of Type are set; unknown fields
// are skipped, as PROTOCOL.md §3 requires.
type serverMessage struct {
	Type string
	// serverHello
	ProtocolVersion  int64
	Compression      string
	SyncerType       string
	ServerVersion    string
	ServerInstanceID string
	ConnectionID     string
	// kvs
	KVs []wireKV
	// snapshotEnd
	Seq  int64
	Keys int64
	// status
	Status string
	// ping: the timestamp as it arrived, echoed unchanged in the pong.
	Timestamp msgpack.RawMessage
}

// wireKV is one [key, value, revision, updateType] entry; Value is nil for a deletion.
type wireKV struct {
	Key      string
	Value    msgpack.RawMessage
	Revision string
	Type     UpdateType
}

func newDecoder(frame []byte) *msgpack.Decoder {
	d := msgpack.NewDecoder(bytes.NewReader(frame))
	d.UseLooseInterfaceDecoding(true)
	return d
}

// decodeServerMessage decodes one frame: exactly one MessagePack map with a string type.
func decodeServerMessage(frame []byte) (msg serverMessage, err error) {
	r := bytes.NewReader(frame)
	d := msgpack.NewDecoder(r)
	d.UseLooseInterfaceDecoding(true)
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return msg, fmt.Errorf("frame is not a MessagePack map")
	}
	for i := 0; i < n; i++ {
		name, err := d.DecodeString()
		if err != nil {
			return msg, fmt.Errorf("frame has a key that is not a string")
		}
		if err := decodeField(d, &msg, name); err != nil {
			return msg, fmt.Errorf("field %s: %v", name, err)
		}
	}
	if r.Len() != 0 {
		return msg, fmt.Errorf("frame holds more than one MessagePack value")
	}
	if msg.Type == "" {
		return msg, fmt.Errorf("frame has no string field type")
	}
	return msg, nil
}

func decodeField(d *msgpack.Decoder, m *serverMessage, name string) error {
	var err error
	switch name {
	case "type":
		m.Type, err = d.DecodeString()
	case "protocolVersion":
		m.ProtocolVersion, err = decodeNumber(d)
	case "compression":
		m.Compression, err = decodeOptString(d)
	case "syncerType":
		m.SyncerType, err = decodeOptString(d)
	case "serverVersion":
		m.ServerVersion, err = decodeOptString(d)
	case "serverInstanceId":
		m.ServerInstanceID, err = decodeOptString(d)
	case "connectionId":
		m.ConnectionID, err = decodeOptString(d)
	case "status":
		m.Status, err = decodeOptString(d)
	case "seq":
		m.Seq, err = decodeNumber(d)
	case "keys":
		m.Keys, err = decodeNumber(d)
	case "timestamp":
		m.Timestamp, err = d.DecodeRaw()
	case "kvs":
		m.KVs, err = decodeKVs(d)
	default:
		err = d.Skip()
	}
	return err
}

func decodeOptString(d *msgpack.Decoder) (string, error) {
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return "", err
	}
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	}
	return "", fmt.Errorf("not a string")
}

func decodeNumber(d *msgpack.Decoder) (int64, error) {
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case uint64:
		return int64(n), nil
	case float64:
		return int64(n), nil
	}
	return 0, fmt.Errorf("not a number")
}

func decodeKVs(d *msgpack.Decoder) ([]wireKV, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, fmt.Errorf("not an array")
	}
	kvs := make([]wireKV, 0, n)
	for i := 0; i < n; i++ {
		m, err := d.DecodeArrayLen()
		if err != nil || m < 4 {
			return nil, fmt.Errorf("entry %d is not an array of at least 4 elements", i)
		}
		var kv wireKV
		if kv.Key, err = d.DecodeString(); err != nil {
			return nil, fmt.Errorf("entry %d: key is not a string", i)
		}
		raw, err := d.DecodeRaw()
		if err != nil {
			return nil, fmt.Errorf("entry %d: bad value", i)
		}
		if !(len(raw) == 1 && raw[0] == 0xc0) {
			kv.Value = raw
		}
		if kv.Revision, err = decodeOptString(d); err != nil {
			return nil, fmt.Errorf("entry %d: revision is not a string", i)
		}
		t, err := decodeNumber(d)
		if err != nil || t < 1 || t > 3 {
			return nil, fmt.Errorf("entry %d: updateType is not 1, 2 or 3", i)
		}
		kv.Type = UpdateType(t)
		if (kv.Type == UpdateTypeDeleted) != (kv.Value == nil) {
			return nil, fmt.Errorf("entry %d (%s): value must be nil exactly for a deletion", i, kv.Key)
		}
		for j := 4; j < m; j++ {
			if err := d.Skip(); err != nil {
				return nil, fmt.Errorf("entry %d: bad extra element", i)
			}
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}

// decodeValue decodes a raw model value generically (maps with string keys, int64/uint64,
// float64, strings, arrays).
func decodeValue(raw []byte) (interface{}, error) {
	if raw == nil {
		return nil, nil
	}
	return newDecoder(raw).DecodeInterfaceLoose()
}

// encodeHello builds the hello; compression lists what the client decodes (§7.1), most
// preferred first, and an empty list offers nothing.
func encodeHello(syncerType, hostname, clientInfo, connID string, compression []string) ([]byte, error) {
	capabilities := map[string]interface{}{}
	if len(compression) > 0 {
		capabilities["compression"] = compression
	}
	return msgpack.Marshal(map[string]interface{}{
		"type":            "hello",
		"protocolVersion": protocolVersion,
		"syncerType":      syncerType,
		"hostname":        hostname,
		"clientVersion":   Version,
		"clientInfo":      clientInfo,
		"clientConnId":    connID,
		"capabilities":    capabilities,
	})
}

func encodeAck() ([]byte, error) {
	return msgpack.Marshal(map[string]interface{}{"type": "ack"})
}

func encodePong(timestamp msgpack.RawMessage) ([]byte, error) {
	if timestamp == nil {
		timestamp = msgpack.RawMessage{0x00}
	}
	return msgpack.Marshal(map[string]interface{}{"type": "pong", "pingTimestamp": timestamp})
}
