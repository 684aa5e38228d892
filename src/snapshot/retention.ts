import type { Breadcrumb } from './breadcrumb.ts';

/** How much history the cache keeps for clients that resume (PROTOCOL.md §11.5). 0 in either disables resume. */
export interface RetentionOptions {
  /** A breadcrumb stays while it was superseded at most this long ago (`--resume-retention-ms`). */
  readonly maxAgeMs: number;
  /** ... and while the deltas minted after it total at most this many encoded bytes (`--resume-retention-bytes`). */
  readonly maxBytes: number;
}

/** How long a superseded breadcrumb keeps its coalesced delta frames inside the window (see Retention). */
const MEMO_KEEP_MS = 2000;

export type ResumeLookup = { readonly crumb: Breadcrumb } | { readonly reason: 'expired' | 'future' | 'disabled' };

export interface RetentionStats {
  /** Breadcrumbs retained, the newest included. */
  readonly breadcrumbs: number;
  /** Encoded bytes of the deltas after the oldest retained breadcrumb: what a client resuming from it would receive. */
  readonly deltaBytes: number;
  /**
   * Time since the oldest retained breadcrumb was superseded (0 when it is the newest): a client
   * that lost its connection less than this long ago can still resume.
   */
  readonly oldestAgeMs: number;
}

/**
 * The window of breadcrumbs a reconnecting client may resume from, owned by the cache.
 *
 * Retention: breadcrumbs link forward, so holding the oldest retained one would already keep
 * every later one alive; the window also keeps them in an array so a lookup by `seq` is O(1)
 * (seqs are consecutive: each breadcrumb is its predecessor's + 1). A breadcrumb leaves the
 * window when (a) its successor is older than `maxAgeMs` or (b) more than `maxBytes` of deltas
 * were minted after it; both only grow along the chain, so pruning drops a prefix. It is
 * pruned at each publish and at each lookup, so a quiet datastore still lets go of old history
 * when a client or a metrics scrape asks. The newest breadcrumb is always in the window.
 *
 * What a retained breadcrumb costs is its deltas and the B-tree nodes its store clone no longer
 * shares with the newest; `maxBytes` bounds the first directly and the second in proportion
 * (node copies happen once per changed key per breadcrumb).
 *
 * Why not keep history only while someone resumes: the point is a client that is gone (its
 * connection cut, its replica killed) and has not come back yet; nobody is connected to ask.
 */
export class Retention {
  readonly #opts: RetentionOptions | undefined;
  /** Retained breadcrumbs, oldest first, from index `#head` (a prefix is dropped lazily, then compacted). */
  #crumbs: Array<Breadcrumb | undefined> = [];
  #head = 0;
  /** Index of the oldest retained breadcrumb whose coalesced-frame memo has not been let go yet. */
  #memoCursor = 0;

  constructor(opts: RetentionOptions | undefined) {
    this.#opts = opts;
  }

  /** False when resume is off: no history is kept at all. */
  get enabled(): boolean {
    const o = this.#opts;
    return o !== undefined && o.maxAgeMs > 0 && o.maxBytes > 0;
  }

  /** Records a newly published breadcrumb (the cache's newest) and prunes. */
  published(crumb: Breadcrumb, now: number): void {
    if (!this.enabled) return;
    this.#crumbs.push(crumb);
    this.#prune(now);
    this.#forgetOldMemos(now);
  }

  /**
   * Lets go of the coalesced delta frames memoized on breadcrumbs superseded more than
   * `MEMO_KEEP_MS` ago. Caught-up sessions ask for a breadcrumb's frames within milliseconds of
   * its minting; after that only a lagging or resuming session asks, and it rebuilds the memo
   * once (then shared again by whoever is at the same point). Kept for the whole window, the
   * memos were a second copy of every retained delta, about half of what retention cost in heap.
   * Each breadcrumb is passed once, so a memo rebuilt behind the cursor stays until the
   * breadcrumb leaves the window.
   */
  #forgetOldMemos(now: number): void {
    const crumbs = this.#crumbs;
    let i = Math.max(this.#memoCursor, this.#head);
    while (i < crumbs.length - 1 && now - (crumbs[i + 1] as Breadcrumb).timestamp > MEMO_KEEP_MS) {
      (crumbs[i] as Breadcrumb).forgetCoalesced();
      i++;
    }
    this.#memoCursor = i;
  }

  /** The retained breadcrumb `seq`, or why there is none. */
  find(seq: number, now: number): ResumeLookup {
    if (!this.enabled) return { reason: 'disabled' };
    this.#prune(now);
    const newest = this.#crumbs[this.#crumbs.length - 1] as Breadcrumb;
    if (seq > newest.seq) return { reason: 'future' };
    const oldest = this.#crumbs[this.#head] as Breadcrumb;
    if (seq < oldest.seq) return { reason: 'expired' };
    const crumb = this.#crumbs[this.#head + seq - oldest.seq] as Breadcrumb;
    if (crumb.seq !== seq) throw new Error(`retention window out of order: found ${crumb.seq} for ${seq}`);
    return { crumb };
  }

  stats(now: number): RetentionStats {
    if (!this.enabled || this.#crumbs.length === 0) return { breadcrumbs: 0, deltaBytes: 0, oldestAgeMs: 0 };
    this.#prune(now);
    const oldest = this.#crumbs[this.#head] as Breadcrumb;
    const newest = this.#crumbs[this.#crumbs.length - 1] as Breadcrumb;
    const next = this.#crumbs[this.#head + 1];
    return {
      breadcrumbs: this.#crumbs.length - this.#head,
      deltaBytes: newest.deltaBytesThrough - oldest.deltaBytesThrough,
      oldestAgeMs: next === undefined ? 0 : Math.max(0, now - next.timestamp),
    };
  }

  #prune(now: number): void {
    const { maxAgeMs, maxBytes } = this.#opts as RetentionOptions;
    const crumbs = this.#crumbs;
    const newest = crumbs[crumbs.length - 1] as Breadcrumb;
    let head = this.#head;
    while (head < crumbs.length - 1) {
      const oldest = crumbs[head] as Breadcrumb;
      const supersededAt = (crumbs[head + 1] as Breadcrumb).timestamp;
      if (now - supersededAt <= maxAgeMs && newest.deltaBytesThrough - oldest.deltaBytesThrough <= maxBytes) break;
      crumbs[head] = undefined; // let it go now, not at the next compaction
      head++;
    }
    // Compact once the dropped prefix is half the array: amortised O(1) per breadcrumb.
    if (head > 1024 && head * 2 > crumbs.length) {
      this.#crumbs = crumbs.slice(head);
      this.#memoCursor = Math.max(0, this.#memoCursor - head);
      head = 0;
    }
    this.#head = head;
  }
}
