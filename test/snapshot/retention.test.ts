import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { type Breadcrumb, type RetentionOptions, SnapshotCache } from '../../src/snapshot/index.ts';
import type { Update } from '../../src/syncer/types.ts';
import { collectGarbage } from '../support/collectGarbage.ts';
import { ManualClock } from '../support/manualClock.ts';

function setup(retention?: RetentionOptions) {
  const clock = new ManualClock();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock, metrics, logger: silentLogger(), ...(retention === undefined ? {} : { retention }) });
  return { clock, cache };
}

const upd = (key: string, value: Update['value']): Update => ({ key, value, revision: '1', updateType: value === null ? 'deleted' : 'new' });

/** Publishes one breadcrumb with one update of `bytes` bytes of value, `ms` after the previous one. */
function step(cache: SnapshotCache, clock: ManualClock, ms: number, key = '/k', bytes = 100): Breadcrumb {
  clock.advance(ms);
  cache.onUpdates([upd(key, `${cache.current().seq}:`.padEnd(bytes, 'x'))]);
  cache.flush();
  return cache.current();
}

const found = (lookup: ReturnType<SnapshotCache['resumeFrom']>): number | string => ('crumb' in lookup ? lookup.crumb.seq : lookup.reason);

describe('resume retention', () => {
  test('without the option, or with 0 in either bound, resume is disabled and no history is kept', () => {
    for (const retention of [undefined, { maxAgeMs: 0, maxBytes: 1 << 20 }, { maxAgeMs: 60_000, maxBytes: 0 }]) {
      const { cache, clock } = setup(retention);
      step(cache, clock, 10);
      assert.equal(found(cache.resumeFrom(1)), 'disabled', JSON.stringify(retention));
      assert.equal(found(cache.resumeFrom(0)), 'disabled');
      assert.deepEqual(cache.retentionStats(), { breadcrumbs: 0, deltaBytes: 0, oldestAgeMs: 0 });
    }
  });

  test('a breadcrumb stays while it was superseded at most maxAgeMs ago, counted from its successor, not from its own minting', () => {
    const { cache, clock } = setup({ maxAgeMs: 1000, maxBytes: 1 << 30 });
    step(cache, clock, 0); // seq 1
    step(cache, clock, 5000); // seq 2: seq 1 superseded now
    clock.advance(1000);
    assert.equal(found(cache.resumeFrom(1)), 1, 'superseded exactly maxAgeMs ago: kept');
    assert.equal(found(cache.resumeFrom(0)), 'expired', 'seq 0 was superseded 6 s ago');
    clock.advance(1);
    assert.equal(found(cache.resumeFrom(1)), 'expired');
    assert.equal(found(cache.resumeFrom(2)), 2);
  });

  test('a retained breadcrumb superseded over 2 s ago lets go of its coalesced frames, and rebuilds the same bytes when a lagging session asks', () => {
    const { cache, clock } = setup({ maxAgeMs: 300_000, maxBytes: 1 << 30 });
    const old = step(cache, clock, 0, '/a');
    // One KV per frame: each memo is final at once (a run that reaches maxKVs is never rebuilt).
    const oldFrames = old.coalescedFrames(1);
    step(cache, clock, 10, '/b'); // old superseded now
    const recent = cache.current();
    const recentFrames = recent.coalescedFrames(1);
    step(cache, clock, 1000, '/c');
    assert.equal(old.coalescedFrames(1), oldFrames, 'superseded 1 s ago: still memoized');
    step(cache, clock, 1500, '/d'); // 2.5 s after old was superseded, 1.5 s after recent was
    const rebuilt = old.coalescedFrames(1);
    assert.notEqual(rebuilt, oldFrames, 'let go, then rebuilt on demand');
    assert.deepEqual(rebuilt.frames.map((f) => f.plain), oldFrames.frames.map((f) => f.plain), 'the same bytes');
    assert.equal(recent.coalescedFrames(1), recentFrames, 'superseded 1.5 s ago: still memoized');
  });

  test('the newest breadcrumb is always retained, however old', () => {
    const { cache, clock } = setup({ maxAgeMs: 1000, maxBytes: 1 << 30 });
    step(cache, clock, 0);
    clock.advance(3_600_000);
    assert.equal(found(cache.resumeFrom(1)), 1);
    assert.deepEqual(cache.retentionStats(), { breadcrumbs: 1, deltaBytes: 0, oldestAgeMs: 0 });
  });

  test('a breadcrumb leaves once more than maxBytes of deltas were minted after it', () => {
    const { cache, clock } = setup({ maxAgeMs: 3_600_000, maxBytes: 1000 });
    const crumbs = Array.from({ length: 12 }, (_, i) => step(cache, clock, 10, `/k${i}`, 200));
    const per = (crumbs[1] as Breadcrumb).deltaBytesThrough - (crumbs[0] as Breadcrumb).deltaBytesThrough;
    assert.ok(per > 200 && per < 250, `${per} bytes per breadcrumb`);
    const newest = crumbs[11] as Breadcrumb;
    for (const c of [cache.current(), ...crumbs].reverse()) {
      const within = newest.deltaBytesThrough - c.deltaBytesThrough <= 1000;
      assert.equal(found(cache.resumeFrom(c.seq)), within ? c.seq : 'expired', `seq ${c.seq}`);
    }
    const stats = cache.retentionStats();
    assert.equal(stats.breadcrumbs, Math.floor(1000 / per) + 1);
    assert.ok(stats.deltaBytes <= 1000 && stats.deltaBytes > 1000 - per);
    assert.equal(stats.oldestAgeMs, (stats.breadcrumbs - 2) * 10, 'its successor was minted that long ago');
  });

  test('a seq newer than the newest breadcrumb is from the future; one before the window expired', () => {
    const { cache, clock } = setup({ maxAgeMs: 60_000, maxBytes: 1 << 20 });
    step(cache, clock, 10);
    step(cache, clock, 10);
    assert.equal(found(cache.resumeFrom(3)), 'future');
    assert.equal(found(cache.resumeFrom(Number.MAX_SAFE_INTEGER)), 'future');
    assert.deepEqual([0, 1, 2].map((s) => found(cache.resumeFrom(s))), [0, 1, 2], 'every retained seq, seq 0 included, is found');
    clock.advance(120_000);
    assert.equal(found(cache.resumeFrom(1)), 'expired');
    assert.equal(found(cache.resumeFrom(2)), 2);
  });

  test('a long run keeps the window bounded and every retained seq resolvable (the window compacts)', () => {
    const { cache, clock } = setup({ maxAgeMs: 500, maxBytes: 1 << 30 });
    for (let i = 0; i < 5000; i++) step(cache, clock, 1, `/k${i % 7}`, 20);
    const stats = cache.retentionStats();
    // Breadcrumb newest - k was superseded k - 1 ms ago: kept for k - 1 <= 500.
    assert.equal(stats.breadcrumbs, 502);
    const newest = cache.current().seq;
    assert.equal(found(cache.resumeFrom(newest - 501)), newest - 501);
    assert.equal(found(cache.resumeFrom(newest - 502)), 'expired');
  });

  test('pruned breadcrumbs become unreachable while the retained ones stay', async () => {
    const { cache, clock } = setup({ maxAgeMs: 1000, maxBytes: 1 << 30 });
    const refs: Array<WeakRef<Breadcrumb>> = [];
    for (let i = 0; i < 40; i++) refs.push(new WeakRef(step(cache, clock, 100, `/k${i % 5}`, 10_000)));
    await collectGarbage();
    const alive = refs.map((r) => r.deref() !== undefined);
    // Superseded at most 1000 ms ago (each 100 ms apart): the newest 12 breadcrumbs, the newest included.
    assert.deepEqual(alive, refs.map((_, i) => i >= 28));
    clock.advance(10_000);
    assert.equal(cache.retentionStats().breadcrumbs, 1, 'a lookup (here the stats) prunes a quiet datastore');
    await collectGarbage();
    assert.deepEqual(refs.map((r) => r.deref() !== undefined), refs.map((_, i) => i === 39));
  });
});
