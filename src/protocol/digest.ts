import { hash } from 'node:crypto';
import { badFrame } from './errors.ts';

/**
 * Bucket digests for digest catch-up (PROTOCOL.md §11). The model is cut into buckets by a hash
 * of the key; each bucket's digest is the XOR of a 64-bit hash of every key/value it holds. Both
 * are defined on bytes a client holds verbatim (the key's UTF-8, and the key and value elements
 * exactly as they arrived in a `kvs` entry), so a client in any language reproduces the server's
 * digests without re-encoding anything, and two replicas holding the same state agree whatever
 * their breadcrumb numbering.
 *
 * Why XOR: it is its own inverse (an update XORs the old hash out and the new one in, O(1)), it
 * does not depend on order, and it nests: a level-L digest is the XOR of its two level-(L+1)
 * children, so one level-16 table serves every level a client asks for.
 */

/** Deepest level: 2^16 buckets, so a 100,000-key model has about 1.5 keys per bucket. */
export const MAX_DIGEST_LEVEL = 16;
/** Digests per `digests` message: 4096 × 8 bytes = 32 KiB, well inside the 64 KiB inbound cap. */
export const DIGESTS_PER_FRAME = 4096;
/** Bytes of one bucket digest (and of one KV hash) on the wire. */
export const DIGEST_BYTES = 8;
/** The lowest level a client should choose (PROTOCOL.md §11.3): 16 buckets. */
export const MIN_CLIENT_DIGEST_LEVEL = 4;

const BUCKETS16 = 1 << MAX_DIGEST_LEVEL;

/** The level-16 bucket of a key's UTF-8 payload bytes (the first 2 bytes of their SHA-256). */
export function bucket16OfBytes(utf8: Uint8Array, start = 0, end = utf8.length): number {
  // crypto.hash is the one-shot form: about half the cost of a Hash object per call.
  const d = hash('sha256', utf8.subarray(start, end), 'buffer');
  return (d[0] as number) << 8 | (d[1] as number);
}

/** Level-16 bucket of a key (first 2 bytes of SHA-256 of its UTF-8). */
export function keyBucket16(key: string): number {
  return bucket16OfBytes(Buffer.from(key, 'utf8'));
}

/** The bucket at `level` (0..16) of a key whose level-16 bucket is `bucket16`: levels nest. */
export function bucketAtLevel(bucket16: number, level: number): number {
  return level <= 0 ? 0 : bucket16 >>> (MAX_DIGEST_LEVEL - level);
}

/** KV hash of the bytes [start, end) of `bytes` (the key and value elements as received), as two uint32 (hi, lo). */
export function kvHash(bytes: Uint8Array, start: number, end: number): { hi: number; lo: number } {
  const d = hash('sha256', bytes.subarray(start, end), 'buffer');
  return { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) };
}

/** The level a client offers for `heldKeys` keys: about one key per bucket, from 16 to 65,536 buckets. */
export function clientDigestLevel(heldKeys: number): number {
  const level = Math.ceil(Math.log2(Math.max(1, heldKeys)));
  return Math.min(MAX_DIGEST_LEVEL, Math.max(MIN_CLIENT_DIGEST_LEVEL, level));
}

/** Number of `digests` messages a client sends at `level`. */
export function digestMessageCount(level: number): number {
  return Math.ceil((1 << level) / DIGESTS_PER_FRAME);
}

/**
 * Live XOR digests at level 16 (2 uint32 per bucket: hi, lo) and the number of keys in each
 * bucket, maintained one update at a time.
 *
 * Implementation: flat typed arrays (512 KiB of digests, 256 KiB of counts), so a copy is one
 * memcpy and `fold` one pass; a per-bucket object would cost more than the data it describes.
 */
export class DigestTable {
  readonly #digests: Uint32Array;
  readonly #counts: Uint32Array;

  constructor(digests?: Uint32Array, counts?: Uint32Array) {
    this.#digests = digests ?? new Uint32Array(2 * BUCKETS16);
    this.#counts = counts ?? new Uint32Array(BUCKETS16);
  }

  /** XORs one KV hash into (or, being its own inverse, out of) a bucket. */
  xor(bucket16: number, hi: number, lo: number): void {
    const d = this.#digests;
    const i = 2 * bucket16;
    d[i] = (d[i] as number) ^ hi;
    d[i + 1] = (d[i + 1] as number) ^ lo;
  }

  /** Adds a key to a bucket: its hash in, the count up. */
  add(bucket16: number, hi: number, lo: number): void {
    this.xor(bucket16, hi, lo);
    (this.#counts[bucket16] as number)++;
  }

  /** Removes a held key from a bucket: its hash out, the count down. */
  remove(bucket16: number, hi: number, lo: number): void {
    this.xor(bucket16, hi, lo);
    (this.#counts[bucket16] as number)--;
  }

  /** Digests at `level` (0..16): 2·2^level uint32, bucket i at [2i, 2i + 1] (hi, lo). A fresh array. */
  fold(level: number): Uint32Array {
    return foldPairs(this.#digests, level);
  }

  /** Keys per bucket at `level`: 2^level counts. A fresh array. */
  counts(level: number): Uint32Array {
    const shift = MAX_DIGEST_LEVEL - level;
    const out = new Uint32Array(1 << level);
    for (let b = 0; b < BUCKETS16; b++) (out[b >>> shift] as number) += this.#counts[b] as number;
    return out;
  }

  /** Keys in one level-16 bucket. */
  count(bucket16: number): number {
    return this.#counts[bucket16] as number;
  }

  copy(): DigestTable {
    return new DigestTable(this.#digests.slice(), this.#counts.slice());
  }
}

function foldPairs(digests16: Uint32Array, level: number): Uint32Array {
  if (!Number.isInteger(level) || level < 0 || level > MAX_DIGEST_LEVEL) throw new RangeError(`digest level ${level} is not an integer from 0 to ${MAX_DIGEST_LEVEL}`);
  const shift = MAX_DIGEST_LEVEL - level;
  if (shift === 0) return digests16.slice();
  const out = new Uint32Array(2 << level);
  for (let b = 0; b < BUCKETS16; b++) {
    const i = 2 * (b >>> shift);
    (out[i] as number) ^= digests16[2 * b] as number;
    (out[i + 1] as number) ^= digests16[2 * b + 1] as number;
  }
  return out;
}

/** One entry of a `kvs` frame as a client must record it for digests. */
export interface ScannedEntry {
  readonly key: string;
  readonly bucket16: number;
  /** The KV hash; 0, 0 for a deletion (deletions are never held, so never hashed). */
  readonly hi: number;
  readonly lo: number;
  readonly deleted: boolean;
}

/**
 * Scans a plain `kvs` frame's raw bytes: for each entry its key, bucket16 and KV hash (for
 * non-nil values). Used by clients, which must hash the bytes exactly as received; decoding and
 * re-encoding a value could change them (map order, integer widths). Accepts the map's fields
 * in any order and any MessagePack widths. Throws ProtocolError (4001) on malformed bytes.
 */
export function scanKvsFrame(frame: Uint8Array): ScannedEntry[] {
  const r = new Reader(frame);
  const fields = r.mapHeader();
  if (fields < 0) throw badFrame('kvs frame is not a MessagePack map');
  let out: ScannedEntry[] | undefined;
  for (let f = 0; f < fields; f++) {
    const name = r.isString() ? r.string() : undefined;
    if (name === undefined) r.skip();
    if (name === 'kvs') out = scanEntries(r);
    else r.skip();
  }
  if (r.offset !== frame.length) throw badFrame('kvs frame has trailing bytes');
  if (out === undefined) throw badFrame('kvs frame has no kvs array');
  return out;
}

function scanEntries(r: Reader): ScannedEntry[] {
  const n = r.arrayHeader();
  if (n < 0) throw badFrame('kvs.kvs must be an array');
  const out: ScannedEntry[] = [];
  for (let i = 0; i < n; i++) {
    const elems = r.arrayHeader();
    if (elems < 2) throw badFrame('each kvs entry must be an array [key, value, revision, updateType]');
    const keyStart = r.offset;
    if (!r.isString()) throw badFrame('kvs entry key must be a string');
    const [payloadStart, payloadEnd] = r.stringRange();
    const key = r.buf.toString('utf8', payloadStart, payloadEnd);
    const deleted = r.bytes[r.offset] === 0xc0;
    r.skip();
    const valueEnd = r.offset;
    for (let e = 2; e < elems; e++) r.skip();
    const bucket16 = bucket16OfBytes(r.bytes, payloadStart, payloadEnd);
    if (deleted) out.push({ key, bucket16, hi: 0, lo: 0, deleted });
    else {
      const { hi, lo } = kvHash(r.bytes, keyStart, valueEnd);
      out.push({ key, bucket16, hi, lo, deleted });
    }
  }
  return out;
}

/** A bounds-checked cursor over MessagePack bytes that skips values without decoding them. */
class Reader {
  readonly bytes: Uint8Array;
  /** The same bytes as a Buffer, for UTF-8 decoding without a copy. */
  readonly buf: Buffer;
  readonly #view: DataView;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.offset + n > this.bytes.length) throw badFrame('kvs frame is truncated');
  }

  #u8(): number {
    this.#need(1);
    return this.bytes[this.offset++] as number;
  }

  #uint(width: 1 | 2 | 4): number {
    this.#need(width);
    const v = width === 1 ? this.#view.getUint8(this.offset) : width === 2 ? this.#view.getUint16(this.offset) : this.#view.getUint32(this.offset);
    this.offset += width;
    return v;
  }

  /** The element count of a map header at the cursor (consumed), or -1 (nothing consumed) if not a map. */
  mapHeader(): number {
    this.#need(1);
    const b = this.bytes[this.offset] as number;
    if (b >= 0x80 && b <= 0x8f) { this.offset++; return b & 0x0f; }
    if (b === 0xde) { this.offset++; return this.#uint(2); }
    if (b === 0xdf) { this.offset++; return this.#uint(4); }
    return -1;
  }

  /** As mapHeader, for arrays. */
  arrayHeader(): number {
    this.#need(1);
    const b = this.bytes[this.offset] as number;
    if (b >= 0x90 && b <= 0x9f) { this.offset++; return b & 0x0f; }
    if (b === 0xdc) { this.offset++; return this.#uint(2); }
    if (b === 0xdd) { this.offset++; return this.#uint(4); }
    return -1;
  }

  isString(): boolean {
    this.#need(1);
    const b = this.bytes[this.offset] as number;
    return (b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb;
  }

  /** The payload range of the string at the cursor, which is consumed. */
  stringRange(): [number, number] {
    const b = this.#u8();
    const len = b <= 0xbf ? b & 0x1f : this.#uint(b === 0xd9 ? 1 : b === 0xda ? 2 : 4);
    this.#need(len);
    const start = this.offset;
    this.offset += len;
    return [start, start + len];
  }

  string(): string {
    const [s, e] = this.stringRange();
    return this.buf.toString('utf8', s, e);
  }

  /** Skips one complete value, iteratively (a deeply nested value cannot exhaust the stack). */
  skip(): void {
    let remaining = 1;
    while (remaining > 0) {
      remaining--;
      const b = this.#u8();
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
      if (b <= 0x8f) { remaining += 2 * (b & 0x0f); continue; }
      if (b <= 0x9f) { remaining += b & 0x0f; continue; }
      if (b <= 0xbf) { this.#advance(b & 0x1f); continue; }
      switch (b) {
        case 0xc4: case 0xd9: this.#advance(this.#uint(1)); break;
        case 0xc5: case 0xda: this.#advance(this.#uint(2)); break;
        case 0xc6: case 0xdb: this.#advance(this.#uint(4)); break;
        case 0xc7: this.#advance(this.#uint(1) + 1); break;
        case 0xc8: this.#advance(this.#uint(2) + 1); break;
        case 0xc9: this.#advance(this.#uint(4) + 1); break;
        case 0xca: case 0xce: case 0xd2: this.#advance(4); break;
        case 0xcb: case 0xcf: case 0xd3: this.#advance(8); break;
        case 0xcc: case 0xd0: this.#advance(1); break;
        case 0xcd: case 0xd1: this.#advance(2); break;
        case 0xd4: this.#advance(2); break;
        case 0xd5: this.#advance(3); break;
        case 0xd6: this.#advance(5); break;
        case 0xd7: this.#advance(9); break;
        case 0xd8: this.#advance(17); break;
        case 0xdc: remaining += this.#uint(2); break;
        case 0xdd: remaining += this.#uint(4); break;
        case 0xde: remaining += 2 * this.#uint(2); break;
        case 0xdf: remaining += 2 * this.#uint(4); break;
        default: throw badFrame(`byte 0x${b.toString(16)} is not MessagePack`);
      }
    }
  }

  #advance(n: number): void {
    this.#need(n);
    this.offset += n;
  }
}

/** Digests of buckets `offset … offset + count - 1` of a table from `fold`, as 8·count bytes, big-endian. */
export function encodeDigests(table: Uint32Array, offset: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(DIGEST_BYTES * count);
  for (let i = 0; i < count; i++) {
    out.writeUInt32BE(table[2 * (offset + i)] as number, DIGEST_BYTES * i);
    out.writeUInt32BE(table[2 * (offset + i) + 1] as number, DIGEST_BYTES * i + 4);
  }
  return out;
}

/** The digests of a `digests` message's bin as 2 uint32 per bucket (hi, lo). Its length must be a multiple of 8. */
export function decodeDigests(bin: Uint8Array): Uint32Array {
  if (bin.length % DIGEST_BYTES !== 0) throw new RangeError(`digests of ${bin.length} bytes are not a multiple of ${DIGEST_BYTES}`);
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out = new Uint32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(4 * i);
  return out;
}

/** A bitmap of `levelBuckets` bits, bucket i at byte i >> 3, bit 7 - (i & 7) (MSB first); unused bits 0. */
export function bitmapOf(levelBuckets: number, isSet: (i: number) => boolean): Buffer {
  const out = Buffer.alloc(Math.ceil(levelBuckets / 8));
  for (let i = 0; i < levelBuckets; i++) if (isSet(i)) out[i >> 3] = (out[i >> 3] as number) | (0x80 >> (i & 7));
  return out;
}

export function bitmapHas(bitmap: Uint8Array, i: number): boolean {
  return (((bitmap[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) === 1;
}
