import { assembleKvsFrames, type EncodedKV, type FrameEntry } from '../protocol/index.ts';
import type { SyncStatus } from '../syncer/types.ts';
import type { BTree } from './btree.ts';

/** Shared frames covering the deltas from one breadcrumb through `last`. */
export interface Coalesced {
  readonly frames: readonly Buffer[];
  readonly last: Breadcrumb;
  readonly kvs: number;
}

/**
 * One published step of the cache (Typha's breadcrumb): the whole store as of this step, the
 * deltas that led to it, and the sync status at the end of it. Breadcrumbs form a singly linked
 * chain; a session holds the one it is about to send and follows `next` at its own pace, so the
 * publisher keeps no per-client state and a slow client only keeps alive the chain after it.
 */
export class Breadcrumb {
  readonly seq: number;
  /** Clock time at minting, ms. Fall-behind compares these, never wall-clock idle time. */
  readonly timestamp: number;
  /** Read-only O(1) copy-on-write clone of the store; iterates in key order. */
  readonly kvs: BTree<string, EncodedKV>;
  readonly deltas: readonly FrameEntry[];
  readonly status: SyncStatus;
  #next: Breadcrumb | undefined;
  #waiters: Array<(next: Breadcrumb) => void> = [];
  #coalesced: Coalesced | undefined;

  constructor(seq: number, timestamp: number, kvs: BTree<string, EncodedKV>, deltas: readonly FrameEntry[], status: SyncStatus) {
    this.seq = seq;
    this.timestamp = timestamp;
    this.kvs = kvs;
    this.deltas = deltas;
    this.status = status;
  }

  /** The following breadcrumb if already minted. */
  get next(): Breadcrumb | undefined {
    return this.#next;
  }

  /** Resolves with the following breadcrumb, at once if it exists. */
  nextAsync(): Promise<Breadcrumb> {
    if (this.#next !== undefined) return Promise.resolve(this.#next);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * This breadcrumb's deltas, plus those of the breadcrumbs already minted after it up to
   * `maxKVs`, as `kvs` frames of at most `maxKVs` entries. Computed once, by the first session
   * that asks, and shared by every other session at the same point: nothing is assembled per
   * client, and a lagging client catches up in fewer, larger frames. A later session that could have seen a longer chain coalesces a little
   * less, which is still correct: it continues from `last`.
   */
  coalescedFrames(maxKVs: number): Coalesced {
    if (this.#coalesced !== undefined) return this.#coalesced;
    let entries: readonly FrameEntry[] = this.deltas;
    let last: Breadcrumb = this;
    if (entries.length < maxKVs && this.#next !== undefined) {
      const more = [...this.deltas];
      while (more.length < maxKVs && last.next !== undefined) {
        last = last.next;
        more.push(...last.deltas);
      }
      entries = more;
    }
    const frames = assembleKvsFrames(entries, maxKVs);
    this.#coalesced = { frames, last, kvs: entries.length };
    return this.#coalesced;
  }

  /** Called once by the cache when it mints the successor. */
  link(next: Breadcrumb): void {
    if (this.#next !== undefined) throw new Error(`breadcrumb ${this.seq} already linked`);
    this.#next = next;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(next);
  }
}
