import { createPackr } from './codec.ts';
import { UpdateTypeCode, type WireUpdateType } from './messages.ts';
import { KVS_FRAME_TARGET_BYTES } from './limits.ts';

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
}

const FIXARRAY_4 = 0x94;
const TYPE_BYTE: Record<WireUpdateType, number> = UpdateTypeCode;

/** Pre-encodes KVs; holds its own MessagePack encoder. */
export class KVEncoder {
  readonly #packr = createPackr();

  encode(key: string, value: unknown, revision: string): EncodedKV {
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
    return { key, bytes, valueStart, valueEnd, isDeletion: valueBytes === NIL };
  }
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

/** Bytes a `kvs` frame with these entries will occupy. */
export function kvsFrameSize(entries: readonly FrameEntry[]): number {
  let size = KVS_PREFIX.length + arrayHeader(entries.length).length;
  for (const e of entries) size += e.kv.bytes.length + 1;
  return size;
}

/**
 * Assembles one `kvs` message from pre-encoded entries by concatenation: a header, then each
 * entry's bytes followed by its update-type byte. Nothing is re-encoded.
 */
export function assembleKvsFrame(entries: readonly FrameEntry[]): Buffer {
  const header = arrayHeader(entries.length);
  const frame = Buffer.allocUnsafe(kvsFrameSize(entries));
  let off = KVS_PREFIX.copy(frame, 0);
  off += header.copy(frame, off);
  for (const e of entries) {
    off += e.kv.bytes.copy(frame, off);
    frame[off++] = TYPE_BYTE[e.updateType];
  }
  return frame;
}

/**
 * Delta entries as `kvs` frames: at most `maxKVs` entries each, and each closed once its entries
 * reach {@link KVS_FRAME_TARGET_BYTES} (the rule snapshot frames follow too), so the largest
 * frame is bounded by the entry bound (`largestServerFrameBytes`) rather than by `maxKVs` times it.
 */
export function assembleKvsFrames(entries: readonly FrameEntry[], maxKVs: number): Buffer[] {
  const frames: Buffer[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += (entries[i] as FrameEntry).kv.bytes.length + 1;
    if (i + 1 - start >= maxKVs || size >= KVS_FRAME_TARGET_BYTES) {
      frames.push(assembleKvsFrame(entries.slice(start, i + 1)));
      start = i + 1;
      size = 0;
    }
  }
  if (start < entries.length) frames.push(assembleKvsFrame(entries.slice(start)));
  return frames;
}
