/**
 * Child-process entry (run with --expose-gc): the memory a SnapshotCache holds for K
 * WorkloadEndpoint keys, measured in isolation — heap plus array buffers after a full GC, before
 * and after loading — against the encoded size of the data (the sum of the stored entries'
 * bytes). Updates are produced and fed in batches so the inputs are garbage by the measurement.
 */
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.ts';
import { silentLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { SnapshotCache } from '../src/snapshot/index.ts';
import type { Update } from '../src/syncer/types.ts';
import { benchSyncerSpec } from './benchSyncer.ts';
import { serveIpc } from './ipc.ts';
import { POD_KIND, podObject } from './workload.ts';

export interface StoreMemory {
  readonly keys: number;
  readonly heldBytes: number;
  readonly encodedBytes: number;
}

function retained(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function measure(keys: number): StoreMemory {
  const spec = benchSyncerSpec();
  const before = retained();
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock: systemClock, metrics: createMetrics(new Registry(), { defaultMetrics: false }), logger: silentLogger() });
  for (let i = 0; i < keys; i += 1000) {
    const batch: Update[] = [];
    for (let j = i; j < Math.min(keys, i + 1000); j++) {
      for (const kv of spec.convert(POD_KIND, podObject(j, Math.max(1, keys / 100), 100))) {
        if (kv.value !== null) batch.push({ key: kv.key, value: kv.value, revision: String(j + 1), updateType: 'new' });
      }
    }
    cache.onUpdates(batch);
    cache.flush();
  }
  const after = retained();
  let encodedBytes = 0;
  for (const [, kv] of cache.current().kvs.entries()) encodedBytes += kv.bytes.length;
  const held = after - before;
  const size = cache.size();
  cache.close();
  return { keys: size, heldBytes: held, encodedBytes };
}

if (import.meta.main) serveIpc({ measure: (a: { keys: number }) => measure(a.keys) });
