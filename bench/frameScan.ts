/**
 * Reads just enough MessagePack to count and time KVs without decoding values: the server's
 * `kvs` frames start with the fixed bytes of `{type:'kvs', kvs:[` (see src/protocol/kvFrame.ts)
 * followed by an array header, so a throughput client learns the KV count from the first ~14
 * bytes. Latency clients additionally walk each entry to read the change stamp that the bench
 * datastore puts first in every value (`{t: <ms since epoch>, ...}`), skipping everything else.
 */

import { assembleKvsFrame } from '../src/protocol/index.ts';

// The server's own `{type: 'kvs', kvs: [` bytes, taken from an empty frame (prefix + fixarray(0))
// rather than restated here, so the scanner follows src/protocol/kvFrame.ts if the layout changes.
const EMPTY_KVS_FRAME = assembleKvsFrame([]);
const KVS_PREFIX = EMPTY_KVS_FRAME.subarray(0, EMPTY_KVS_FRAME.length - 1);

/** The `type` of a server frame, or undefined when it is not a map starting with `type`. */
export function frameType(frame: Buffer): string | undefined {
  if (isKvsFrame(frame)) return 'kvs';
  const b0 = frame[0] as number;
  let off: number;
  if (b0 >= 0x80 && b0 <= 0x8f) off = 1;
  else if (b0 === 0xde) off = 3;
  else return undefined;
  if (frame[off] !== 0xa4 || frame.toString('latin1', off + 1, off + 5) !== 'type') return undefined;
  const [len, start] = strHeader(frame, off + 5);
  return frame.toString('utf8', start, start + len);
}

export function isKvsFrame(frame: Buffer): boolean {
  return frame.length > KVS_PREFIX.length && frame.compare(KVS_PREFIX, 0, KVS_PREFIX.length, 0, KVS_PREFIX.length) === 0;
}

/** Number of entries in a `kvs` frame, from its array header alone. */
export function kvsCount(frame: Buffer): number {
  return arrayHeader(frame, KVS_PREFIX.length)[0];
}

/**
 * Calls `onStamp` with the value stamp of each entry of a `kvs` frame (NaN for an entry whose
 * value is nil or carries no leading `t`). Returns the entry count.
 */
export function forEachStamp(frame: Buffer, onStamp: (stampMs: number) => void): number {
  const [n, first] = arrayHeader(frame, KVS_PREFIX.length);
  let off = first;
  for (let i = 0; i < n; i++) {
    const [elements, keyAt] = arrayHeader(frame, off);
    let at = skip(frame, keyAt);
    onStamp(readStamp(frame, at));
    for (let e = 1; e < elements; e++) at = skip(frame, at);
    off = at;
  }
  return n;
}

function readStamp(b: Buffer, off: number): number {
  const h = b[off] as number;
  let at: number;
  if (h >= 0x80 && h <= 0x8f) at = off + 1;
  else if (h === 0xde) at = off + 3;
  else return NaN;
  if (b[at] !== 0xa1 || b[at + 1] !== 0x74) return NaN;
  return readNumber(b, at + 2);
}

function readNumber(b: Buffer, off: number): number {
  const h = b[off] as number;
  if (h <= 0x7f) return h;
  switch (h) {
    case 0xcb: return b.readDoubleBE(off + 1);
    case 0xca: return b.readFloatBE(off + 1);
    case 0xcc: return b[off + 1] as number;
    case 0xcd: return b.readUInt16BE(off + 1);
    case 0xce: return b.readUInt32BE(off + 1);
    case 0xcf: return Number(b.readBigUInt64BE(off + 1));
    default: return NaN;
  }
}

/** A MessagePack array header at `off`: its element count and the offset after it. */
export function arrayHeader(b: Buffer, off: number): [count: number, next: number] {
  const h = b[off] as number;
  if (h >= 0x90 && h <= 0x9f) return [h & 0x0f, off + 1];
  if (h === 0xdc) return [b.readUInt16BE(off + 1), off + 3];
  if (h === 0xdd) return [b.readUInt32BE(off + 1), off + 5];
  throw new Error(`not a MessagePack array header: 0x${h.toString(16)} at ${off}`);
}

/** A MessagePack string header at `off`: the payload's length and start. */
export function strHeader(b: Buffer, off: number): [length: number, start: number] {
  const h = b[off] as number;
  if (h >= 0xa0 && h <= 0xbf) return [h & 0x1f, off + 1];
  if (h === 0xd9) return [b[off + 1] as number, off + 2];
  if (h === 0xda) return [b.readUInt16BE(off + 1), off + 3];
  if (h === 0xdb) return [b.readUInt32BE(off + 1), off + 5];
  throw new Error(`not a MessagePack string header: 0x${h.toString(16)} at ${off}`);
}

/** Offset just past the MessagePack value at `off`. */
export function skip(b: Buffer, off: number): number {
  const h = b[off] as number;
  if (h <= 0x7f || h >= 0xe0) return off + 1;
  if (h <= 0x8f) return skipN(b, off + 1, (h & 0x0f) * 2);
  if (h <= 0x9f) return skipN(b, off + 1, h & 0x0f);
  if (h <= 0xbf) return off + 1 + (h & 0x1f);
  switch (h) {
    case 0xc0: case 0xc2: case 0xc3: return off + 1;
    case 0xc4: case 0xd9: return off + 2 + (b[off + 1] as number);
    case 0xc5: case 0xda: return off + 3 + b.readUInt16BE(off + 1);
    case 0xc6: case 0xdb: return off + 5 + b.readUInt32BE(off + 1);
    case 0xc7: return off + 3 + (b[off + 1] as number);
    case 0xc8: return off + 4 + b.readUInt16BE(off + 1);
    case 0xc9: return off + 6 + b.readUInt32BE(off + 1);
    case 0xca: return off + 5;
    case 0xcb: return off + 9;
    case 0xcc: case 0xd0: return off + 2;
    case 0xcd: case 0xd1: return off + 3;
    case 0xce: case 0xd2: return off + 5;
    case 0xcf: case 0xd3: return off + 9;
    case 0xd4: return off + 3;
    case 0xd5: return off + 4;
    case 0xd6: return off + 6;
    case 0xd7: return off + 10;
    case 0xd8: return off + 18;
    case 0xdc: return skipN(b, off + 3, b.readUInt16BE(off + 1));
    case 0xdd: return skipN(b, off + 5, b.readUInt32BE(off + 1));
    case 0xde: return skipN(b, off + 3, b.readUInt16BE(off + 1) * 2);
    case 0xdf: return skipN(b, off + 5, b.readUInt32BE(off + 1) * 2);
    default: throw new Error(`unexpected MessagePack byte 0x${h.toString(16)} at ${off}`);
  }
}

function skipN(b: Buffer, off: number, n: number): number {
  let at = off;
  for (let i = 0; i < n; i++) at = skip(b, at);
  return at;
}
