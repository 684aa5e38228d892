/** The well-known port of the sync service, as Typha's. */
export const DEFAULT_SYNC_PORT = 5473;
export const DEFAULT_SYNC_PATH = '/sync';
/**
 * Client → server frames are tiny (hello, pong, ack); 64 KiB leaves room for a long clientInfo
 * while making it impossible for a client to make the server buffer much on its behalf.
 */
export const MAX_INBOUND_FRAME_BYTES = 64 * 1024;

/**
 * A `kvs` frame (snapshot or delta) is closed as soon as its entries reach this many bytes, so
 * frames stay near 64 KiB however many small entries there are.
 */
export const KVS_FRAME_TARGET_BYTES = 64 * 1024;

/**
 * Default bound on one encoded entry `[key, value, revision]`. The Kubernetes API cannot store
 * an object over etcd's default request limit (1.5 MiB of JSON), and a model value is never
 * larger in MessagePack than its object in JSON, so 2 MiB refuses no object a real cluster
 * holds; the largest realistic ones (a policy with thousands of rules, a network set with
 * tens of thousands of CIDRs) are well under 1 MiB.
 */
export const DEFAULT_MAX_VALUE_BYTES = 2 * 1024 * 1024;

/**
 * `{type: 'kvs', kvs: [`: fixmap, "type", "kvs", "kvs" (14 bytes) plus the array header. The
 * header is 3 bytes at most: every entry takes at least 5 bytes, so no frame closed at
 * {@link KVS_FRAME_TARGET_BYTES} can hold the 65,536 entries a 5-byte header needs.
 */
const KVS_FRAME_OVERHEAD_BYTES = 17;

/**
 * The largest frame a server with this entry bound sends. Every other message is far smaller
 * than a `kvs` frame; a `kvs` frame's entries stay under {@link KVS_FRAME_TARGET_BYTES} until
 * the one that closes it, which is at most `maxValueBytes` plus its update-type byte.
 */
export function largestServerFrameBytes(maxValueBytes: number): number {
  return KVS_FRAME_OVERHEAD_BYTES + (KVS_FRAME_TARGET_BYTES - 1) + maxValueBytes + 1;
}
