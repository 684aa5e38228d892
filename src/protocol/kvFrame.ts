import { createPackr } from './codec.ts';
import { bucket16OfBytes } from './digest.ts';
import { UpdateTypeCode, type WireUpdateType } from './messages.ts';
import { KVS_FRAME_CLOSE_BYTES, KVS_SEQ_FIELD_BYTES } from './limits.ts';

/**
 * A KV encoded once, on entry to the snapshot cache: the MessagePack bytes of the first three
 * elements of a wire entry `[key, value, revision, updateType]`, including the 4-element array
 * header. The update type is the last element and a single positive-fixint byte, so the same
 * bytes serve a snapshot entry (`new`) and a delta (its own type) without re-encoding.
 *
 * Implementation: the bytes live in their own unpooled allocation, because entries are
 * long-lived and a small entry cut from a shared slab would pin the whole slab.
 */
export interface EncodedKV {
  readonly key: string;
  readonly bytes: Buffer;
  /** Offsets of the value inside `bytes`, for byte-wise dedupe of values. */
  readonly valueStart: number;
  readonly valueEnd: number;
  /** True when the value is nil (a deletion). */
  readonly isDeletion: boolean;
  /**
   * Level-16 digest bucket of the key (digest.ts): the first 2 bytes of the SHA-256 of the key's
   * UTF-8, hashed from the encoded key's payload, the bytes a client receives.
   */
  readonly bucket16: number;
}

const FIXARRAY_4 = 0x94;
const TYPE_BYTE: Record<WireUpdateType, number> = UpdateTypeCode;

/** Pre-encodes KVs; holds its own MessagePack encoder. */
export class KVEncoder {
  readonly #packr = createPackr();

  /**
   * `bucket16`, when the caller knows it (the key's stored entry has it: the bucket depends on
   * the key alone), saves hashing the key again.
   */
  encode(key: string, value: unknown, revision: string, bucket16?: number): EncodedKV {
    // pack() returns a view of the encoder's slab that the next pack() overwrites: copy each part
    // into the final buffer before encoding the next one.
    const keyBytes = this.#packr.pack(key);
    const keyLen = keyBytes.length;
    const scratch = Buffer.allocUnsafe(keyLen);
    keyBytes.copy(scratch);
    const valueBytes = value === null || value === undefined ? NIL : Buffer.from(this.#packr.pack(value));
    const revBytes = this.#packr.pack(revision);
    const total = 1 + keyLen + valueBytes.length + revBytes.length;
    const bytes = Buffer.allocUnsafeSlow(total);
    bytes[0] = FIXARRAY_4;
    scratch.copy(bytes, 1);
    const valueStart = 1 + keyLen;
    valueBytes.copy(bytes, valueStart);
    const valueEnd = valueStart + valueBytes.length;
    revBytes.copy(bytes, valueEnd);
    return { key, bytes, valueStart, valueEnd, isDeletion: valueBytes === NIL, bucket16: bucket16 ?? bucket16OfBytes(bytes, 1 + strHeaderBytes(bytes[1] as number), valueStart) };
  }
}

/** Bytes of a MessagePack string header that starts with `first`. */
function strHeaderBytes(first: number): number {
  return first <= 0xbf ? 1 : first === 0xd9 ? 2 : first === 0xda ? 3 : 5;
}

const NIL = Buffer.from([0xc0]);

/** True when two entries carry byte-identical values (revisions are ignored). */
export function sameValue(a: EncodedKV, b: EncodedKV): boolean {
  const al = a.valueEnd - a.valueStart;
  if (al !== b.valueEnd - b.valueStart) return false;
  return a.bytes.compare(b.bytes, b.valueStart, b.valueEnd, a.valueStart, a.valueEnd) === 0;
}

// `{type: 'kvs', kvs: [` written by hand: fixmap(2), "type", "kvs", "kvs", then the array header.
const KVS_PREFIX = Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa3, ...Buffer.from('kvs'), 0xa3, ...Buffer.from('kvs')]);
// The same with fixmap(3), for a frame that ends with the `seq` field.
const KVS_PREFIX_WITH_SEQ = Buffer.from([0x83, ...KVS_PREFIX.subarray(1)]);
const SEQ_KEY = Buffer.from([0xa3, ...Buffer.from('seq')]);
const UINT32_MAX = 0xffff_ffff;

/**
 * Bytes of the `seq` field for this seq: 9 with a uint32 (every seq below 2^32, about 1.4 years
 * of breadcrumbs at 100 a second), 13 with a uint64 beyond.
 */
function seqFieldBytes(seq: number): number {
  return seq <= UINT32_MAX ? KVS_SEQ_FIELD_BYTES : KVS_SEQ_FIELD_BYTES + 4;
}

function writeSeqField(frame: Buffer, off: number, seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`kvs seq ${seq} is not a non-negative safe integer`);
  off += SEQ_KEY.copy(frame, off);
  if (seq <= UINT32_MAX) {
    frame[off] = 0xce;
    frame.writeUInt32BE(seq, off + 1);
    return off + 5;
  }
  frame[off] = 0xcf;
  frame.writeBigUInt64BE(BigInt(seq), off + 1);
  return off + 9;
}

function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  if (n < 0x10000) return Buffer.from([0xdc, n >> 8, n & 0xff]);
  const b = Buffer.allocUnsafe(5);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

export interface FrameEntry {
  readonly kv: EncodedKV;
  readonly updateType: WireUpdateType;
}

/** Bytes a `kvs` frame with these entries (and this position mark, if any) will occupy. */
export function kvsFrameSize(entries: readonly FrameEntry[], seq?: number): number {
  let size = KVS_PREFIX.length + arrayHeader(entries.length).length + (seq === undefined ? 0 : seqFieldBytes(seq));
  for (const e of entries) size += e.kv.bytes.length + 1;
  return size;
}

/**
 * Assembles one `kvs` message from pre-encoded entries by concatenation: a header, then each
 * entry's bytes followed by its update-type byte, then, when `seq` is given, the position mark
 * `seq` (PROTOCOL.md §11.1; the map becomes `{type, kvs, seq}`). Nothing is re-encoded.
 */
export function assembleKvsFrame(entries: readonly FrameEntry[], seq?: number): Buffer {
  const header = arrayHeader(entries.length);
  const frame = Buffer.allocUnsafe(kvsFrameSize(entries, seq));
  let off = (seq === undefined ? KVS_PREFIX : KVS_PREFIX_WITH_SEQ).copy(frame, 0);
  off += header.copy(frame, off);
  for (const e of entries) {
    off += e.kv.bytes.copy(frame, off);
    frame[off++] = TYPE_BYTE[e.updateType];
  }
  if (seq !== undefined) writeSeqField(frame, off, seq);
  return frame;
}

/**
 * The entry bytes at which a frame is closed. Every frame closes at {@link KVS_FRAME_CLOSE_BYTES}
 * (room for a uint32 mark); a run whose mark needs a uint64 closes 4 bytes earlier, so the
 * largest frame stays `largestServerFrameBytes` whatever the seq.
 */
export function kvsFrameCloseBytes(seq?: number): number {
  return KVS_FRAME_CLOSE_BYTES - (seq === undefined ? 0 : seqFieldBytes(seq) - KVS_SEQ_FIELD_BYTES);
}

/**
 * Delta entries as `kvs` frames: at most `maxKVs` entries each, and each closed once its entries
 * reach {@link kvsFrameCloseBytes} (the rule snapshot frames follow too), so the largest frame is
 * bounded by the entry bound (`largestServerFrameBytes`) rather than by `maxKVs` times it. With
 * `seq`, the last frame carries it as its position mark: after that frame the client holds the
 * state of breadcrumb `seq`. No entries, no frame, and so no mark.
 */
export function assembleKvsFrames(entries: readonly FrameEntry[], maxKVs: number, seq?: number): Buffer[] {
  const frames: Buffer[] = [];
  const closeAt = kvsFrameCloseBytes(seq);
  let start = 0;
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += (entries[i] as FrameEntry).kv.bytes.length + 1;
    if (i + 1 - start >= maxKVs || size >= closeAt) {
      frames.push(assembleKvsFrame(entries.slice(start, i + 1), i + 1 === entries.length ? seq : undefined));
      start = i + 1;
      size = 0;
    }
  }
  if (start < entries.length) frames.push(assembleKvsFrame(entries.slice(start), seq));
  return frames;
}
