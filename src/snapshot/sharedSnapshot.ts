import type { Clock } from '../clock.ts';
import type { Metrics } from '../metrics.ts';
import { assembleKvsFrame, Codec, KVS_FRAME_CLOSE_BYTES, type FrameEntry } from '../protocol/index.ts';
import type { Breadcrumb } from './breadcrumb.ts';
import type { SnapshotCache } from './cache.ts';
import { FrameCompressor, SharedFrame } from './sharedFrame.ts';

/**
 * Frames stop growing at this many bytes even below the KV count: big enough to amortise the
 * per-frame cost, small enough that one frame per session per event-loop turn stays cheap in a
 * reconnect storm. The same threshold as every `kvs` frame (room for a position mark), so the
 * largest frame bound holds for snapshots too.
 */
const MAX_FRAME_BYTES = KVS_FRAME_CLOSE_BYTES;

/**
 * The snapshot of one breadcrumb, encoded once into `kvs` frames (every entry `new`) followed by
 * a `snapshotEnd` frame, and shared by every client that joins while it is active. It is built in
 * chunks, one frame per turn of the event loop, so pings, health checks and other sessions keep
 * running during a large snapshot; readers stream the frames already built while the rest is
 * still being encoded (Typha's multi-reader buffer). Each frame is compressed at most once, by
 * the first session that negotiated compression to reach it (SharedFrame).
 */
export class SharedSnapshot {
  readonly crumb: Breadcrumb;
  readonly frames: SharedFrame[] = [];
  #done = false;
  #finishedAt = 0;
  #bytes = 0;
  #waiters: Array<() => void> = [];

  constructor(crumb: Breadcrumb) {
    this.crumb = crumb;
  }

  get done(): boolean {
    return this.#done;
  }

  get finishedAt(): number {
    return this.#finishedAt;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Resolves once frame `index` exists or the snapshot is complete (then `frames.length <= index`). */
  async waitFor(index: number): Promise<void> {
    while (index >= this.frames.length && !this.#done) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  push(frame: SharedFrame): void {
    this.frames.push(frame);
    this.#bytes += frame.plain.length;
    this.#wake();
  }

  finish(at: number): void {
    this.#done = true;
    this.#finishedAt = at;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }
}

export interface SnapshotSourceOptions {
  readonly frameKVs: number;
  readonly reuseMs: number;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

/**
 * Hands out shared snapshots for one syncer type, building a new one only when the active one has
 * expired.
 *
 * Retention: the active snapshot holds its breadcrumb, and through it every breadcrumb minted
 * since, so it is let go the moment it can no longer be reused (its reuse window over and a newer
 * breadcrumb minted): one timer per syncer type at the end of the window, then, on a quiet
 * datastore, a waiter on the next breadcrumb. Keeping it until the next join instead pinned the
 * whole history of a fleet whose clients stay connected.
 */
export class SnapshotSource {
  readonly #cache: SnapshotCache;
  readonly #opts: SnapshotSourceOptions;
  readonly #codec = new Codec();
  readonly #compressor: FrameCompressor;
  #active: SharedSnapshot | undefined;

  constructor(cache: SnapshotCache, opts: SnapshotSourceOptions) {
    this.#cache = cache;
    this.#opts = opts;
    this.#compressor = new FrameCompressor(opts.metrics, cache.syncerType, 'snapshot');
  }

  /**
   * The snapshot a joining client should receive. The active one is reused while it is still
   * being built, within `reuseMs` of its completion, or for as long as no newer breadcrumb
   * exists (so a quiet datastore encodes once however many clients join). Reusing an older
   * snapshot is safe: the client's deltas start at the snapshot's own breadcrumb.
   */
  acquire(): SharedSnapshot {
    const labels = { syncer: this.#cache.syncerType };
    const a = this.#active;
    if (a !== undefined && (!a.done || this.#opts.clock.now() - a.finishedAt < this.#opts.reuseMs || a.crumb === this.#cache.current())) {
      this.#opts.metrics.snapshotsReused.inc(labels);
      return a;
    }
    const snap = new SharedSnapshot(this.#cache.current());
    this.#active = snap;
    this.#opts.metrics.snapshotsGenerated.inc(labels);
    void this.#build(snap);
    return snap;
  }

  async #build(snap: SharedSnapshot): Promise<void> {
    const { clock, metrics, frameKVs } = this.#opts;
    const started = performance.now();
    let entries: FrameEntry[] = [];
    let size = 0;
    let keys = 0;
    for (const [, kv] of snap.crumb.kvs.entries()) {
      entries.push({ kv, updateType: 'new' });
      size += kv.bytes.length + 1;
      keys++;
      if (entries.length >= frameKVs || size >= MAX_FRAME_BYTES) {
        snap.push(new SharedFrame(assembleKvsFrame(entries), this.#compressor));
        entries = [];
        size = 0;
        // Yield between frames: a 100,000-key snapshot must not block pings or health checks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (entries.length > 0) snap.push(new SharedFrame(assembleKvsFrame(entries), this.#compressor));
    snap.push(new SharedFrame(this.#codec.encode({ type: 'snapshotEnd', seq: snap.crumb.seq, keys }), this.#compressor));
    snap.finish(clock.now());
    this.#releaseWhenStale(snap);
    const labels = { syncer: this.#cache.syncerType };
    metrics.snapshotRawBytes.set(labels, snap.bytes);
    metrics.snapshotBuildSeconds.observe(labels, (performance.now() - started) / 1000);
  }

  /** Drops the active snapshot once `acquire` could no longer hand it out. */
  #releaseWhenStale(snap: SharedSnapshot): void {
    const release = () => {
      if (this.#active === snap) this.#active = undefined;
    };
    const timer = this.#opts.clock.setTimeout(() => {
      if (this.#active !== snap) return;
      if (snap.crumb !== this.#cache.current()) release();
      // A quiet datastore: reusable until a newer breadcrumb exists.
      else snap.crumb.onNext(release);
    }, this.#opts.reuseMs);
    timer.unref?.();
  }
}
