import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KVEncoder, bucketAtLevel, kvHash, keyBucket16, type WireKV } from '../../../src/protocol/index.ts';
import type { KvHash } from '../src/heldDigests.ts';
import { ResumePosition } from '../src/resumePosition.ts';
import { ResyncBuffer, type Delivery } from '../src/resyncBuffer.ts';

const encoder = new KVEncoder();
/** The bucket and KV hash a client computes for key = value, from the server's encoding. */
function hashOf(key: string, value: unknown): KvHash {
  const kv = encoder.encode(key, value, '1');
  return { bucket16: keyBucket16(key), ...kvHash(kv.bytes, 1, kv.valueEnd) };
}
/** Applies `key = value` entries (null: deletion) with their hashes, as the connection does. */
function apply(b: ResyncBuffer, entries: readonly (readonly [string, unknown])[]): void {
  const kvs: WireKV[] = entries.map(([k, v]) => [k, v, 'r', v === null ? 3 : 1]);
  b.applyKvs(kvs, entries.map(([k, v]) => (v === null ? undefined : hashOf(k, v))));
}
function drain(b: ResyncBuffer): Delivery[] {
  const out: Delivery[] = [];
  for (let d = b.take(1000); d !== undefined; d = b.take(1000)) out.push(d);
  return out;
}
function render(deliveries: Delivery[]): string[] {
  return deliveries.flatMap((d) => d.kind === 'status'
    ? [`status ${d.status}`]
    : d.updates.map((u) => (u.type === 'deleted' ? `deleted ${u.key}` : `${u.type} ${u.key}=${String(u.value)}`)));
}
/** A buffer that has synced `entries` on a first connection and delivered them. */
function synced(entries: readonly (readonly [string, unknown])[]): ResyncBuffer {
  const b = new ResyncBuffer();
  b.connectionStarted();
  apply(b, entries);
  b.applyStatus('in-sync');
  drain(b);
  return b;
}

describe('Catch-up rules of the resync buffer (PROTOCOL.md §11)', () => {
  it('a resumed connection keeps the pending set the previous connection ended with, and none when it had none', () => {
    // Connection 1 synced; connection 2 (full snapshot) reached its snapshotEnd without in-sync,
    // so `gone` is still pending; connection 2 is cut; connection 3 resumes.
    const b = synced([['a', 1], ['gone', 1]]);
    b.connectionLost();
    b.connectionStarted('snapshot');
    apply(b, [['a', 2]]);
    drain(b);
    b.connectionLost();
    b.connectionStarted('resume');
    assert.equal(b.pendingKeys, 1, 'the pending set of connection 2, not every held key');
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)).filter((l) => l.startsWith('deleted')), ['deleted gone']);

    // A connection that was in sync when it ended has no pending set: a resume deletes nothing.
    b.connectionLost();
    b.connectionStarted('resume');
    assert.equal(b.resyncing, false);
    apply(b, [['b', 1]]);
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)), ['status resync-in-progress', 'new b=1', 'status in-sync']);
    assert.deepEqual([...b.state].sort(), [['a', 2], ['b', 1]]);
  });

  it('a second connectionLost() with no serverHello in between changes nothing a resume would restore', () => {
    const b = synced([['a', 1]]);
    b.connectionLost();
    b.connectionLost();
    b.connectionStarted('resume');
    assert.equal(b.resyncing, false, 'the connection that ended was in sync: nothing pending');
    b.applyStatus('in-sync');
    assert.deepEqual([...b.state], [['a', 1]]);
  });

  it('a resumed connection delivers the entries the host had not received when the connection ended, in order', () => {
    const b = synced([['a', 1]]);
    apply(b, [['a', 2], ['b', 1]]); // received, not yet taken by the host
    b.connectionLost();
    assert.deepEqual(render(drain(b)), ['status wait-for-datastore'], 'nothing is delivered while disconnected');
    b.connectionStarted('resume');
    apply(b, [['c', 1]]);
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)), ['updated a=2', 'new b=1', 'status resync-in-progress', 'new c=1', 'status in-sync']);
  });

  it('a connection that does not resume drops what the host had not received, as before catch-up', () => {
    for (const path of ['snapshot', 'digest'] as const) {
      const b = synced([['a', 1]]);
      apply(b, [['undelivered', 1]]);
      b.connectionLost();
      b.connectionStarted(path);
      assert.ok(!render(drain(b)).some((l) => l.includes('undelivered')), path);
      assert.equal(b.pendingKeys, 1, `${path}: every held key is pending until told otherwise`);
    }
  });

  it('buckets sets the pending set to the held keys of the replaced buckets, replacing the earlier one', () => {
    const keys = Array.from({ length: 64 }, (_, i) => `/k/${i}`);
    const b = synced(keys.map((k) => [k, 1]));
    b.connectionLost();
    b.connectionStarted('digest');
    assert.equal(b.pendingKeys, 64);
    const level = b.digests.level();
    const replaced = (bucket: number) => bucket % 3 === 0;
    const expected = keys.filter((k) => replaced(bucketAtLevel(keyBucket16(k), level)));
    assert.equal(b.bucketsReplaced(level, replaced), expected.length);
    assert.ok(expected.length > 0 && expected.length < 64);
  });

  it("a replaced bucket's held key the server does not send again is deleted at in-sync, not before", () => {
    const b = synced([['/a', 1], ['/b', 1], ['/c', 1]]);
    b.connectionLost();
    b.connectionStarted('digest');
    const level = 4;
    const inA = bucketAtLevel(keyBucket16('/a'), level);
    const inB = bucketAtLevel(keyBucket16('/b'), level);
    const inC = bucketAtLevel(keyBucket16('/c'), level);
    assert.ok(inA !== inC && inB !== inC, 'this test needs /c in a bucket of its own');
    // The server replaces the buckets of /a and /b; it re-sends /a only (/b was deleted while we were away).
    b.bucketsReplaced(level, (bucket) => bucket === inA || bucket === inB);
    apply(b, [['/a', 2]]);
    b.applyStatus('resync-in-progress');
    assert.ok(!render(drain(b)).some((l) => l.startsWith('deleted')), 'nothing is deleted before in-sync');
    assert.ok(b.state.has('/b'));
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)), ['deleted /b', 'status in-sync']);
    assert.deepEqual([...b.state].sort(), [['/a', 2], ['/c', 1]]);
  });

  it('the held digests follow what the host holds: set, replaced, deleted', () => {
    const b = new ResyncBuffer();
    apply(b, [['x', 1], ['y', 1]]);
    drain(b);
    const before = b.digests.fold(16);
    apply(b, [['x', 2]]);
    drain(b);
    apply(b, [['x', 1]]);
    drain(b);
    assert.deepEqual(b.digests.fold(16), before, 'setting a key back restores its digest');
    apply(b, [['x', null], ['y', null]]);
    drain(b);
    assert.ok(b.digests.fold(4).every((w) => w === 0), 'an empty map has all-zero digests');
    assert.equal(b.digests.size, 0);
  });

  it('keys applied without hashes make the digests incomplete (digest catch-up is then not offered)', () => {
    const b = new ResyncBuffer();
    b.applyKvs([['plain', 1, 'r', 1]]);
    drain(b);
    assert.equal(b.digests.complete, false);
    b.applyKvs([['plain', null, 'r', 3]]);
    drain(b);
    assert.equal(b.digests.complete, true);
  });
});

describe('ResumePosition', () => {
  it('is set at snapshotEnd, moved by delta marks, and kept across a resumed connection', () => {
    const p = new ResumePosition();
    assert.equal(p.offer, undefined);
    p.serverHello('A', null);
    p.deltaSeq(3);
    assert.equal(p.offer, undefined, 'no position before the snapshotEnd');
    p.snapshotEnd(5);
    p.deltaSeq(7);
    p.connectionEnded();
    assert.deepEqual(p.offer, { serverInstanceId: 'A', seq: 7 });
    p.serverHello('A', 'resume');
    p.connectionEnded();
    assert.deepEqual(p.offer, { serverInstanceId: 'A', seq: 7 }, 'a resumed connection cut before its snapshotEnd keeps it');
    p.serverHello('A', 'resume');
    p.snapshotEnd(7);
    p.deltaSeq(9);
    assert.deepEqual(p.offer, { serverInstanceId: 'A', seq: 9 });
  });

  it('is cleared by a serverHello that does not resume, until that connection reaches its snapshotEnd', () => {
    for (const path of [null, 'snapshot', 'digest'] as const) {
      const p = new ResumePosition();
      p.serverHello('A', null);
      p.snapshotEnd(5);
      p.connectionEnded();
      p.serverHello('B', path);
      p.deltaSeq(8);
      p.connectionEnded();
      assert.equal(p.offer, undefined, `cut mid-snapshot after ${String(path)}: nothing to offer`);
      p.serverHello('B', path);
      p.snapshotEnd(9);
      assert.deepEqual(p.offer, { serverInstanceId: 'B', seq: 9 });
    }
  });
});
