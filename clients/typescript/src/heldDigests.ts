import { DigestTable, bucketAtLevel, clientDigestLevel } from '../../../src/protocol/index.ts';

/**
 * A key's level-16 bucket and KV hash (docs/PROTOCOL.md §11): computed once, when its entry is
 * read from the wire, from the frame's raw bytes (`protocol.scanKvsFrame`).
 */
export interface KvHash {
  readonly bucket16: number;
  readonly hi: number;
  readonly lo: number;
}

/** 32-bit words kept per hashed key: bucket16, hi, lo. */
const WORDS = 3;

/**
 * The bucket digests of what the host holds, for digest catch-up (§11): for each held key its
 * bucket and KV hash, and the level-16 XOR table kept up to date as keys are set and deleted, so
 * a reconnect folds the table (2^16 XORs at most) instead of rehashing every key.
 *
 * A key applied without a hash (an agent driving `ResyncBuffer` by hand with plain entries) is
 * remembered as unhashed: while any is held the digests cannot describe the state, so the
 * client does not offer digest catch-up (`complete` is false).
 *
 * Implementation: a key maps to a slot (a small integer) in one growing Uint32Array of three
 * words per slot, freed slots reused. An object per key with two uint32 (heap numbers in V8)
 * cost about 195 bytes per key on top of the host's map; a slot costs the Map entry and 12 bytes.
 */
export class HeldDigests {
  readonly #slots = new Map<string, number>();
  #words = new Uint32Array(WORDS * 1024);
  #nextSlot = 0;
  readonly #free: number[] = [];
  readonly #unhashed = new Set<string>();
  readonly #table = new DigestTable();

  /** Every held key has a hash: the digests describe exactly what the host holds. */
  get complete(): boolean {
    return this.#unhashed.size === 0;
  }

  get size(): number {
    return this.#slots.size + this.#unhashed.size;
  }

  /** The key is now held with this hash (replacing any earlier one). */
  set(key: string, hash: KvHash | undefined): void {
    if (hash === undefined) {
      this.delete(key);
      this.#unhashed.add(key);
      return;
    }
    let slot = this.#slots.get(key);
    const w = this.#words;
    if (slot !== undefined) {
      const i = WORDS * slot;
      this.#table.remove(w[i] as number, w[i + 1] as number, w[i + 2] as number);
    } else {
      this.#unhashed.delete(key);
      slot = this.#allocate();
      this.#slots.set(key, slot);
    }
    const i = WORDS * slot;
    const words = this.#words;
    words[i] = hash.bucket16;
    words[i + 1] = hash.hi;
    words[i + 2] = hash.lo;
    this.#table.add(hash.bucket16, hash.hi, hash.lo);
  }

  /** The key is no longer held. */
  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      this.#unhashed.delete(key);
      return;
    }
    const w = this.#words;
    const i = WORDS * slot;
    this.#table.remove(w[i] as number, w[i + 1] as number, w[i + 2] as number);
    this.#slots.delete(key);
    this.#free.push(slot);
  }

  /** The key's bucket and KV hash, if it is held with one. */
  get(key: string): KvHash | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const w = this.#words;
    const i = WORDS * slot;
    return { bucket16: w[i] as number, hi: w[i + 1] as number, lo: w[i + 2] as number };
  }

  /** The level a client offers for this many keys: clamp(ceil(log2(max(1, keys))), 4, 16) (§11). */
  level(): number {
    return clientDigestLevel(this.size);
  }

  /** The bucket digests at `level`: 2 uint32 (hi, lo) per bucket, bucket order. */
  fold(level: number): Uint32Array {
    return this.#table.fold(level);
  }

  /**
   * The held keys whose bucket at `level` is replaced, plus every unhashed key (its bucket is
   * unknown, so it is treated as replaced: at worst deleted at in-sync, then re-sent).
   */
  keysIn(level: number, replaced: (bucket: number) => boolean): Set<string> {
    const out = new Set<string>(this.#unhashed);
    const w = this.#words;
    for (const [key, slot] of this.#slots) if (replaced(bucketAtLevel(w[WORDS * slot] as number, level))) out.add(key);
    return out;
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#nextSlot++;
    if (WORDS * this.#nextSlot > this.#words.length) {
      const grown = new Uint32Array(this.#words.length * 2);
      grown.set(this.#words);
      this.#words = grown;
    }
    return slot;
  }
}
