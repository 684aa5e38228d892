import { assembleKvsFrames, type EncodedKV, type FrameEntry } from '../protocol/index.ts';
import type { SyncStatus } from '../syncer/types.ts';
import type { BTree } from './btree.ts';
import { type FrameCompressor, SharedFrame } from './sharedFrame.ts';

/** Shared frames covering the deltas from one breadcrumb through `last`. */
export interface Coalesced {
  readonly frames: readonly SharedFrame[];
  readonly last: Breadcrumb;
  readonly kvs: number;
}

/**
 * A waiter that is an object rather than a closure (see Breadcrumb.wait): a session waits as
 * itself, so an idle connection keeps no waiter closure and no withdrawal closure.
 */
export interface BreadcrumbWaiter {
  breadcrumbMinted(next: Breadcrumb): void;
}

/**
 * One published step of the cache (Typha's breadcrumb): the whole store as of this step, the
 * deltas that led to it, and the sync status at the end of it. Breadcrumbs form a singly linked
 * chain; a session holds the one it is about to send and follows `next` at its own pace, so the
 * publisher keeps no per-client state and a slow client only keeps alive the chain after it.
 *
 * Retention: the link points forward only, so whoever holds a breadcrumb holds every breadcrumb
 * minted after it. The cache holds only the newest; a session holds only the last one it sent
 * (bounded by the backlog and fall-behind rules); a shared snapshot holds its own until it can
 * no longer be reused. Waiters are removable so a closed session leaves nothing behind on the
 * newest breadcrumb of a quiet datastore. Nothing else may keep one.
 */
export class Breadcrumb {
  readonly seq: number;
  /** Clock time at minting, ms. Fall-behind compares these, never wall-clock idle time. */
  readonly timestamp: number;
  /** Keys in the store as of this step; kept after the store itself is let go (`kvs`). */
  readonly keyCount: number;
  /** The store as of this step, until a successor is linked (see `kvs`). */
  #kvs: BTree<string, EncodedKV> | undefined;
  readonly deltas: readonly FrameEntry[];
  readonly status: SyncStatus;
  /**
   * Encoded bytes of the deltas of every breadcrumb from the first through this one, so that
   * `b.deltaBytesThrough - a.deltaBytesThrough` is what a session at `a` still has to receive
   * to reach `b`: the backlog rule's measure, in O(1).
   */
  readonly deltaBytesThrough: number;
  #next: Breadcrumb | undefined;
  #waiters: Set<((next: Breadcrumb) => void) | BreadcrumbWaiter> | undefined;
  #coalesced: Coalesced | undefined;
  /** Compresses this syncer type's delta frames for the sessions that negotiated it (shared by the whole chain). */
  readonly #compressor: FrameCompressor;

  constructor(seq: number, timestamp: number, kvs: BTree<string, EncodedKV>, deltas: readonly FrameEntry[], status: SyncStatus, compressor: FrameCompressor, bytesBefore = 0) {
    this.seq = seq;
    this.#compressor = compressor;
    this.timestamp = timestamp;
    this.#kvs = kvs;
    this.keyCount = kvs.size;
    this.deltas = deltas;
    this.status = status;
    let bytes = bytesBefore;
    for (const d of deltas) bytes += d.kv.bytes.length;
    this.deltaBytesThrough = bytes;
  }

  /**
   * Read-only O(1) copy-on-write clone of the store as of this step; iterates in key order.
   * Only the newest breadcrumb has it: linking a successor lets it go, because an old clone
   * keeps alive every B-tree node the live store has copied since, and breadcrumbs outlive
   * their turn (retained for resume, held by lagging sessions). What needs the state of a step
   * takes the store while that step is the newest (a shared snapshot's iterator, a catch-up
   * base) and holds it itself.
   */
  get kvs(): BTree<string, EncodedKV> {
    const kvs = this.#kvs;
    if (kvs === undefined) throw new Error(`breadcrumb ${this.seq} has a successor and no longer holds its store`);
    return kvs;
  }

  /** The following breadcrumb if already minted. */
  get next(): Breadcrumb | undefined {
    return this.#next;
  }

  /**
   * Calls `fn` once with the following breadcrumb: at once if it exists, else synchronously when
   * the cache links it, inside the cache's publish (so `fn` must be quick and must not throw).
   * Returns a function that withdraws `fn`; a waiter that goes away must call it, or it stays
   * reachable from this breadcrumb for as long as no successor is minted.
   */
  onNext(fn: (next: Breadcrumb) => void): () => void {
    if (this.#next !== undefined) {
      fn(this.#next);
      return () => {};
    }
    const waiters = (this.#waiters ??= new Set());
    waiters.add(fn);
    return () => {
      waiters.delete(fn);
    };
  }

  /**
   * As onNext, for a waiter object: `waiter.breadcrumbMinted(next)` is called once, at once if
   * the successor exists, else inside the cache's publish. Withdrawn with `unwait(waiter)`.
   */
  wait(waiter: BreadcrumbWaiter): void {
    if (this.#next !== undefined) {
      waiter.breadcrumbMinted(this.#next);
      return;
    }
    (this.#waiters ??= new Set()).add(waiter);
  }

  /** Withdraws a waiter given to `wait`; nothing if it was already called or never waited. */
  unwait(waiter: BreadcrumbWaiter): void {
    this.#waiters?.delete(waiter);
  }

  /**
   * This breadcrumb's deltas, plus those of the breadcrumbs already minted after it, added whole
   * until the run holds at least `maxKVs` KVs, as `kvs` frames of at most `maxKVs` entries.
   * Memoized on this breadcrumb and shared by every session whose next breadcrumb this is:
   * nothing is assembled or compressed per client, and a lagging client catches up in few, large frames.
   *
   * Implementation: the memo is final once its run holds `maxKVs` KVs or nothing has been
   * minted after its end; otherwise it is rebuilt over the longer chain and replaces the old
   * one. A caught-up session asks the moment a breadcrumb is minted, when the run can only be
   * that breadcrumb; keeping that first answer for good gave a session behind it one frame per
   * breadcrumb. A rebuild happens only when someone asks after the chain grew, and each memo
   * is one frame's worth of KVs that lives and dies with this breadcrumb.
   */
  coalescedFrames(maxKVs: number): Coalesced {
    const memo = this.#coalesced;
    if (memo !== undefined && (memo.kvs >= maxKVs || memo.last.next === undefined)) return memo;
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
    // The last frame carries the position mark `seq` of the run's last breadcrumb (PROTOCOL.md §11.1).
    const frames = assembleKvsFrames(entries, maxKVs, last.seq).map((f) => new SharedFrame(f, this.#compressor));
    this.#coalesced = { frames, last, kvs: entries.length };
    return this.#coalesced;
  }

  /** Drops the coalesced-frame memo (it is rebuilt if asked again): retention calls it on old breadcrumbs. */
  forgetCoalesced(): void {
    this.#coalesced = undefined;
  }

  /** Called once by the cache when it mints the successor. */
  link(next: Breadcrumb): void {
    if (this.#next !== undefined) throw new Error(`breadcrumb ${this.seq} already linked`);
    this.#next = next;
    this.#kvs = undefined;
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters === undefined) return;
    for (const w of waiters) {
      if (typeof w === 'function') w(next);
      else w.breadcrumbMinted(next);
    }
  }
}
