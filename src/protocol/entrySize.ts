/**
 * The encoded size of one wire entry `[key, value, revision]`, the bytes {@link KVEncoder}
 * produces, computed without encoding: the filter in front of the snapshot cache refuses an
 * oversized value before anything allocates it again, and a 70 MB string costs one
 * `Buffer.byteLength` rather than a 70 MB copy. The walk stops as soon as the running total
 * passes `limit`, so an enormous value costs no more than a value of `limit` bytes.
 *
 * It follows the encoder's choices for plain JSON-shaped data (what the model holds): the
 * shortest string and array headers, a map16 header on every map (msgpackr back-fills the
 * count); positive and negative integers in the shortest 32-bit-or-less form; every other number as a 9-byte float64 (64-bit integers are also 9
 * bytes); `null`/booleans in one byte; `undefined` as msgpackr's 3-byte fixext. A test holds it
 * to the encoder's output byte for byte.
 */

function headerSize(n: number, fixLimit: number): number {
  if (n < fixLimit) return 1;
  if (n < 0x10000) return 3;
  return 5;
}

function stringSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  if (n < 0x20) return 1 + n;
  if (n < 0x100) return 2 + n;
  if (n < 0x10000) return 3 + n;
  return 5 + n;
}

function numberSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

/** Adds `value`'s encoded size to `total`; returns early once `total` exceeds `limit`. */
function valueSize(value: unknown, total: number, limit: number): number {
  if (total > limit) return total;
  switch (typeof value) {
    case 'string': return total + stringSize(value);
    case 'number': return total + numberSize(value);
    case 'boolean': return total + 1;
    case 'undefined': return total + 3;
    case 'object': {
      if (value === null) return total + 1;
      if (Array.isArray(value)) {
        let t = total + headerSize(value.length, 16);
        for (const item of value) {
          t = valueSize(item, t, limit);
          if (t > limit) return t;
        }
        return t;
      }
      const entries = Object.entries(value as Record<string, unknown>);
      // msgpackr writes every plain object with a map16 header (it back-fills the count).
      let t = total + (entries.length < 0x10000 ? 3 : 5);
      for (const [k, v] of entries) {
        t = valueSize(v, t + stringSize(k), limit);
        if (t > limit) return t;
      }
      return t;
    }
    default:
      // Not model data (bigint, function, symbol): count it as over the limit rather than guess.
      return limit + 1;
  }
}

/**
 * Bytes of the entry `[key, value, revision]` as encoded on entry to the cache (the 4-element
 * array header included, the update-type byte excluded), or some number above `limit` as soon
 * as it is known to exceed it.
 */
export function encodedEntrySize(key: string, value: unknown, revision: string, limit: number): number {
  const fixed = 1 + stringSize(key) + stringSize(revision);
  return valueSize(value, fixed, limit);
}
