import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { bitmapHas, bucketAtLevel, Codec, DigestTable, keyBucket16, scanKvsFrame } from '../../src/protocol/index.ts';
import { type Breadcrumb, type CatchUpBase, CatchUpSource, SnapshotCache, SnapshotSource } from '../../src/snapshot/index.ts';
import type { Update } from '../../src/syncer/types.ts';
import { collectGarbage } from '../support/collectGarbage.ts';
import { ManualClock } from '../support/manualClock.ts';

function setup() {
  const clock = new ManualClock();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock, metrics, logger: silentLogger() });
  const snapshots = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 0, clock, metrics });
  const bases = new CatchUpSource(cache, { frameKVs: 100, reuseMs: 1000, clock });
  return { clock, cache, snapshots, bases };
}

const upd = (key: string, value: Update['value'], revision = '1'): Update => ({ key, value, revision, updateType: value === null ? 'deleted' : 'updated' });
const key = (i: number): string => `/calico/v1/host/node-${i % 7}/workload/k8s/ns%2fpod-${i}/endpoint/eth0`;
const wep = (i: number, gen = 0) => ({ state: 'active', name: `cali${i}`, ipv4_nets: [`10.${i >> 8 & 255}.${i & 255}.${gen}/32`], labels: { app: `a${i % 3}`, gen } });

/**
 * What a client holds, built only from the raw frames it received, as PROTOCOL.md §11.8 says:
 * per key its bucket and KV hash, applied entry by entry.
 */
class ClientModel {
  readonly held = new Map<string, { bucket16: number; hi: number; lo: number }>();

  applyFrame(frame: Buffer): void {
    for (const e of scanKvsFrame(frame)) {
      if (e.deleted) this.held.delete(e.key);
      else this.held.set(e.key, { bucket16: e.bucket16, hi: e.hi, lo: e.lo });
    }
  }

  table(): DigestTable {
    const t = new DigestTable();
    for (const h of this.held.values()) t.add(h.bucket16, h.hi, h.lo);
    return t;
  }
}

async function snapshotFrames(snapshots: SnapshotSource): Promise<{ frames: Buffer[]; crumb: Breadcrumb }> {
  const snap = snapshots.acquire();
  for (let i = 0; ; i++) {
    await snap.waitFor(i);
    if (i >= snap.frames.length) break;
  }
  return { frames: snap.frames.slice(0, -1).map((f) => f.plain), crumb: snap.crumb };
}

function fill(cache: SnapshotCache, n: number): void {
  cache.onUpdates(Array.from({ length: n }, (_, i) => upd(key(i), wep(i))));
  cache.flush();
}

/** Deltas of every breadcrumb after `from` through the newest, as a caught-up client receives them. */
function deltaFrames(from: Breadcrumb): Buffer[] {
  const frames: Buffer[] = [];
  for (let c = from.next; c !== undefined;) {
    const run = c.coalescedFrames(100);
    frames.push(...run.frames.map((f) => f.plain));
    c = run.last.next;
  }
  return frames;
}

describe('bucket digests in the cache', () => {
  test('the digests of a base equal those a client computes from the snapshot frames it received, at every level', async () => {
    const { cache, snapshots, bases } = setup();
    fill(cache, 3000);
    const client = new ClientModel();
    for (const f of (await snapshotFrames(snapshots)).frames) client.applyFrame(f);
    assert.equal(client.held.size, 3000);
    const base = bases.acquire();
    const mine = client.table();
    for (const level of [0, 1, 4, 12, 16]) assert.deepEqual(base.digests(level), mine.fold(level), `level ${level}`);
  });

  test('after churn, deletions and re-creations the live digests still match a client that followed the deltas, and a fresh snapshot', async () => {
    const { cache, snapshots, bases, clock } = setup();
    fill(cache, 2000);
    const client = new ClientModel();
    const first = await snapshotFrames(snapshots);
    for (const f of first.frames) client.applyFrame(f);
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    for (let round = 0; round < 30; round++) {
      const batch: Update[] = [];
      for (let j = 0; j < 150; j++) {
        const i = random(2500);
        const r = random(10);
        batch.push(r < 3 ? upd(key(i), null) : upd(key(i), wep(i, r < 6 ? round : 0), String(round)));
      }
      // Re-create some keys deleted in this same batch, and repeat identical values (skipped).
      batch.push(upd(key(5), null), upd(key(5), wep(5, 99)), upd(key(6), wep(6, 0)), upd(key(6), wep(6, 0)));
      cache.onUpdates(batch);
      cache.flush();
    }
    for (const f of deltaFrames(first.crumb)) client.applyFrame(f);
    assert.equal(client.held.size, cache.size());
    clock.advance(2000);
    const base = bases.acquire();
    assert.equal(base.crumb, cache.current());
    assert.deepEqual(base.digests(16), client.table().fold(16), 'a client that followed the deltas');
    const fresh = new ClientModel();
    for (const f of (await snapshotFrames(snapshots)).frames) fresh.applyFrame(f);
    assert.deepEqual(base.digests(16), fresh.table().fold(16), 'a client that took a new snapshot');
    assert.deepEqual(base.digests(9), fresh.table().fold(9));
  });

  test('deleting every key leaves every digest zero', () => {
    const { cache, bases } = setup();
    fill(cache, 500);
    cache.onUpdates(Array.from({ length: 500 }, (_, i) => upd(key(i), null)));
    cache.flush();
    assert.ok(bases.acquire().digests(16).every((d) => d === 0));
  });
});

describe('catch-up bases', () => {
  async function clientAfterSnapshot(snapshots: SnapshotSource): Promise<ClientModel> {
    const client = new ClientModel();
    for (const f of (await snapshotFrames(snapshots)).frames) client.applyFrame(f);
    return client;
  }

  test('compare marks exactly the buckets whose digests differ, counting the base keys in them', async () => {
    const { cache, snapshots, bases, clock } = setup();
    fill(cache, 1000);
    const client = await clientAfterSnapshot(snapshots);
    cache.onUpdates([upd(key(3), wep(3, 7)), upd(key(400), null), upd('/calico/v1/Ready', 'true')]);
    cache.flush();
    clock.advance(2000);
    const base = bases.acquire();
    const level = 10;
    const result = base.compare(level, client.table().fold(level));
    const expected = new Set([key(3), key(400), '/calico/v1/Ready'].map((k) => bucketAtLevel(keyBucket16(k), level)));
    const marked = Array.from({ length: 1 << level }, (_, i) => i).filter((i) => bitmapHas(result.bitmap, i));
    assert.deepEqual(marked, [...expected].sort((a, b) => a - b));
    assert.equal(result.replacedBuckets, expected.size);
    let keysIn = 0;
    for (const [k] of base.crumb.kvs.entries()) if (expected.has(bucketAtLevel(keyBucket16(k), level))) keysIn++;
    assert.equal(result.replacedKeys, keysIn);
    assert.equal(result.fullSnapshot, false);
    assert.equal(result.bitmap.length, 128);
    const same = base.compare(level, base.digests(level));
    assert.deepEqual([same.replacedBuckets, same.replacedKeys, same.bitmap.every((b) => b === 0)], [0, 0, true]);
  });

  test('frames close like every kvs frame: at frameKVs entries or the byte threshold, and are built as the iteration reaches them', () => {
    const { cache, bases } = setup();
    cache.onUpdates(Array.from({ length: 400 }, (_, i) => upd(key(i), { blob: 'b'.repeat(i % 2 === 0 ? 40 : 3000) })));
    cache.flush();
    const base = bases.acquire();
    const all = Buffer.alloc(8192, 0xff);
    const frames = [...base.frames(all, 16)];
    const counts = frames.map((f) => scanKvsFrame(f).length);
    assert.equal(counts.reduce((a, b) => a + b, 0), 400);
    assert.ok(frames.every((f) => f.length <= 65_527 + 3200), 'closed at the first entry that reaches the threshold');
    assert.ok(counts.every((n) => n <= 100));
    assert.ok(frames.length > 4, `${frames.length} frames: the byte threshold closed some before 100 entries`);
    const iterator = base.frames(all, 16)[Symbol.iterator]();
    const one = iterator.next();
    assert.equal(one.done, false);
    assert.deepEqual(one.value, frames[0]);
  });

  test('frames hold every key of the replaced buckets at the base, buckets in order and keys in order inside a bucket', async () => {
    const { cache, bases } = setup();
    fill(cache, 4000);
    const base = bases.acquire();
    const codec = new Codec();
    for (const level of [16, 6, 0]) {
      const wanted = new Set([1, 5, (1 << level) - 1].map((b) => b % (1 << level)));
      const bitmap = Buffer.alloc(Math.ceil((1 << level) / 8));
      for (const b of wanted) bitmap[b >> 3] = (bitmap[b >> 3] as number) | (0x80 >> (b & 7));
      const frames = [...base.frames(bitmap, level)];
      const got: Array<[string, unknown, string, number]> = [];
      for (const f of frames) {
        const msg = codec.decodeServer(f);
        assert.equal(msg.type, 'kvs');
        if (msg.type === 'kvs') {
          assert.equal(msg.seq, undefined, 'catch-up frames carry no position mark');
          assert.ok(msg.kvs.length <= 100);
          got.push(...(msg.kvs as Array<[string, unknown, string, number]>));
        }
      }
      const expected = [...base.crumb.kvs.entries()]
        .map(([k]) => k)
        .filter((k) => wanted.has(bucketAtLevel(keyBucket16(k), level)))
        .sort((a, b) => bucketAtLevel(keyBucket16(a), level) - bucketAtLevel(keyBucket16(b), level) || (a < b ? -1 : 1));
      assert.deepEqual(got.map(([k]) => k), expected, `level ${level}`);
      assert.ok(got.every(([k, v, , t]) => t === 1 && JSON.stringify(v) === JSON.stringify(wep(Number(k.match(/pod-(\d+)/)?.[1])))));
    }
  });

  test('frames are cut from the state of the base even after the cache moved on', () => {
    const { cache, bases } = setup();
    fill(cache, 10);
    const base = bases.acquire();
    cache.onUpdates([upd(key(0), null), upd(key(1), wep(1, 5))]);
    cache.flush();
    const all = Buffer.alloc(8, 0xff);
    const keys = [...base.frames(all, 6)].flatMap((f) => scanKvsFrame(f).map((e) => e.key));
    assert.equal(keys.length, 10);
    assert.ok(keys.includes(key(0)));
  });

  test('when the differing buckets hold more than half the keys, every bit is set and the full-snapshot flag is raised', async () => {
    const { cache, bases } = setup();
    fill(cache, 1000);
    const base = bases.acquire();
    const level = 4;
    const digests = base.digests(level).slice();
    // Corrupt buckets one by one until they hold more than half the keys.
    const counts: number[] = new Array(16).fill(0);
    for (const [k] of base.crumb.kvs.entries()) (counts[bucketAtLevel(keyBucket16(k), level)] as number)++;
    let held = 0;
    let b = 0;
    for (; held + (counts[b] as number) <= 500; b++) {
      held += counts[b] as number;
      digests[2 * b] = (digests[2 * b] as number) ^ 1;
    }
    const atHalf = base.compare(level, digests);
    assert.equal(atHalf.fullSnapshot, false, `${held} of 1000 keys replaced: at most half`);
    assert.equal(atHalf.replacedBuckets, b);
    digests[2 * b] = (digests[2 * b] as number) ^ 1;
    const over = base.compare(level, digests);
    assert.equal(over.fullSnapshot, true);
    assert.equal(over.replacedBuckets, 16);
    assert.equal(over.replacedKeys, 1000);
    assert.deepEqual(over.bitmap, Buffer.from([0xff, 0xff]));
    assert.throws(() => base.compare(level, new Uint32Array(31)), RangeError);
  });

  test('an empty base replaces nothing but the buckets a client holds keys in, without falling back', () => {
    const { bases } = setup();
    const base = bases.acquire();
    const client = new Uint32Array(2 << 4);
    client[6] = 42;
    const result = base.compare(4, client);
    assert.deepEqual([result.replacedBuckets, result.replacedKeys, result.fullSnapshot], [1, 0, false]);
    assert.deepEqual([...base.frames(result.bitmap, 4)], []);
  });

  test('the bucket index is built once per base, by one pass over its store, whatever the sessions ask', () => {
    const { cache, bases } = setup();
    fill(cache, 300);
    const base = bases.acquire();
    const kvs = base.crumb.kvs as unknown as { entries: (...a: unknown[]) => unknown };
    const original = kvs.entries.bind(kvs);
    let passes = 0;
    kvs.entries = (...a: unknown[]) => {
      passes++;
      return original(...a);
    };
    const bitmap = Buffer.from([0b1010_0000, 0x01]);
    const first = [...base.frames(bitmap, 4)];
    for (let s = 0; s < 20; s++) assert.deepEqual([...base.frames(bitmap, 4)], first);
    assert.equal([...base.frames(Buffer.alloc(8192, 0xff), 16)].reduce((n, f) => n + scanKvsFrame(f).length, 0), 300);
    assert.equal(passes, 1);
  });
});

describe('catch-up source', () => {
  test('a base is reused while its breadcrumb is the newest or it is younger than the reuse window', () => {
    const { cache, bases, clock } = setup();
    fill(cache, 10);
    const first = bases.acquire();
    clock.advance(60_000);
    assert.equal(bases.acquire(), first, 'quiet datastore: reused long after the window');
    cache.onUpdates([upd(key(1), wep(1, 1))]);
    cache.flush();
    const second = bases.acquire();
    assert.notEqual(second, first);
    assert.equal(second.crumb, cache.current());
    cache.onUpdates([upd(key(2), wep(2, 1))]);
    cache.flush();
    clock.advance(999);
    assert.equal(bases.acquire(), second, 'within the window, though a newer breadcrumb exists');
    clock.advance(1);
    assert.notEqual(bases.acquire(), second);
  });

  test('a base copies the digests: later updates change the live table, not the base', () => {
    const { cache, bases } = setup();
    fill(cache, 10);
    const base = bases.acquire();
    const before = base.digests(16).slice();
    cache.onUpdates([upd(key(1), wep(1, 1))]);
    cache.flush();
    assert.deepEqual(base.digests(16), before);
    assert.notDeepEqual(cache.digestBase().table.fold(16), before);
  });

  test('the source lets go of its base (and its breadcrumb) once the window is over and a newer breadcrumb exists', async () => {
    const { cache, bases, clock } = setup();
    fill(cache, 10);
    let base: CatchUpBase | undefined = bases.acquire();
    const baseRef = new WeakRef(base);
    const crumbRef = new WeakRef(base.crumb);
    base = undefined;
    clock.advance(5000);
    await collectGarbage();
    assert.notEqual(baseRef.deref(), undefined, 'quiet datastore: kept for reuse');
    cache.onUpdates([upd(key(1), wep(1, 1))]);
    cache.flush();
    await collectGarbage();
    assert.equal(baseRef.deref(), undefined);
    assert.equal(crumbRef.deref(), undefined);
  });
});
