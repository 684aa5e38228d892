import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Codec } from '../../src/protocol/index.ts';
import { type Breadcrumb, SnapshotCache, SnapshotSource } from '../../src/snapshot/index.ts';
import type { Update } from '../../src/syncer/types.ts';
import { collectGarbage } from '../support/collectGarbage.ts';
import { ManualClock } from '../support/manualClock.ts';

function setup(maxBatchSize = 100) {
  const clock = new ManualClock();
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize, clock, metrics, logger: silentLogger() });
  return { clock, registry, metrics, cache };
}

const upd = (key: string, value: Update['value'], updateType: Update['updateType'] = 'new', revision = '1'): Update => ({ key, value, revision, updateType });

function chainAfter(crumb: Breadcrumb): Breadcrumb[] {
  const out: Breadcrumb[] = [];
  for (let c = crumb.next; c !== undefined; c = c.next) out.push(c);
  return out;
}

async function metricValue(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

describe('snapshot cache', () => {
  test('a large input becomes breadcrumbs of at most maxBatchSize deltas with increasing seq', () => {
    const { cache } = setup(100);
    const start = cache.current();
    cache.onUpdates(Array.from({ length: 250 }, (_, i) => upd(`/k/${String(i).padStart(3, '0')}`, { i })));
    cache.flush();
    const crumbs = chainAfter(start);
    assert.deepEqual(crumbs.map((c) => c.deltas.length), [100, 100, 50]);
    assert.deepEqual(crumbs.map((c) => c.seq), [1, 2, 3]);
    assert.equal(cache.current().kvs.size, 250);
    assert.equal(crumbs[0]!.keyCount, 100, 'each breadcrumb counts the keys as of itself');
    assert.throws(() => crumbs[0]!.kvs, /no longer holds its store/, 'a superseded breadcrumb lets its store go');
  });

  test('a status change rides on the last breadcrumb of its batch, never an earlier one', () => {
    const { cache } = setup(10);
    const start = cache.current();
    cache.onUpdates(Array.from({ length: 25 }, (_, i) => upd(`/k/${i}`, 'v')));
    cache.onStatus('in-sync');
    cache.flush();
    assert.deepEqual(chainAfter(start).map((c) => c.status), ['wait-for-datastore', 'wait-for-datastore', 'in-sync']);
  });

  test('a status-only change mints a breadcrumb with no deltas, and nothing is minted when nothing changed', () => {
    const { cache } = setup();
    const start = cache.current();
    cache.onStatus('resync-in-progress');
    cache.flush();
    cache.onStatus('resync-in-progress');
    cache.flush();
    cache.flush();
    const crumbs = chainAfter(start);
    assert.equal(crumbs.length, 1);
    assert.equal(crumbs[0]!.deltas.length, 0);
    assert.equal(crumbs[0]!.status, 'resync-in-progress');
  });

  test('an update byte-identical to the stored value is skipped and counted, whatever its revision', async () => {
    const { cache, registry } = setup();
    const start = cache.current();
    cache.onUpdates([upd('/a', { x: 1 }, 'new', '1')]);
    cache.flush();
    cache.onUpdates([upd('/a', { x: 1 }, 'updated', '2')]);
    cache.flush();
    assert.equal(chainAfter(start).length, 1);
    assert.equal(await metricValue(registry, 'cattail_updates_skipped_total'), 1);
    assert.equal(await metricValue(registry, 'cattail_updates_total'), 2);
  });

  test('deletions always pass, even of keys the cache does not hold, and deltas keep their types', () => {
    const { cache } = setup();
    const start = cache.current();
    cache.onUpdates([upd('/a', 'v1', 'new'), upd('/a', 'v2', 'updated'), upd('/a', null, 'deleted'), upd('/never', null, 'deleted')]);
    cache.flush();
    const [crumb] = chainAfter(start);
    assert.deepEqual(crumb!.deltas.map((d) => [d.kv.key, d.updateType]), [['/a', 'new'], ['/a', 'updated'], ['/a', 'deleted'], ['/never', 'deleted']]);
    assert.equal(crumb!.kvs.size, 0);
  });

  test('a store taken from the newest breadcrumb keeps its view after later changes (copy-on-write clones)', () => {
    const { cache } = setup();
    cache.onUpdates([upd('/a', 'one')]);
    cache.flush();
    const first = cache.current();
    const store = first.kvs;
    cache.onUpdates([upd('/a', 'two'), upd('/b', 'x')]);
    cache.flush();
    assert.equal(store.size, 1);
    assert.equal(first.keyCount, 1);
    const codec = new Codec();
    const view = store.get('/a')!;
    assert.equal(codec.decodeAny(view.bytes.subarray(view.valueStart, view.valueEnd)), 'one');
  });

  test('a lagging session gets the deltas of several breadcrumbs coalesced once into shared frames', () => {
    const { cache } = setup(10);
    const start = cache.current();
    cache.onUpdates(Array.from({ length: 40 }, (_, i) => upd(`/k/${String(i).padStart(2, "0")}`, String(i))));
    cache.flush();
    const first = start.next!;
    const c = first.coalescedFrames(25);
    assert.equal(c.kvs, 30, 'breadcrumbs are added whole until at least 25 KVs');
    assert.equal(c.last.seq, first.seq + 2);
    const codec = new Codec();
    assert.deepEqual(c.frames.map((f) => (codec.decodeServer(f.plain) as unknown as { kvs: unknown[] }).kvs.length), [25, 5]);
    assert.equal(first.coalescedFrames(25), c, 'computed once and shared');
    const newest = cache.current();
    assert.equal(newest.coalescedFrames(25).last, newest, 'nothing after the newest breadcrumb');
  });

  test('a session 50 breadcrumbs behind a caught-up one that asked first still catches up in few shared frames', () => {
    const { cache } = setup(100);
    const lagging = cache.current();
    // A caught-up session asks for each breadcrumb's frames the moment it is minted.
    const caughtUpFrames: number[] = [];
    for (let i = 0; i < 50; i++) {
      cache.onUpdates([upd(`/k/${String(i).padStart(2, '0')}`, String(i))]);
      cache.flush();
      caughtUpFrames.push(cache.current().coalescedFrames(100).frames.length);
    }
    assert.deepEqual(caughtUpFrames, Array(50).fill(1), 'the caught-up session got one frame per breadcrumb');
    const codec = new Codec();
    let frames = 0;
    let kvs = 0;
    for (let at = lagging; at.next !== undefined;) {
      const c = at.next.coalescedFrames(100);
      frames += c.frames.length;
      for (const f of c.frames) kvs += (codec.decodeServer(f.plain) as unknown as { kvs: unknown[] }).kvs.length;
      at = c.last;
    }
    assert.equal(kvs, 50, 'every delta exactly once');
    assert.equal(frames, 1, 'the lagging session caught up in one frame, not 50');
    const second = lagging.next!.coalescedFrames(100);
    assert.equal(lagging.next!.coalescedFrames(100), second, 'a second session at the same point shares the frames');
    assert.equal(second.last, cache.current());
  });

  test('updates queued in one turn of the event loop are published on the next turn', async () => {
    const { cache } = setup();
    const start = cache.current();
    cache.onUpdates([upd('/a', 'v')]);
    cache.onUpdates([upd('/b', 'v')]);
    assert.equal(start.next, undefined);
    const next = await new Promise<Breadcrumb>((resolve) => start.onNext(resolve));
    assert.equal(next.deltas.length, 2);
  });

  test('deltaBytesThrough adds up the encoded bytes of every delta from the first breadcrumb on', () => {
    const { cache } = setup(2);
    const start = cache.current();
    cache.onUpdates([upd('/a', 'x'.repeat(100)), upd('/b', 'y'), upd('/a', null, 'deleted')]);
    cache.flush();
    const crumbs = chainAfter(start);
    assert.equal(start.deltaBytesThrough, 0);
    const bytes = (c: Breadcrumb) => c.deltas.reduce((s, d) => s + d.kv.bytes.length, 0);
    assert.equal(crumbs[0]!.deltaBytesThrough, bytes(crumbs[0]!));
    assert.ok(crumbs[0]!.deltaBytesThrough > 100);
    assert.equal(crumbs[1]!.deltaBytesThrough, bytes(crumbs[0]!) + bytes(crumbs[1]!));
  });

  test('a withdrawn waiter is not called and is no longer reachable from the breadcrumb', async () => {
    const { cache } = setup();
    const start = cache.current();
    let calls = 0;
    let owner: { onMinted: () => void } | undefined = { onMinted: () => calls++ };
    const ownerRef = new WeakRef(owner);
    const withdraw = start.onNext(owner.onMinted);
    withdraw();
    owner = undefined;
    await collectGarbage();
    assert.equal(ownerRef.deref(), undefined, 'the waiter was released without a successor being minted');
    cache.onUpdates([upd('/a', 'v')]);
    cache.flush();
    assert.equal(calls, 0);
    assert.equal(start.next?.deltas.length, 1, 'the breadcrumb itself still links');
  });
});

describe('shared snapshots', () => {
  async function readAll(source: SnapshotSource) {
    const snap = source.acquire();
    for (let i = 0; ; i++) {
      await snap.waitFor(i);
      if (i >= snap.frames.length) break;
    }
    return snap;
  }

  test('a snapshot lists every key in key order as new, followed by snapshotEnd', async () => {
    const { cache, clock, metrics } = setup();
    cache.onUpdates([upd('/b', 'B', 'updated', '7'), upd('/a', { v: 1 }, 'new', '3')]);
    cache.flush();
    const source = new SnapshotSource(cache, { frameKVs: 1, reuseMs: 1000, clock, metrics });
    const snap = await readAll(source);
    const codec = new Codec();
    const msgs = snap.frames.map((f) => codec.decodeServer(f.plain));
    assert.deepEqual(msgs, [
      { type: 'kvs', kvs: [['/a', { v: 1 }, '3', 1]] },
      { type: 'kvs', kvs: [['/b', 'B', '7', 1]] },
      { type: 'snapshotEnd', seq: 1, keys: 2 },
    ]);
  });

  test('a snapshot is encoded once and reused while no newer breadcrumb exists', async () => {
    const { cache, clock, metrics, registry } = setup();
    cache.onUpdates([upd('/a', 'v')]);
    cache.flush();
    const source = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 1000, clock, metrics });
    const first = await readAll(source);
    clock.advance(60_000);
    assert.equal(source.acquire(), first, 'quiet datastore: reused long after the reuse window');
    cache.onUpdates([upd('/b', 'v')]);
    cache.flush();
    const second = source.acquire();
    assert.notEqual(second, first, 'newer breadcrumb and the reuse window expired: a new snapshot');
    assert.equal(second.crumb, cache.current());
    assert.equal(await metricValue(registry, 'cattail_snapshots_generated_total'), 2);
    assert.equal(await metricValue(registry, 'cattail_snapshots_reused_total'), 1);
  });

  test('a snapshot is reused within the reuse window even when a newer breadcrumb exists', async () => {
    const { cache, clock, metrics } = setup();
    const source = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 1000, clock, metrics });
    const first = await readAll(source);
    cache.onUpdates([upd('/b', 'v')]);
    cache.flush();
    clock.advance(500);
    assert.equal(source.acquire(), first);
    clock.advance(600);
    assert.notEqual(source.acquire(), first);
  });

  test('the shared snapshot lets go of its breadcrumb once its reuse window is over and a newer breadcrumb exists, with no client joining', async () => {
    const { cache, clock, metrics } = setup();
    cache.onUpdates([upd('/a', 'v')]);
    cache.flush();
    const source = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 1000, clock, metrics });
    const snapRef = new WeakRef(await readAll(source));
    const crumbRef = new WeakRef(cache.current());
    for (let i = 0; i < 5; i++) {
      cache.onUpdates([upd(`/k/${i}`, 'x'.repeat(1000))]);
      cache.flush();
    }
    clock.advance(1000);
    await collectGarbage();
    assert.equal(crumbRef.deref(), undefined, 'the breadcrumb (and the chain after it) is unreachable');
    assert.equal(snapRef.deref(), undefined, 'the snapshot frames are released too');
  });

  test('on a quiet datastore the shared snapshot is kept for reuse until the next breadcrumb, then let go', async () => {
    const { cache, clock, metrics } = setup();
    cache.onUpdates([upd('/a', 'v')]);
    cache.flush();
    const source = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 1000, clock, metrics });
    const snapRef = new WeakRef(await readAll(source));
    clock.advance(60_000);
    await collectGarbage();
    assert.notEqual(snapRef.deref(), undefined, 'still reusable: no newer breadcrumb');
    assert.equal(source.acquire(), snapRef.deref());
    cache.onUpdates([upd('/b', 'v')]);
    cache.flush();
    await collectGarbage();
    assert.equal(snapRef.deref(), undefined);
  });
});
