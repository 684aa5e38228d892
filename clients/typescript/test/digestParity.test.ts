/**
 * The client's digests against the server's own catch-up code (src/snapshot/catchUp.ts): the
 * client's ResyncBuffer is fed the server's real frames, as the connection feeds it (decoded,
 * and scanned for buckets and KV hashes from the same plain bytes), and its digests must equal
 * the CatchUpBase's for the same state, whatever the level.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { bitmapHas, clientDigestLevel, Codec, scanKvsFrame } from '../../../src/protocol/index.ts';
import { CatchUpSource, SnapshotCache, SnapshotSource } from '../../../src/snapshot/index.ts';
import type { Update } from '../../../src/syncer/types.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { ResyncBuffer } from '../src/resyncBuffer.ts';

const codec = new Codec();

function server() {
  const clock = new ManualClock();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock, metrics, logger: silentLogger() });
  const snapshots = new SnapshotSource(cache, { frameKVs: 100, reuseMs: 0, clock, metrics });
  const bases = new CatchUpSource(cache, { frameKVs: 100, reuseMs: 0, clock });
  return { clock, cache, snapshots, bases };
}

const key = (i: number): string => `/calico/v1/host/node-${i % 7}/workload/k8s/ns%2fpod-${i}/endpoint/eth0`;
const wep = (i: number, gen = 0) => ({ state: 'active', name: `cali${i}`, ipv4_nets: [`10.${i >> 8 & 255}.${i & 255}.${gen}/32`], labels: { app: `a${i % 3}`, gen } });
const upd = (k: string, value: Update['value']): Update => ({ key: k, value, revision: '1', updateType: value === null ? 'deleted' : 'updated' });

/** What the connection does with one plain frame: decode, scan the same bytes, hand both to the buffer. */
function feed(buffer: ResyncBuffer, frame: Buffer): void {
  const msg = codec.decodeServer(frame);
  assert.equal(msg.type, 'kvs');
  if (msg.type === 'kvs') buffer.applyKvs(msg.kvs, scanKvsFrame(frame));
}

function drain(buffer: ResyncBuffer): void {
  while (buffer.take(1000) !== undefined) { /* the host takes everything */ }
}

async function snapshotFrames(snapshots: SnapshotSource): Promise<Buffer[]> {
  const snap = snapshots.acquire();
  for (let i = 0; ; i++) {
    await snap.waitFor(i);
    if (i >= snap.frames.length) break;
  }
  return snap.frames.slice(0, -1).map((f) => f.plain);
}

describe('client digests against the server\'s CatchUpBase', () => {
  it('are equal for the same state at every level, and a digest catch-up from them ends with the server\'s exact map', async () => {
    const { cache, snapshots, bases } = server();
    cache.onUpdates(Array.from({ length: 3000 }, (_, i) => upd(key(i), wep(i))));
    cache.flush();
    const buffer = new ResyncBuffer();
    buffer.connectionStarted();
    for (const frame of await snapshotFrames(snapshots)) feed(buffer, frame);
    buffer.applyStatus('in-sync');
    drain(buffer);
    assert.equal(buffer.state.size, 3000);

    const base = bases.acquire();
    for (const level of [0, 4, clientDigestLevel(3000), 16]) {
      assert.deepEqual(buffer.digests.fold(level), base.digests(level), `level ${level}`);
      assert.equal(base.compare(level, buffer.digests.fold(level)).replacedBuckets, 0, `level ${level}: nothing to replace`);
    }

    // The client goes away; the server changes 30 keys, deletes 20, adds 10.
    buffer.connectionLost();
    cache.onUpdates([
      ...Array.from({ length: 30 }, (_, i) => upd(key(i * 97), wep(i * 97, 1))),
      ...Array.from({ length: 20 }, (_, i) => upd(key(i * 89 + 5), null)),
      ...Array.from({ length: 10 }, (_, i) => upd(key(5000 + i), wep(5000 + i))),
    ]);
    cache.flush();
    const expected = new Map([...cache.current().kvs.entries()].map(([k, kv]) => [k, codec.decodeAny(kv.bytes.subarray(kv.valueStart, kv.valueEnd))]));

    buffer.connectionStarted('digest');
    const level = buffer.digests.level();
    const after = bases.acquire();
    const cmp = after.compare(level, buffer.digests.fold(level));
    assert.equal(cmp.fullSnapshot, false);
    assert.ok(cmp.replacedBuckets >= 40 && cmp.replacedBuckets <= 60, `${cmp.replacedBuckets} buckets replaced for 60 changed keys`);
    const pending = buffer.bucketsReplaced(level, (i) => bitmapHas(cmp.bitmap, i));
    assert.equal(pending, cmp.replacedKeys - 10 + 20, 'held keys of the replaced buckets: what the base re-sends, minus the new keys, plus the deleted');
    let entries = 0;
    for (const frame of after.frames(cmp.bitmap, level)) {
      entries += scanKvsFrame(frame).length;
      feed(buffer, frame);
    }
    assert.equal(entries, cmp.replacedKeys);
    buffer.applyStatus('in-sync');
    drain(buffer);
    assert.deepEqual(new Map(buffer.state), expected);
    assert.deepEqual(buffer.digests.fold(level), after.digests(level), 'and the digests agree again');
  });
});
