/**
 * What every agent of one agent process shares: an id per model key (so an agent's state is a
 * few typed arrays indexed by key id, not a Map of strings per agent), each key's level-16
 * bucket, and a memo of the last KV hash computed per key.
 *
 * Why a memo: 300 agents on a loaded 2-core machine each hashing 100,000 entries per snapshot
 * would spend minutes of CPU the servers need. Agents of one process receive byte-identical
 * entries, so the memo keeps the last `key ‖ value` bytes hashed for each key and reuses the
 * hash only when the new bytes are identical (a memcmp), which gives exactly the hash the agent
 * would have computed itself.
 */
import { createHash } from 'node:crypto';

/** The level-16 bucket and the KV hash as the spec defines them (spec13 §A.8): SHA-256, first bytes. */
export function bucket16Of(keyUtf8: Uint8Array): number {
  const h = createHash('sha256').update(keyUtf8).digest();
  return h.readUInt16BE(0);
}

export class KeyTable {
  readonly #ids = new Map<string, number>();
  #buckets = new Uint16Array(1 << 12);
  #memoBytes: Array<Buffer | undefined> = [];
  #memoHi = new Uint32Array(1 << 12);
  #memoLo = new Uint32Array(1 << 12);
  #size = 0;
  /** Hashes computed and reused, for the report. */
  hashesComputed = 0;
  hashesReused = 0;

  get size(): number {
    return this.#size;
  }

  /** Capacity every per-agent array must have to index any id handed out so far. */
  get capacity(): number {
    return this.#buckets.length;
  }

  /** The id of `key`, assigned on first sight; `keyUtf8` are the key's UTF-8 bytes as received. */
  idOf(key: string, keyUtf8: Uint8Array): number {
    let id = this.#ids.get(key);
    if (id !== undefined) return id;
    id = this.#size++;
    this.#ids.set(key, id);
    if (id >= this.#buckets.length) this.#grow();
    this.#buckets[id] = bucket16Of(keyUtf8);
    return id;
  }

  bucket16(id: number): number {
    return this.#buckets[id] as number;
  }

  /** Writes the KV hash of `bytes` (key and value elements as received) for key `id` into out[0] (hi), out[1] (lo). */
  kvHash(id: number, bytes: Buffer, out: Uint32Array): void {
    const memo = this.#memoBytes[id];
    if (memo !== undefined && memo.equals(bytes)) {
      this.hashesReused++;
      out[0] = this.#memoHi[id] as number;
      out[1] = this.#memoLo[id] as number;
      return;
    }
    this.hashesComputed++;
    const h = createHash('sha256').update(bytes).digest();
    const hi = h.readUInt32BE(0);
    const lo = h.readUInt32BE(4);
    this.#memoBytes[id] = Buffer.from(bytes);
    this.#memoHi[id] = hi;
    this.#memoLo[id] = lo;
    out[0] = hi;
    out[1] = lo;
  }

  #grow(): void {
    const n = this.#buckets.length * 2;
    const b = new Uint16Array(n);
    b.set(this.#buckets);
    this.#buckets = b;
    const hi = new Uint32Array(n);
    hi.set(this.#memoHi);
    this.#memoHi = hi;
    const lo = new Uint32Array(n);
    lo.set(this.#memoLo);
    this.#memoLo = lo;
  }
}
