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

/**
 * The bucket digests of what the host holds, for digest catch-up (§11): for each held key its
 * bucket and KV hash, and the level-16 XOR table kept up to date as keys are set and deleted, so
 * a reconnect folds the table (2^16 XORs at most) instead of rehashing every key.
 *
 * A key applied without a hash (an agent driving `ResyncBuffer` by hand with plain entries) is
 * remembered as unhashed: while any is held the digests cannot describe the state, so the
 * client does not offer digest catch-up (`complete` is false).
 */
export class HeldDigests {
  readonly #hashes = new Map<string, KvHash>();
  readonly #unhashed = new Set<string>();
  readonly #table = new DigestTable();

  /** Every held key has a hash: the digests describe exactly what the host holds. */
  get complete(): boolean {
    return this.#unhashed.size === 0;
  }

  get size(): number {
    return this.#hashes.size + this.#unhashed.size;
  }

  /** The key is now held with this hash (replacing any earlier one). */
  set(key: string, hash: KvHash | undefined): void {
    this.delete(key);
    if (hash === undefined) {
      this.#unhashed.add(key);
      return;
    }
    this.#hashes.set(key, hash);
    this.#table.add(hash.bucket16, hash.hi, hash.lo);
  }

  /** The key is no longer held. */
  delete(key: string): void {
    const old = this.#hashes.get(key);
    if (old !== undefined) {
      this.#hashes.delete(key);
      this.#table.remove(old.bucket16, old.hi, old.lo);
      return;
    }
    this.#unhashed.delete(key);
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
    for (const [key, h] of this.#hashes) if (replaced(bucketAtLevel(h.bucket16, level))) out.add(key);
    return out;
  }
}
