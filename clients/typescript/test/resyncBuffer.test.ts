import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireKV } from '../../../src/protocol/index.ts';
import { ResyncBuffer, type Delivery } from '../src/resyncBuffer.ts';

const put = (key: string, value: unknown, type = 1): WireKV => [key, value, 'r', type];
const del = (key: string): WireKV => [key, null, 'r', 3];

/** Drains the buffer as a host would, returning each delivery. */
function drain(buffer: ResyncBuffer, maxBatch = 100): Delivery[] {
  const out: Delivery[] = [];
  for (let d = buffer.take(maxBatch); d !== undefined; d = buffer.take(maxBatch)) out.push(d);
  return out;
}

/** A compact rendering: "new a=1", "updated a=2", "deleted a", "status in-sync". */
function render(deliveries: Delivery[]): string[] {
  return deliveries.flatMap((d) => d.kind === 'status'
    ? [`status ${d.status}`]
    : d.updates.map((u) => (u.type === 'deleted' ? `deleted ${u.key}` : `${u.type} ${u.key}=${String(u.value)}`)));
}

describe('ResyncBuffer', () => {
  it('replaces a queued update with a newer one for the same key, keeping its place', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1), put('b', 1), put('a', 2)]);
    assert.deepEqual(render(drain(b)), ['new a=2', 'new b=1']);
    assert.equal(b.stats.coalesced, 1);
  });

  it('drops a queued entry when its key is deleted before the host ever saw it', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1), put('b', 1), del('a')]);
    assert.deepEqual(render(drain(b)), ['new b=1']);
  });

  it('never delivers a deletion of a key the host does not hold', () => {
    const b = new ResyncBuffer();
    b.applyKvs([del('ghost')]);
    assert.deepEqual(drain(b), []);
  });

  it('labels updates new or updated by what the host holds, whatever the wire said', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1, 2)]);
    assert.deepEqual(render(drain(b)), ['new a=1']);
    b.applyKvs([put('a', 2, 1), del('a')]);
    assert.deepEqual(render(drain(b)), ['deleted a']);
    b.applyKvs([put('a', 3, 2)]);
    assert.deepEqual(render(drain(b)), ['new a=3']);
    assert.deepEqual([...b.state], [['a', 3]]);
  });

  it('collapses consecutive statuses and never repeats the status last delivered', () => {
    const b = new ResyncBuffer();
    b.applyStatus('wait-for-datastore');
    b.applyStatus('resync-in-progress');
    b.applyStatus('resync-in-progress');
    assert.deepEqual(render(drain(b)), ['status resync-in-progress']);
    b.applyStatus('in-sync');
    b.applyStatus('resync-in-progress');
    assert.deepEqual(render(drain(b)), []);
  });

  it('never delivers in-sync before an update that arrived ahead of it, and batches never span a status', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1), put('b', 1)]);
    b.applyStatus('in-sync');
    b.applyKvs([put('c', 1), put('a', 2)]);
    const out = drain(b);
    assert.deepEqual(render(out), ['new a=2', 'new b=1', 'status in-sync', 'new c=1']);
    assert.equal(out.length, 3);
  });

  it('splits updates into batches of at most the requested size', () => {
    const b = new ResyncBuffer();
    b.applyKvs(Array.from({ length: 250 }, (_, i) => put(`k${i}`, i)));
    assert.deepEqual(drain(b, 100).map((d) => (d.kind === 'updates' ? d.updates.length : 0)), [100, 100, 50]);
  });

  it('on reconnect drops the queue, reports wait-for-datastore then resync-in-progress, and deletes vanished keys at in-sync', () => {
    const b = new ResyncBuffer();
    b.connectionStarted();
    b.applyKvs([put('keep', 1), put('change', 1), put('vanish', 1)]);
    b.applyStatus('in-sync');
    drain(b);
    b.applyKvs([put('undelivered', 1)]);
    b.connectionLost();
    assert.deepEqual(render(drain(b)), ['status wait-for-datastore']);
    b.connectionStarted();
    b.applyKvs([put('keep', 1), put('change', 2), put('fresh', 1)]);
    assert.deepEqual(render(drain(b)), ['status resync-in-progress', 'updated keep=1', 'updated change=2', 'new fresh=1']);
    assert.ok(b.resyncing);
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)), ['deleted vanish', 'status in-sync']);
    assert.equal(b.resyncing, false);
    assert.deepEqual([...b.state.keys()].sort(), ['change', 'fresh', 'keep']);
    assert.equal(b.stats.synthesised, 1);
  });

  it('keeps stale keys while the new server has not said in-sync', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('old', 1)]);
    b.applyStatus('in-sync');
    drain(b);
    b.connectionLost();
    b.connectionStarted();
    b.applyKvs([put('new', 1)]);
    b.applyStatus('wait-for-datastore');
    drain(b);
    assert.deepEqual([...b.state.keys()].sort(), ['new', 'old']);
    b.applyStatus('resync-in-progress');
    drain(b);
    assert.ok(b.state.has('old'));
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)), ['deleted old', 'status in-sync']);
  });

  it('after two losses in a row deletes only keys the last server did not send', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1), put('b', 1)]);
    b.applyStatus('in-sync');
    drain(b);
    b.connectionLost();
    b.connectionStarted();
    b.applyKvs([put('a', 2), put('c', 1)]);
    drain(b);
    b.connectionLost();
    b.connectionStarted();
    b.applyKvs([put('b', 3)]);
    b.applyStatus('in-sync');
    const out = render(drain(b));
    assert.deepEqual(out.filter((l) => l.startsWith('deleted')).sort(), ['deleted a', 'deleted c']);
    assert.deepEqual([...b.state], [['b', 3]]);
  });

  it('keeps a held key that a delta re-sets after a snapshot which lacked it, deleting only the keys never mentioned (PROTOCOL.md §10 steps 7.3-7.5)', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a0', 1), put('a1', 1), put('b0', 1), put('b1', 1), put('gone', 1)]);
    b.applyStatus('in-sync');
    drain(b);
    b.connectionLost();
    b.connectionStarted();
    // An old snapshot with two of the five keys, its end (which touches nothing), then deltas.
    b.applyKvs([put('a0', 1), put('a1', 1)]);
    b.applyStatus('resync-in-progress');
    b.applyKvs([put('b0', 2, 1), put('b1', 1, 2)]);
    b.applyStatus('in-sync');
    const out = render(drain(b));
    assert.deepEqual(out.filter((l) => l.startsWith('deleted')), ['deleted gone']);
    assert.equal(out.at(-1), 'status in-sync', 'the deletion is delivered before in-sync');
    assert.deepEqual([...b.state.keys()].sort(), ['a0', 'a1', 'b0', 'b1']);
  });

  it('a deletion during a resync counts as seen and is delivered once', () => {
    const b = new ResyncBuffer();
    b.applyKvs([put('a', 1)]);
    drain(b);
    b.connectionLost();
    b.connectionStarted();
    b.applyKvs([del('a')]);
    b.applyStatus('in-sync');
    assert.deepEqual(render(drain(b)).filter((l) => l.startsWith('deleted')), ['deleted a']);
  });

  it('holds at most one entry per key however many updates arrive while the host is not reading', () => {
    const b = new ResyncBuffer();
    for (let round = 0; round < 100; round++) {
      b.applyKvs(Array.from({ length: 50 }, (_, i) => put(`k${i}`, round)));
      b.applyStatus(round % 2 === 0 ? 'resync-in-progress' : 'in-sync');
    }
    assert.ok(b.stats.maxQueued <= 51, `queue grew to ${b.stats.maxQueued}`);
    const out = drain(b);
    assert.ok(render(out).includes('new k49=99'));
  });

  it('whenReady resolves once something is queued', async () => {
    const b = new ResyncBuffer();
    const ready = b.whenReady();
    b.applyKvs([put('a', 1)]);
    await ready;
    assert.ok(b.take(10));
  });
});
