import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { DigestTable, type EncodedKV, type FrameEntry, KVEncoder, kvHash, sameValue } from '../protocol/index.ts';
import type { SyncerSink, SyncStatus, Update } from '../syncer/types.ts';
import { Breadcrumb } from './breadcrumb.ts';
import { BTree } from './btree.ts';
import { Retention, type ResumeLookup, type RetentionOptions, type RetentionStats } from './retention.ts';
import { FrameCompressor } from './sharedFrame.ts';

export interface SnapshotCacheOptions {
  readonly syncerType: string;
  /** Most updates per breadcrumb (Typha's MaxBatchSize, 100). */
  readonly maxBatchSize: number;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /**
   * History kept for resuming clients (PROTOCOL.md §11.5). Absent, or 0 in either bound, keeps
   * none: resume is then `disabled` and memory is as without resume.
   */
  readonly retention?: RetentionOptions;
}

/**
 * The per-syncer-type store and breadcrumb chain (Typha's snapcache).
 *
 * Implementation: updates are accepted synchronously and queued; a flush scheduled with
 * setImmediate turns everything queued in one turn of the event loop into breadcrumbs of at most
 * `maxBatchSize` deltas, so a 10,000-object listing becomes 100 breadcrumbs while a trickle of
 * single changes is published with one turn of latency. Each update is encoded exactly once, here;
 * the bytes are shared by dedupe, every delta frame and every snapshot.
 *
 * Why not publish per update: each breadcrumb costs a clone and a wake-up of every session, and
 * clients catch up in larger frames when breadcrumbs carry batches.
 *
 * Digest catch-up: the cache also keeps the bucket digests of its store (digest.ts), XORing
 * each update's old KV hash out and its new one in as it applies it, so that outside a flush the
 * table is the state of `current()` and a catch-up base costs one copy, never a pass over the keys.
 * The KV hash is recomputed from the stored bytes when a key changes rather than kept beside
 * them: 8 bytes per key (16 as two numbers) would grow the store, a SHA-256 of one entry is
 * about a microsecond.
 */
export class SnapshotCache implements SyncerSink {
  readonly syncerType: string;
  readonly #opts: SnapshotCacheOptions;
  readonly #encoder = new KVEncoder();
  readonly #store: BTree<string, EncodedKV> = new BTree<string, EncodedKV>();
  readonly #deltaCompressor: FrameCompressor;
  readonly #digests = new DigestTable();
  readonly #retention: Retention;
  #current: Breadcrumb;
  #pending: Update[] = [];
  #pendingStatus: SyncStatus | undefined;
  #flushScheduled = false;
  #closed = false;

  constructor(opts: SnapshotCacheOptions) {
    this.#opts = opts;
    this.syncerType = opts.syncerType;
    this.#deltaCompressor = new FrameCompressor(opts.metrics, opts.syncerType, 'delta');
    this.#current = new Breadcrumb(0, opts.clock.now(), this.#store.clone(), [], 'wait-for-datastore', this.#deltaCompressor);
    this.#retention = new Retention(opts.retention);
    this.#retention.published(this.#current, opts.clock.now());
    opts.metrics.cacheSize.set({ syncer: this.syncerType }, 0);
    opts.metrics.breadcrumbSeq.set({ syncer: this.syncerType }, 0);
  }

  /** The newest breadcrumb. */
  current(): Breadcrumb {
    return this.#current;
  }

  size(): number {
    return this.#store.size;
  }

  /**
   * The retained breadcrumb `seq`, to resume a client from (its deltas after it follow), or why
   * not: `disabled` (no retention), `future` (newer than the newest: a seq from another
   * process with the same id cannot happen, so a client bug), `expired` (left the window).
   */
  resumeFrom(seq: number): ResumeLookup {
    return this.#retention.find(seq, this.#opts.clock.now());
  }

  retentionStats(): RetentionStats {
    return this.#retention.stats(this.#opts.clock.now());
  }

  /**
   * The newest breadcrumb with a copy of the bucket digests of its state (768 KiB, one memcpy).
   * Call it outside a flush (from a session's message handler or a timer), where the live table
   * is exactly the state of `current()`; inside a breadcrumb waiter it is too.
   */
  digestBase(): { readonly crumb: Breadcrumb; readonly table: DigestTable } {
    return { crumb: this.#current, table: this.#digests.copy() };
  }

  onUpdates(updates: readonly Update[]): void {
    if (this.#closed || updates.length === 0) return;
    for (const u of updates) this.#pending.push(u);
    this.#schedule();
  }

  onStatus(status: SyncStatus): void {
    if (this.#closed) return;
    this.#pendingStatus = status;
    this.#schedule();
  }

  /** Publishes whatever is queued now (normally done on the next turn of the event loop). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const pending = this.#pending;
    this.#pending = [];
    const status = this.#pendingStatus ?? this.#current.status;
    this.#pendingStatus = undefined;
    const max = this.#opts.maxBatchSize;
    if (pending.length === 0) {
      if (status !== this.#current.status) this.#publish([], status);
      return;
    }
    for (let i = 0; i < pending.length; i += max) {
      const isLast = i + max >= pending.length;
      // The new status rides on the last breadcrumb only, so no client sees in-sync before an
      // update that preceded it.
      const deltas = this.#apply(pending, i, Math.min(i + max, pending.length));
      const crumbStatus = isLast ? status : this.#current.status;
      if (deltas.length > 0 || crumbStatus !== this.#current.status) this.#publish(deltas, crumbStatus);
      else this.#opts.metrics.breadcrumbSize.observe({ syncer: this.syncerType }, 0);
    }
  }

  close(): void {
    this.#closed = true;
    this.#pending = [];
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flush());
  }

  #apply(pending: readonly Update[], from: number, to: number): FrameEntry[] {
    const { metrics } = this.#opts;
    const labels = { syncer: this.syncerType };
    const deltas: FrameEntry[] = [];
    for (let i = from; i < to; i++) {
      const u = pending[i] as Update;
      metrics.updatesTotal.inc(labels);
      const old = this.#store.get(u.key);
      const kv = this.#encoder.encode(u.key, u.value, u.revision, old?.bucket16);
      if (kv.isDeletion) {
        // Deletions always pass, even for a key not held: the client may hold it from an
        // earlier connection's state, and its stats count them.
        if (old !== undefined) {
          this.#store.delete(u.key);
          this.#digestOut(old);
        }
        deltas.push({ kv, updateType: 'deleted' });
        continue;
      }
      if (old !== undefined && sameValue(old, kv)) {
        metrics.updatesSkipped.inc(labels);
        continue;
      }
      this.#store.set(u.key, kv);
      if (old !== undefined) this.#digestOut(old);
      const { hi, lo } = kvHash(kv.bytes, 1, kv.valueEnd);
      this.#digests.add(kv.bucket16, hi, lo);
      // Deltas keep the syncer's type (Typha does the same); only a non-nil value labelled
      // deleted is nonsensical and gets the type the store implies.
      const type = u.updateType !== 'deleted' ? u.updateType : old === undefined ? 'new' : 'updated';
      deltas.push({ kv, updateType: type });
    }
    return deltas;
  }

  /** Takes a held entry out of the digests: its KV hash over the key and value bytes, as clients hash them. */
  #digestOut(old: EncodedKV): void {
    const { hi, lo } = kvHash(old.bytes, 1, old.valueEnd);
    this.#digests.remove(old.bucket16, hi, lo);
  }

  #publish(deltas: readonly FrameEntry[], status: SyncStatus): void {
    const { metrics, clock } = this.#opts;
    const labels = { syncer: this.syncerType };
    const prev = this.#current;
    const crumb = new Breadcrumb(prev.seq + 1, clock.now(), this.#store.clone(), deltas, status, this.#deltaCompressor, prev.deltaBytesThrough);
    this.#current = crumb;
    metrics.breadcrumbSize.observe(labels, deltas.length);
    metrics.breadcrumbSeq.set(labels, crumb.seq);
    metrics.cacheSize.set(labels, this.#store.size);
    this.#retention.published(crumb, crumb.timestamp);
    prev.link(crumb);
  }
}
