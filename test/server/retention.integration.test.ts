import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import { CloseCode } from '../../src/protocol/index.ts';
import type { Breadcrumb } from '../../src/snapshot/index.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { collectGarbage } from '../support/collectGarbage.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

/**
 * What the server keeps alive while clients stay connected. Breadcrumbs link forward, so one
 * stray reference to an old breadcrumb keeps every later one (and its deltas) in memory: these
 * tests watch real reachability (WeakRefs and forced full collections), not a counter.
 */

const blobSpec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_kind, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};
const POOL = 50;
const VALUE_BYTES = 4096;
const MiB = 1024 * 1024;
const socketOf = (c: TestClient) => (c.ws as unknown as { _socket: Socket })._socket;

async function start(flags: string[]): Promise<{ h: Harness; ds: MemoryDatastore }> {
  const ds = new MemoryDatastore();
  for (let i = 0; i < POOL; i++) write(ds, i);
  const h = await startCattail({ datastore: ds, specs: { felix: blobSpec }, flags: ['--syncer-types', 'felix', '--snapshot-reuse-ms', '200', ...flags] });
  await eventually(() => h.app.readiness().ready, 'ready');
  return { h, ds };
}

function write(ds: MemoryDatastore, i: number): void {
  ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `b-${i % POOL}` }, spec: { blob: `${i}:`.padEnd(VALUE_BYTES, 'x') } });
}

/**
 * Writes at least `mib` MiB of values in bursts over the event loop, and then more until `until`
 * holds (at most 512 MiB), keeping a WeakRef to each breadcrumb minted on the way (read from the
 * cache, so the test itself holds none). Returns the refs and the index of the last write.
 */
async function churn(h: Harness, ds: MemoryDatastore, mib: number, until: () => boolean | Promise<boolean> = () => true): Promise<{ refs: WeakRef<Breadcrumb>[]; last: number }> {
  const cache = h.app.caches.get('felix')!;
  const refs: WeakRef<Breadcrumb>[] = [];
  const writesPerMiB = MiB / VALUE_BYTES;
  let i = POOL;
  for (let written = 0; written < 512; written++) {
    if (written >= mib && (await until())) break;
    for (let n = 0; n < writesPerMiB; n += 20) {
      for (let k = 0; k < 20; k++) write(ds, i++);
      await new Promise((resolve) => setImmediate(resolve));
      refs.push(new WeakRef(cache.current()));
    }
  }
  return { refs, last: i - 1 };
}

const live = (refs: readonly WeakRef<Breadcrumb>[]) => refs.filter((r) => r.deref() !== undefined).length;

async function backlogExceeded(h: Harness): Promise<number> {
  return (await h.app.metrics.backlogExceeded.get()).values.reduce((s, v) => s + v.value, 0);
}

describe('history retention', () => {
  test('with resume retention off, a client that stays connected through 16 MiB of churn keeps no breadcrumb alive behind the one it is at', { timeout: 120_000 }, async () => {
    const { h, ds } = await start(['--resume-retention-ms', '0']);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync', 30_000);
      const { refs, last } = await churn(h, ds, 16);
      const lastValue = `${last}:`;
      await eventually(() => (c.state.get(`/blob/b-${last % POOL}`) as { blob: string } | undefined)?.blob.startsWith(lastValue) === true, 'client has the last write', 60_000);
      // Everything but the newest breadcrumb becomes unreachable: the client is caught up and
      // the shared snapshot's reuse window (200 ms) is long over.
      await eventually(async () => {
        await collectGarbage();
        return live(refs.slice(0, -1)) === 0;
      }, 'old breadcrumbs to be collected', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${live(refs)} of ${refs.length} breadcrumbs still reachable`);
      });
      assert.equal(c.closed, undefined);
      assert.equal(await backlogExceeded(h), 0);
      c.close();
    } finally {
      await h.close();
    }
  });

  test('a client that never acks its snapshot is closed with 4010 once the deltas waiting for it pass --max-backlog-bytes, and keeps nothing alive', { timeout: 120_000 }, async () => {
    const { h, ds } = await start(['--max-backlog-bytes', String(2 * MiB), '--resume-retention-bytes', '0']);
    try {
      const steady = await TestClient.connect(h.syncUrl, { hostname: 'steady' });
      const silent = await TestClient.connect(h.syncUrl, { hostname: 'never-acks', noAck: true });
      await eventually(() => steady.inSync && silent.snapshotDone, 'snapshots sent', 30_000);
      const { refs } = await churn(h, ds, 4, () => silent.closed !== undefined);
      await eventually(() => silent.closed !== undefined, 'the never-acking client to be closed', 30_000);
      assert.equal(silent.closed!.code, CloseCode.fellBehind);
      assert.match(silent.closed!.reason, /MiB of deltas waiting \(limit 2\.0 MiB\)/);
      assert.equal(await backlogExceeded(h), 1);
      await eventually(async () => {
        await collectGarbage();
        return live(refs.slice(0, -1)) === 0;
      }, 'old breadcrumbs to be collected', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${live(refs)} of ${refs.length} breadcrumbs still reachable`);
      });
      assert.equal(steady.closed, undefined, 'the steady client is not affected');
      steady.close();
    } finally {
      await h.close();
    }
  });

  test('a client that keeps its connection open but stops reading is closed by the backlog rule long before the write timeout', { timeout: 120_000 }, async () => {
    const { h, ds } = await start(['--max-backlog-bytes', String(2 * MiB), '--send-high-water-mark-bytes', '65536', '--resume-retention-bytes', '0']);
    try {
      const c = await TestClient.connect(h.syncUrl, { hostname: 'stopped-reading' });
      await eventually(() => c.inSync, 'in sync', 30_000);
      socketOf(c).pause();
      // Churn until the rule fires: the kernel's socket buffers (several MiB on loopback) take
      // a varying amount before the server sees the socket full.
      const { refs } = await churn(h, ds, 4, async () => (await backlogExceeded(h)) === 1);
      assert.equal(await backlogExceeded(h), 1, 'the stalled session was closed by the backlog rule');
      await eventually(() => h.app.server.sessionCount() === 0, 'the session to be gone', 30_000);
      await eventually(async () => {
        await collectGarbage();
        return live(refs.slice(0, -1)) === 0;
      }, 'old breadcrumbs to be collected', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${live(refs)} of ${refs.length} breadcrumbs still reachable`);
      });
      socketOf(c).resume();
    } finally {
      await h.close();
    }
  });

  test('with resume retention on, breadcrumbs within --resume-retention-bytes of the newest stay reachable and none beyond it', { timeout: 120_000 }, async () => {
    const bound = 4 * MiB;
    const { h, ds } = await start(['--resume-retention-bytes', String(bound)]);
    try {
      const cache = h.app.caches.get('felix')!;
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync', 30_000);
      const { refs, last } = await churn(h, ds, 16);
      await eventually(() => (c.state.get(`/blob/b-${last % POOL}`) as { blob: string } | undefined)?.blob.startsWith(`${last}:`) === true, 'client has the last write', 60_000);
      const newest = cache.current();
      const behind = (r: WeakRef<Breadcrumb>) => newest.deltaBytesThrough - r.deref()!.deltaBytesThrough;
      await eventually(async () => {
        await collectGarbage();
        return refs.every((r) => r.deref() === undefined || behind(r) <= bound);
      }, 'breadcrumbs beyond the bound to be collected', 30_000).catch((err: Error) => {
        const beyond = refs.filter((r) => r.deref() !== undefined && behind(r) > bound).length;
        throw new Error(`${err.message}: ${beyond} breadcrumbs beyond ${bound} bytes still reachable`);
      });
      const kept = refs.filter((r) => r.deref() !== undefined);
      assert.ok(kept.length > 2, `${kept.length} breadcrumbs within the window are reachable`);
      assert.ok(Math.max(...kept.map(behind)) > bound / 2, 'the window reaches back most of the bound');
      const stats = cache.retentionStats();
      assert.ok(stats.deltaBytes <= bound, `${stats.deltaBytes} retained bytes within ${bound}`);
      assert.equal((await h.app.metrics.retentionBytes.get()).values.find((v) => v.labels.syncer === 'felix')?.value, stats.deltaBytes);
      // The oldest retained breadcrumb is one a client can resume from.
      const oldest = kept.map((r) => r.deref()!).reduce((a, b) => (a.seq < b.seq ? a : b));
      assert.ok('crumb' in cache.resumeFrom(oldest.seq), `breadcrumb ${oldest.seq} is resumable`);
      assert.equal(c.closed, undefined);
      c.close();
    } finally {
      await h.close();
    }
  });

  test('with a short --resume-retention-ms, breadcrumbs superseded longer ago are let go at the next breadcrumb', { timeout: 120_000 }, async () => {
    const { h, ds } = await start(['--resume-retention-ms', '300']);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync', 30_000);
      const { refs } = await churn(h, ds, 2);
      await new Promise((r) => setTimeout(r, 600));
      write(ds, 0);
      await eventually(async () => {
        await collectGarbage();
        return live(refs.slice(0, -1)) === 0;
      }, 'breadcrumbs older than the age bound to be collected', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${live(refs)} of ${refs.length} breadcrumbs still reachable`);
      });
      c.close();
    } finally {
      await h.close();
    }
  });
});
