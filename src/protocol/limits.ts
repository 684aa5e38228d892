/** The well-known port of the sync service, as Typha's. */
export const DEFAULT_SYNC_PORT = 5473;
export const DEFAULT_SYNC_PATH = '/sync';
/**
 * Client → server frames are tiny (hello, pong, ack); 64 KiB leaves room for a long clientInfo
 * while making it impossible for a client to make the server buffer much on its behalf.
 */
export const MAX_INBOUND_FRAME_BYTES = 64 * 1024;

/** The size `kvs` frames aim at: near 64 KiB however many small entries there are. */
export const KVS_FRAME_TARGET_BYTES = 64 * 1024;

/**
 * The position mark a delta frame that ends a coalesced run carries (PROTOCOL.md §11.1): the
 * key `a3 's' 'e' 'q'` and a uint32 `ce xx xx xx xx`, 9 bytes.
 */
export const KVS_SEQ_FIELD_BYTES = 9;

/**
 * A `kvs` frame (snapshot, delta or catch-up) is closed as soon as its entries reach this many
 * bytes: the target less the position mark, for every frame, so a frame that carries the mark
 * is no larger than the largest frame was before marks existed (clients keep their limit).
 */
export const KVS_FRAME_CLOSE_BYTES = KVS_FRAME_TARGET_BYTES - KVS_SEQ_FIELD_BYTES;

/**
 * Default bound on one encoded entry `[key, value, revision]`. The Kubernetes API cannot store
 * an object over etcd's default request limit (1.5 MiB of JSON), and a model value is never
 * larger in MessagePack than its object in JSON, so 2 MiB refuses no object a real cluster
 * holds; the largest realistic ones (a policy with thousands of rules, a network set with
 * tens of thousands of CIDRs) are well under 1 MiB.
 */
export const DEFAULT_MAX_VALUE_BYTES = 2 * 1024 * 1024;

/**
 * `{type: 'kvs', kvs: [`: fixmap, "type", "kvs", "kvs" (14 bytes) plus the array header, and
 * after the array the position mark. The header is 3 bytes at most: every entry takes at least
 * 5 bytes, so no frame closed at {@link KVS_FRAME_CLOSE_BYTES} can hold the 65,536 entries a
 * 5-byte header needs.
 */
const KVS_FRAME_OVERHEAD_BYTES = 17 + KVS_SEQ_FIELD_BYTES;

/**
 * The largest frame a server with this entry bound sends: `maxValueBytes + 65,553`. Every other
 * message is far smaller than a `kvs` frame; a `kvs` frame's entries stay under
 * {@link KVS_FRAME_CLOSE_BYTES} until the one that closes it, which is at most `maxValueBytes`
 * plus its update-type byte.
 */
export function largestServerFrameBytes(maxValueBytes: number): number {
  return KVS_FRAME_OVERHEAD_BYTES + (KVS_FRAME_CLOSE_BYTES - 1) + maxValueBytes + 1;
}
