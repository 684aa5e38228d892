/**
 * Reads a server `kvs` message (PROTOCOL.md §3, §4; spec13 §A.1) without decoding values: walks
 * the map in whatever field order it comes, hands each entry to `onEntry` with the raw bytes of
 * its key and value elements (what the KV hash covers, spec13 §A.8), and returns the `seq` mark
 * when the frame carries one. Unknown fields and extra entry elements are skipped.
 */
import { arrayHeader, skip, strHeader } from '../frameScan.ts';

export interface KvsEntry {
  readonly key: string;
  /** The key's UTF-8 bytes (the str payload), for its bucket. */
  readonly keyUtf8: Buffer;
  /** Entry elements 0 and 1 exactly as received: from the key's first byte to the value's last. */
  readonly keyValueBytes: Buffer;
  /** updateType 3, or a nil value (the two must agree; `inconsistent` says when they do not). */
  readonly deleted: boolean;
  readonly inconsistent: boolean;
}

export interface KvsScan {
  readonly seq: number | undefined;
  readonly entries: number;
}

export function isMap(frame: Buffer): boolean {
  const b = frame[0] as number;
  return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
}

/** The `type` of a message when its map's first field is `type` (the server always writes it first); undefined otherwise. */
export function quickType(frame: Buffer): string | undefined {
  const [, off] = mapHeader(frame, 0);
  if (frame[off] !== 0xa4 || frame.toString('latin1', off + 1, off + 5) !== 'type') return undefined;
  const [len, start] = strHeader(frame, off + 5);
  return frame.toString('utf8', start, start + len);
}

export function scanKvs(frame: Buffer, onEntry: (e: KvsEntry) => void): KvsScan {
  const [fields, first] = mapHeader(frame, 0);
  let off = first;
  let seq: number | undefined;
  let entries = 0;
  for (let f = 0; f < fields; f++) {
    const [nameLen, nameAt] = strHeader(frame, off);
    const name = frame.toString('utf8', nameAt, nameAt + nameLen);
    off = nameAt + nameLen;
    if (name === 'kvs') {
      const [n, at] = arrayHeader(frame, off);
      off = at;
      for (let i = 0; i < n; i++) {
        const [elements, keyAt] = arrayHeader(frame, off);
        const [keyLen, keyStr] = strHeader(frame, keyAt);
        const valueAt = keyStr + keyLen;
        const valueEnd = skip(frame, valueAt);
        let at2 = valueEnd;
        const typeByte = elements >= 4 ? readUint(frame, skip(frame, valueEnd)) ?? 0 : 0;
        for (let e = 2; e < elements; e++) at2 = skip(frame, at2);
        const nil = frame[valueAt] === 0xc0;
        onEntry({
          key: frame.toString('utf8', keyStr, keyStr + keyLen), keyUtf8: frame.subarray(keyStr, valueAt),
          keyValueBytes: frame.subarray(keyAt, valueEnd), deleted: typeByte === 3 || nil, inconsistent: nil !== (typeByte === 3),
        });
        off = at2;
        entries++;
      }
    } else if (name === 'seq') {
      seq = readUint(frame, off);
      off = skip(frame, off);
    } else off = skip(frame, off);
  }
  return { seq, entries };
}

function readUint(b: Buffer, off: number): number | undefined {
  const h = b[off] as number;
  if (h <= 0x7f) return h;
  switch (h) {
    case 0xcc: return b[off + 1] as number;
    case 0xcd: return b.readUInt16BE(off + 1);
    case 0xce: return b.readUInt32BE(off + 1);
    case 0xcf: return Number(b.readBigUInt64BE(off + 1));
    default: return undefined;
  }
}

function mapHeader(b: Buffer, off: number): [count: number, next: number] {
  const h = b[off] as number;
  if (h >= 0x80 && h <= 0x8f) return [h & 0x0f, off + 1];
  if (h === 0xde) return [b.readUInt16BE(off + 1), off + 3];
  if (h === 0xdf) return [b.readUInt32BE(off + 1), off + 5];
  throw new Error(`not a MessagePack map header: 0x${h.toString(16)}`);
}
