/**
 * Child-process entry (run with --expose-gc), one per store size: K WorkloadEndpoint keys (real
 * Pod → WEP conversion) loaded into a SnapshotCache, then the shared snapshot built from it by
 * the server's own SnapshotSource (frames of at most 1,000 KVs / 64 KiB, one per event-loop
 * turn), then every frame compressed once as the first zstd session would. Measured: the store's
 * retained memory after a full GC (V8 heap and array buffers apart, against the encoded data),
 * the time the cache spends taking the updates in, the build time, the frames' plain and zstd
 * sizes and the compression time, and the process RSS with the snapshot held. A fresh process per
 * size, so no size inherits another's heap.
 */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.ts';
import { silentLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { SnapshotCache, SnapshotSource } from '../src/snapshot/index.ts';
import type { Update } from '../src/syncer/types.ts';
import { benchSyncerSpec } from './benchSyncer.ts';
import { serveIpc } from './ipc.ts';
import { POD_KIND, podObject } from './workload.ts';

export interface StoreScalePoint {
  readonly keys: number;
  /** Retained by the store after a full GC: V8 heap and array buffers (the entries' bytes). */
  readonly heapBytes: number;
  readonly arrayBufferBytes: number;
  /** Sum of the stored entries' encoded bytes. */
  readonly encodedBytes: number;
  /** Time inside the cache's onUpdates/flush (conversion of the pods excluded). */
  readonly loadSeconds: number;
  /** SnapshotSource.acquire() until the shared snapshot is complete. */
  readonly buildSeconds: number;
  /** Full (mark-compact) garbage collections while loading and while building. */
  readonly loadMajorGcs: number;
  readonly buildMajorGcs: number;
  readonly frames: number;
  readonly snapshotBytes: number;
  readonly compressedBytes: number;
  /** Every frame compressed once (FrameCompressor, as the first zstd session does). */
  readonly compressSeconds: number;
  /** Process RSS with the store, the plain and the compressed snapshot held. */
  readonly rssBytes: number;
}

/** The frame size the server uses by default (--snapshot-frame-kvs). */
const FRAME_KVS = 1000;

function retained(): { heap: number; arrayBuffers: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/**
 * Remembers when V8 started each full (mark-compact) collection; each marks the whole live heap,
 * so its cost grows with the store. GC entries reach observers a turn of the event loop after
 * the collection, so they are counted by their start time, after a settle.
 */
class MajorGcLog {
  readonly #starts: number[] = [];
  readonly #observer = new PerformanceObserver((list) => this.#take(list.getEntries()));

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Full collections that started within [from, to] (performance.now() times). */
  async countBetween(from: number, to: number): Promise<number> {
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 10));
    this.#take(this.#observer.takeRecords());
    return this.#starts.filter((t) => t >= from && t <= to).length;
  }

  stop(): void {
    this.#observer.disconnect();
  }

  #take(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.#starts.push(e.startTime);
    }
  }
}

async function measure(keys: number): Promise<StoreScalePoint> {
  const spec = benchSyncerSpec();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const before = retained();
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock: systemClock, metrics, logger: silentLogger() });
  const gcs = new MajorGcLog();
  const loadStarted = performance.now();
  let loadMs = 0;
  for (let i = 0; i < keys; i += 1000) {
    const batch: Update[] = [];
    for (let j = i; j < Math.min(keys, i + 1000); j++) {
      for (const kv of spec.convert(POD_KIND, podObject(j, Math.max(1, keys / 100), 100))) {
        if (kv.value !== null) batch.push({ key: kv.key, value: kv.value, revision: String(j + 1), updateType: 'new' });
      }
    }
    const t0 = performance.now();
    cache.onUpdates(batch);
    cache.flush();
    loadMs += performance.now() - t0;
  }
  const loadEnded = performance.now();
  const after = retained();
  let encodedBytes = 0;
  for (const [, kv] of cache.current().kvs.entries()) encodedBytes += kv.bytes.length;

  const source = new SnapshotSource(cache, { frameKVs: FRAME_KVS, reuseMs: 60_000, clock: systemClock, metrics });
  const t0 = performance.now();
  const snap = source.acquire();
  for (let i = 0; ; i++) {
    await snap.waitFor(i);
    if (i >= snap.frames.length) break;
  }
  const built = performance.now();
  const buildSeconds = (built - t0) / 1000;
  const t1 = performance.now();
  let compressedBytes = 0;
  for (const f of snap.frames) compressedBytes += f.compressed.length;
  const compressSeconds = (performance.now() - t1) / 1000;
  const loadMajorGcs = await gcs.countBetween(loadStarted, loadEnded);
  const buildMajorGcs = await gcs.countBetween(t0, built);
  gcs.stop();
  const point: StoreScalePoint = {
    keys: cache.size(), heapBytes: after.heap - before.heap, arrayBufferBytes: after.arrayBuffers - before.arrayBuffers, encodedBytes,
    loadSeconds: loadMs / 1000, buildSeconds, loadMajorGcs, buildMajorGcs, frames: snap.frames.length, snapshotBytes: snap.bytes, compressedBytes, compressSeconds,
    rssBytes: process.memoryUsage.rss(),
  };
  cache.close();
  return point;
}

if (import.meta.main) serveIpc({ measure: (a: { keys: number }) => measure(a.keys) });
