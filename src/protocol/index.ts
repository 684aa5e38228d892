/**
 * Cattail sync protocol, version 1 — the only definition of the wire format; the server and
 * every client import it from here. docs/PROTOCOL.md is the prose form of this module.
 *
 * Transport: WebSocket on path `/sync`, binary frames only, one plain MessagePack map per frame
 * with a string `type`. Sequence:
 *
 *   client                         server
 *   hello              ─────────►
 *                      ◄─────────  serverHello
 *                      ◄─────────  kvs … (snapshot, every entry `new`)
 *                      ◄─────────  snapshotEnd
 *   ack                ─────────►
 *                      ◄─────────  status / kvs (deltas) / ping, as they happen
 *   pong               ─────────►  (for every ping)
 *
 * Rules: unknown fields are ignored; a new message type is only sent to a peer that advertised
 * it; any protocol violation closes the connection with a code from `CloseCode`. A client may
 * negotiate zstd in hello/serverHello; a server frame is then plain or one zstd frame holding
 * one plain message, told apart by its first byte (compression.ts).
 *
 * Catch-up (PROTOCOL.md §11), negotiated in hello.capabilities: `resume` (the server answers
 * serverHello{catchUp: "resume"} then snapshotEnd at once, and the deltas after the client's
 * position follow the ack), `digest` (serverHello{catchUp: "digest"}, the client's `digests`,
 * `buckets`, then only the keys of the replaced buckets before snapshotEnd) and `probe`
 * (serverHello, then close 1000). The digest definition is digest.ts; the position marks a
 * delta frame carries (`kvs.seq`) are written by kvFrame.ts.
 */
export { certificateNamesMatch, commonNames, uriSans } from './certificateNames.ts';
export { CloseCode, FATAL_CLOSE_CODES, MOVE_ON_CLOSE_CODES, type CloseCodeName } from './closeCodes.ts';
export { Codec, createPackr } from './codec.ts';
export {
  chooseCompression, compressFrame, decompressFrame, isCompressedFrame, MESSAGE_TOO_BIG, SUPPORTED_COMPRESSION, ZSTD, ZSTD_LEVEL, ZSTD_MAGIC, ZSTD_WINDOW_LOG,
} from './compression.ts';
export {
  bitmapHas, bitmapOf, bucket16OfBytes, bucketAtLevel, clientDigestLevel, decodeDigests, DIGEST_BYTES, digestMessageCount, DIGESTS_PER_FRAME, DigestTable,
  encodeDigests, keyBucket16, kvHash, MAX_DIGEST_LEVEL, MIN_CLIENT_DIGEST_LEVEL, scanKvsFrame, type ScannedEntry,
} from './digest.ts';
export { ProtocolError } from './errors.ts';
export { assembleKvsFrame, assembleKvsFrames, KVEncoder, kvsFrameCloseBytes, sameValue, type EncodedKV, type FrameEntry } from './kvFrame.ts';
export * from './messages.ts';
export {
  DEFAULT_MAX_VALUE_BYTES, DEFAULT_SYNC_PATH, DEFAULT_SYNC_PORT, KVS_FRAME_CLOSE_BYTES, KVS_FRAME_TARGET_BYTES, KVS_SEQ_FIELD_BYTES, MAX_INBOUND_FRAME_BYTES,
  largestServerFrameBytes,
} from './limits.ts';
export { encodedEntrySize } from './entrySize.ts';
