/**
 * One lightweight agent's map: for each key it holds, only what catch-up needs (spec13 §A.8):
 * the KV hash (two uint32) and, through the shared KeyTable, the bucket; plus the pending set of
 * PROTOCOL.md §10.7. Indexed by the process-wide key id, so 100,000 keys cost about 10 bytes each.
 */
import { createHash } from 'node:crypto';
import type { KeyTable } from './keyTable.ts';

const HELD = 1;
const PENDING = 2;

export class HeldKeys {
  readonly #table: KeyTable;
  #hi: Uint32Array;
  #lo: Uint32Array;
  #flags: Uint8Array;
  #held = 0;
  #pending = 0;
  #hasPending = false;

  constructor(table: KeyTable) {
    this.#table = table;
    this.#hi = new Uint32Array(table.capacity);
    this.#lo = new Uint32Array(table.capacity);
    this.#flags = new Uint8Array(table.capacity);
  }

  get heldCount(): number {
    return this.#held;
  }

  /** Keys still in the pending set (0 when there is none). */
  get pendingCount(): number {
    return this.#pending;
  }

  get hasPending(): boolean {
    return this.#hasPending;
  }

  /** Applies one received entry: it leaves the pending set (§10.7 step 3), then sets or deletes the key. */
  apply(id: number, deleted: boolean, hi: number, lo: number): void {
    this.#fit(id);
    const f = this.#flags[id] as number;
    if ((f & PENDING) !== 0) this.#pending--;
    if (deleted) {
      if ((f & HELD) !== 0) this.#held--;
      this.#flags[id] = 0;
      return;
    }
    if ((f & HELD) === 0) this.#held++;
    this.#flags[id] = HELD;
    this.#hi[id] = hi;
    this.#lo[id] = lo;
  }

  /** §10.7 step 2: the pending set becomes every key held (replacing any earlier one). */
  pendAll(): void {
    this.#pending = 0;
    for (let id = 0; id < this.#flags.length; id++) {
      const f = this.#flags[id] as number;
      if ((f & HELD) !== 0) {
        this.#flags[id] = HELD | PENDING;
        this.#pending++;
      } else this.#flags[id] = 0;
    }
    this.#hasPending = true;
  }

  /** spec13 §A.6: the pending set becomes every held key whose bucket at `level` is set in `bitmap` (MSB first). */
  pendBuckets(level: number, bitmap: Uint8Array): number {
    this.#pending = 0;
    const shift = 16 - level;
    for (let id = 0; id < this.#flags.length; id++) {
      const f = this.#flags[id] as number;
      if ((f & HELD) === 0) continue;
      const b = this.#table.bucket16(id) >>> shift;
      if ((((bitmap[b >>> 3] as number) >>> (7 - (b & 7))) & 1) === 1) {
        this.#flags[id] = HELD | PENDING;
        this.#pending++;
      } else this.#flags[id] = HELD;
    }
    this.#hasPending = true;
    return this.#pending;
  }

  /** §10.7 step 4 at `in-sync`: deletes every key still pending and discards the set; returns how many. */
  settle(): number {
    if (!this.#hasPending) return 0;
    let deleted = 0;
    for (let id = 0; id < this.#flags.length; id++) {
      if (((this.#flags[id] as number) & PENDING) !== 0) {
        this.#flags[id] = 0;
        this.#held--;
        deleted++;
      }
    }
    this.#pending = 0;
    this.#hasPending = false;
    return deleted;
  }

  /** Bucket digests at `level` (spec13 §A.8): XOR of held KV hashes, 2 uint32 (hi, lo) per bucket. */
  digests(level: number): Uint32Array {
    const out = new Uint32Array(2 << level);
    const shift = 16 - level;
    for (let id = 0; id < this.#flags.length; id++) {
      if (((this.#flags[id] as number) & HELD) === 0) continue;
      const b = (this.#table.bucket16(id) >>> shift) * 2;
      out[b] = ((out[b] as number) ^ (this.#hi[id] as number)) >>> 0;
      out[b + 1] = ((out[b + 1] as number) ^ (this.#lo[id] as number)) >>> 0;
    }
    return out;
  }

  /** What the run compares with the server: key count and SHA-256 over the level-16 digests (big-endian). */
  summary(): { keys: number; tableSha256: string } {
    return { keys: this.#held, tableSha256: digestTableSha256(this.digests(16)) };
  }

  #fit(id: number): void {
    if (id < this.#flags.length) return;
    const n = this.#table.capacity;
    const hi = new Uint32Array(n);
    hi.set(this.#hi);
    this.#hi = hi;
    const lo = new Uint32Array(n);
    lo.set(this.#lo);
    this.#lo = lo;
    const f = new Uint8Array(n);
    f.set(this.#flags);
    this.#flags = f;
  }
}

/** SHA-256 (hex) of a digest table written as 8 big-endian bytes per bucket. */
export function digestTableSha256(table: Uint32Array): string {
  const bytes = Buffer.allocUnsafe(table.length * 4);
  for (let i = 0; i < table.length; i++) bytes.writeUInt32BE(table[i] as number, i * 4);
  return createHash('sha256').update(bytes).digest('hex');
}
