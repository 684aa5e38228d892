import type { Clock } from '../clock.ts';
import {
  assembleKvsFrame, bitmapHas, bitmapOf, type DigestTable, type EncodedKV, type FrameEntry, kvsFrameCloseBytes, MAX_DIGEST_LEVEL,
} from '../protocol/index.ts';
import type { Breadcrumb } from './breadcrumb.ts';
import type { BTree } from './btree.ts';
import type { SnapshotCache } from './cache.ts';

/** What a client's digests say against a base (PROTOCOL.md §11.6). */
export interface CatchUpComparison {
  /** 2^level bits, MSB first, set for every bucket the server replaces: the `buckets` message's `replaced`. */
  readonly bitmap: Buffer;
  /** Buckets set in `bitmap`. */
  readonly replacedBuckets: number;
  /** Keys the base holds in those buckets: what the `kvs` frames will carry. */
  readonly replacedKeys: number;
  /**
   * True when the differing buckets held more than half the base's keys: every bit is then set
   * and the session streams its shared full snapshot instead of `frames()` (same bytes for the
   * client, and a snapshot is encoded once for everyone while these frames are per client).
   */
  readonly fullSnapshot: boolean;
}

/**
 * One breadcrumb and the bucket digests of its state, shared by every session that catches up
 * by digests while it is current (as a shared snapshot is).
 *
 * Implementation: the digests are a level-16 table copied from the cache's live one; each level
 * a client asks for is folded once and kept. The keys of a bucket come from a bucket index built
 * lazily, once per base, by one pass over the breadcrumb's store: every entry in key order, and
 * per level-16 bucket the positions of its entries (counting sort, so each bucket's positions
 * are in key order). A level-L bucket is a contiguous run of level-16 buckets; its positions are
 * sorted once more to give key order inside it. So a session costs what it is sent, never a
 * pass over the keys.
 */
export class CatchUpBase {
  readonly crumb: Breadcrumb;
  /** Keys at the base breadcrumb (`snapshotEnd.keys`). */
  readonly keys: number;
  /** Clock time the base was made, for reuse. */
  readonly createdAt: number;
  /** The base breadcrumb's store, taken while it was the newest (a breadcrumb lets go of its own once superseded). */
  readonly #store: BTree<string, EncodedKV>;
  readonly #table: DigestTable;
  readonly #frameKVs: number;
  readonly #folds = new Map<number, { digests: Uint32Array; counts: Uint32Array }>();
  #index: { entries: EncodedKV[]; positions: Uint32Array; starts: Uint32Array } | undefined;

  constructor(crumb: Breadcrumb, table: DigestTable, frameKVs: number, createdAt: number) {
    this.crumb = crumb;
    this.#store = crumb.kvs;
    this.keys = crumb.kvs.size;
    this.#table = table;
    this.#frameKVs = frameKVs;
    this.createdAt = createdAt;
  }

  /** The base's digests at `level` (2 uint32 per bucket, hi then lo), folded once per level. */
  digests(level: number): Uint32Array {
    return this.#fold(level).digests;
  }

  /**
   * Compares a client's digests at `level` (2·2^level uint32, as `decodeDigests` returns them
   * concatenated) with the base's.
   */
  compare(level: number, clientDigests: Uint32Array): CatchUpComparison {
    const buckets = 2 ** level;
    if (clientDigests.length !== 2 * buckets) throw new RangeError(`${clientDigests.length / 2} client digests for level ${level}, which has ${buckets} buckets`);
    const { digests } = this.#fold(level);
    const differing = bitmapOf(buckets, (i) => digests[2 * i] !== clientDigests[2 * i] || digests[2 * i + 1] !== clientDigests[2 * i + 1]);
    return this.replace(level, differing);
  }

  /**
   * The comparison for a bitmap of the buckets whose digests differ at `level` (bucket i = byte
   * i>>3, bit 7-(i&7)), for a caller that compared the digests itself as they arrived: the
   * keys those buckets hold, or every bucket (`fullSnapshot`) when that is over half the keys.
   */
  replace(level: number, differing: Uint8Array): CatchUpComparison {
    const buckets = 2 ** level;
    const { counts } = this.#fold(level);
    let replacedBuckets = 0;
    let replacedKeys = 0;
    for (let i = 0; i < buckets; i++) {
      if (!bitmapHas(differing, i)) continue;
      replacedBuckets++;
      replacedKeys += counts[i] as number;
    }
    if (replacedKeys * 2 <= this.keys) return { bitmap: Buffer.from(differing), replacedBuckets, replacedKeys, fullSnapshot: false };
    return { bitmap: bitmapOf(buckets, () => true), replacedBuckets: buckets, replacedKeys: this.keys, fullSnapshot: true };
  }

  /**
   * Plain `kvs` frames (every entry `new`, no position mark) holding every key of the buckets set
   * in `bitmap` at `level`, as of the base breadcrumb: buckets in order, keys in key order inside
   * a bucket, closed as every `kvs` frame is (`frameKVs` entries or the close threshold).
   *
   * Lazy: each frame is assembled when the iteration reaches it, so a session sending a large
   * diff (up to half the keys before the full-snapshot fallback) holds one frame, not all of
   * them, while its socket drains. The base is immutable, so iterating across turns is safe.
   */
  *frames(bitmap: Uint8Array, level: number): Generator<Buffer, void, undefined> {
    const { entries, positions, starts } = this.#bucketIndex();
    const shift = MAX_DIGEST_LEVEL - level;
    const closeAt = kvsFrameCloseBytes();
    let batch: FrameEntry[] = [];
    let size = 0;
    for (let b = 0; b < 2 ** level; b++) {
      if (!bitmapHas(bitmap, b)) continue;
      const run = positions.slice(starts[b << shift] as number, starts[(b + 1) << shift] as number);
      if (shift > 0) run.sort();
      for (const p of run) {
        const kv = entries[p] as EncodedKV;
        batch.push({ kv, updateType: 'new' });
        size += kv.bytes.length + 1;
        if (batch.length >= this.#frameKVs || size >= closeAt) {
          yield assembleKvsFrame(batch);
          batch = [];
          size = 0;
        }
      }
    }
    if (batch.length > 0) yield assembleKvsFrame(batch);
  }

  #fold(level: number): { digests: Uint32Array; counts: Uint32Array } {
    let f = this.#folds.get(level);
    if (f === undefined) {
      f = { digests: this.#table.fold(level), counts: this.#table.counts(level) };
      this.#folds.set(level, f);
    }
    return f;
  }

  #bucketIndex(): { entries: EncodedKV[]; positions: Uint32Array; starts: Uint32Array } {
    if (this.#index !== undefined) return this.#index;
    const buckets16 = 2 ** MAX_DIGEST_LEVEL;
    const entries: EncodedKV[] = [];
    for (const [, kv] of this.#store.entries()) entries.push(kv);
    // starts[b] = first position of bucket b; starts[2^16] = number of entries.
    const starts = new Uint32Array(buckets16 + 1);
    for (const kv of entries) (starts[kv.bucket16 + 1] as number)++;
    for (let b = 0; b < buckets16; b++) starts[b + 1] = (starts[b + 1] as number) + (starts[b] as number);
    const fill = starts.slice(0, buckets16);
    const positions = new Uint32Array(entries.length);
    for (let p = 0; p < entries.length; p++) {
      const b = (entries[p] as EncodedKV).bucket16;
      positions[fill[b] as number] = p;
      fill[b] = (fill[b] as number) + 1;
    }
    this.#index = { entries, positions, starts };
    return this.#index;
  }
}

export interface CatchUpSourceOptions {
  /** Most entries per `kvs` frame, as snapshot frames (`--snapshot-frame-kvs`). */
  readonly frameKVs: number;
  /** How long a base may be reused after it was made, as snapshots (`--snapshot-reuse-ms`, 1 s). */
  readonly reuseMs: number;
  readonly clock: Clock;
}

/**
 * Hands out catch-up bases for one syncer type (as SnapshotSource hands out snapshots): the last
 * base is reused while its breadcrumb is the newest or it is younger than `reuseMs`, so a wave of
 * clients failing over to this replica costs one table copy and one bucket index per second.
 *
 * Retention: a base holds its breadcrumb (and through it every later one), so it is let go as
 * soon as it can no longer be handed out: a timer at the end of its reuse window, then, on a quiet
 * datastore, a waiter on the next breadcrumb. Sessions keep the base they use only while sending it.
 */
export class CatchUpSource {
  readonly #cache: SnapshotCache;
  readonly #opts: CatchUpSourceOptions;
  #active: CatchUpBase | undefined;

  constructor(cache: SnapshotCache, opts: CatchUpSourceOptions) {
    this.#cache = cache;
    this.#opts = opts;
  }

  acquire(): CatchUpBase {
    const now = this.#opts.clock.now();
    const a = this.#active;
    if (a !== undefined && (a.crumb === this.#cache.current() || now - a.createdAt < this.#opts.reuseMs)) return a;
    const { crumb, table } = this.#cache.digestBase();
    const base = new CatchUpBase(crumb, table, this.#opts.frameKVs, now);
    this.#active = base;
    this.#releaseWhenStale(base);
    return base;
  }

  #releaseWhenStale(base: CatchUpBase): void {
    const release = () => {
      if (this.#active === base) this.#active = undefined;
    };
    const timer = this.#opts.clock.setTimeout(() => {
      if (this.#active !== base) return;
      if (base.crumb !== this.#cache.current()) release();
      else base.crumb.onNext(release);
    }, this.#opts.reuseMs);
    timer.unref?.();
  }
}
