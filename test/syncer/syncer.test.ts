import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { KINDS, type KindInfo } from '../../src/datastore/kinds.ts';
import type { Datastore, KindListener, RawObject } from '../../src/datastore/types.ts';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Syncer, type SyncerTypeSpec, type SyncStatus, type Update } from '../../src/syncer/index.ts';
import { ManualClock } from '../support/manualClock.ts';

/** A datastore the test drives by hand. */
class HandDatastore implements Datastore {
  readonly name = 'hand';
  readonly listeners = new Map<string, KindListener[]>();
  subscribe(kind: KindInfo, l: KindListener): void {
    this.listeners.set(kind.id, [...(this.listeners.get(kind.id) ?? []), l]);
  }
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  l(kind: KindInfo): KindListener {
    return this.listeners.get(kind.id)![0]!;
  }
}

const pool = (name: string, cidr: string, rv: string): RawObject => ({ metadata: { name, resourceVersion: rv }, spec: { cidr } });

/** IPPools map to a key per CIDR, so two pools with one CIDR conflict; a pool without a CIDR is invalid. */
const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.ipPools, KINDS.nodes],
  convert: (kind, obj) => {
    if (kind.id === KINDS.nodes.id) return [{ key: `/node/${obj.metadata.name}`, value: { labels: obj.metadata.labels ?? {} } }];
    const cidr = (obj.spec as { cidr?: string }).cidr;
    if (cidr === 'bad') return [{ key: '/pool/bad', value: null, error: 'invalid CIDR' }];
    return [{ key: `/pool/${cidr}`, value: { name: obj.metadata.name } }];
  },
  staticKVs: [{ key: '/static', value: 'x' }],
};

function setup(staleUpstreamMs = 1000) {
  const ds = new HandDatastore();
  const updates: Update[] = [];
  const statuses: SyncStatus[] = [];
  const clock = new ManualClock();
  const syncer = new Syncer({
    spec, datastore: ds, clock, logger: silentLogger(), metrics: createMetrics(new Registry(), { defaultMetrics: false }), staleUpstreamMs,
    sink: { onUpdates: (u) => updates.push(...u), onStatus: (s) => statuses.push(s) },
  });
  syncer.start();
  return { ds, updates, statuses, syncer, clock };
}

const brief = (u: Update[]) => u.map((x) => `${x.updateType} ${x.key}${x.value === null ? '' : ` ${JSON.stringify(x.value)}`}`);

describe('syncer', () => {
  test('status goes wait-for-datastore, resync-in-progress, in-sync once every kind is listed', () => {
    const { ds, statuses } = setup();
    ds.l(KINDS.ipPools).replaced([], '1');
    ds.l(KINDS.nodes).replaced([], '1');
    assert.deepEqual(statuses, ['wait-for-datastore', 'resync-in-progress', 'in-sync']);
  });

  test('static keys are emitted at start', () => {
    const { updates } = setup();
    assert.deepEqual(brief(updates), ['new /static "x"']);
  });

  test('a relist emits deletions for exactly the objects that vanished', () => {
    const { ds, updates } = setup();
    const l = ds.l(KINDS.nodes);
    l.replaced([{ metadata: { name: 'a', resourceVersion: '1' } }, { metadata: { name: 'b', resourceVersion: '2' } }], '2');
    updates.length = 0;
    l.replaced([{ metadata: { name: 'a', resourceVersion: '1' } }, { metadata: { name: 'c', resourceVersion: '5' } }], '5');
    assert.deepEqual(brief(updates), ['new /node/c {"labels":{}}', 'deleted /node/b']);
  });

  test('an object modified with the same resourceVersion is not converted again', () => {
    const { ds, updates } = setup();
    const l = ds.l(KINDS.nodes);
    l.changed('upsert', { metadata: { name: 'a', resourceVersion: '1' } }, '1');
    l.changed('upsert', { metadata: { name: 'a', resourceVersion: '1', labels: { x: 'y' } } }, '1');
    l.changed('upsert', { metadata: { name: 'a', resourceVersion: '2', labels: { x: 'y' } } }, '2');
    assert.deepEqual(brief(updates).slice(1), ['new /node/a {"labels":{}}', 'updated /node/a {"labels":{"x":"y"}}']);
  });

  test('when two objects produce one key the lowest name wins and the next takes over when it goes', () => {
    const { ds, updates } = setup();
    const l = ds.l(KINDS.ipPools);
    l.changed('upsert', pool('pool-b', '10.0.0.0/16', '1'), '1');
    l.changed('upsert', pool('pool-a', '10.0.0.0/16', '2'), '2');
    l.changed('upsert', pool('pool-c', '10.0.0.0/16', '3'), '3');
    l.changed('delete', pool('pool-a', '10.0.0.0/16', '4'), '4');
    l.changed('delete', pool('pool-b', '10.0.0.0/16', '5'), '5');
    l.changed('delete', pool('pool-c', '10.0.0.0/16', '6'), '6');
    assert.deepEqual(brief(updates).slice(1), [
      'new /pool/10.0.0.0/16 {"name":"pool-b"}',
      'updated /pool/10.0.0.0/16 {"name":"pool-a"}',
      'updated /pool/10.0.0.0/16 {"name":"pool-b"}',
      'updated /pool/10.0.0.0/16 {"name":"pool-c"}',
      'deleted /pool/10.0.0.0/16',
    ]);
  });

  test('an object whose key changes deletes its old key', () => {
    const { ds, updates } = setup();
    const l = ds.l(KINDS.ipPools);
    l.changed('upsert', pool('p', '10.0.0.0/16', '1'), '1');
    l.changed('upsert', pool('p', '10.1.0.0/16', '2'), '2');
    assert.deepEqual(brief(updates).slice(1), ['new /pool/10.0.0.0/16 {"name":"p"}', 'new /pool/10.1.0.0/16 {"name":"p"}', 'deleted /pool/10.0.0.0/16']);
  });

  test('an invalid value becomes a deletion of its key and an object without a name is skipped', () => {
    const { ds, updates } = setup();
    const l = ds.l(KINDS.ipPools);
    l.changed('upsert', pool('p', 'bad', '1'), '1');
    l.changed('upsert', { metadata: {} } as RawObject, '2');
    l.changed('upsert', pool('q', '10.0.0.0/8', '3'), '3');
    assert.deepEqual(brief(updates).slice(1), ['deleted /pool/bad', 'new /pool/10.0.0.0/8 {"name":"q"}']);
  });

  test('a converter that throws costs only that object its keys', () => {
    const ds = new HandDatastore();
    const updates: Update[] = [];
    const throwing: SyncerTypeSpec = { name: 'bgp', kinds: [KINDS.nodes], convert: (_k, o) => {
      if (o.metadata.name === 'boom') throw new Error('malformed');
      return [{ key: `/n/${o.metadata.name}`, value: 'v' }];
    } };
    const s = new Syncer({ spec: throwing, datastore: ds, clock: new ManualClock(), logger: silentLogger(), metrics: createMetrics(new Registry(), { defaultMetrics: false }), staleUpstreamMs: 1000, sink: { onUpdates: (u) => updates.push(...u), onStatus: () => {} } });
    s.start();
    ds.l(KINDS.nodes).replaced([{ metadata: { name: 'boom' } }, { metadata: { name: 'fine' } }], '1');
    assert.deepEqual(brief(updates), ['new /n/fine "v"']);
  });

  test('a kind down for longer than the stale bound drops the syncer out of in-sync until it is back', () => {
    const { ds, statuses, syncer, clock } = setup(1000);
    ds.l(KINDS.ipPools).replaced([], '1');
    ds.l(KINDS.nodes).replaced([], '1');
    ds.l(KINDS.nodes).connection('down', new Error('connection refused'));
    clock.advance(999);
    assert.equal(syncer.status, 'in-sync');
    clock.advance(2);
    assert.equal(syncer.status, 'resync-in-progress');
    assert.deepEqual(syncer.staleKinds(), ['nodes']);
    ds.l(KINDS.nodes).connection('up');
    assert.equal(syncer.status, 'in-sync');
    assert.deepEqual(statuses.slice(-2), ['resync-in-progress', 'in-sync']);
  });

  test('a short outage within the stale bound does not change the status', () => {
    const { ds, syncer, clock } = setup(1000);
    ds.l(KINDS.ipPools).replaced([], '1');
    ds.l(KINDS.nodes).replaced([], '1');
    ds.l(KINDS.nodes).connection('down');
    clock.advance(500);
    ds.l(KINDS.nodes).connection('up');
    clock.advance(5000);
    assert.equal(syncer.status, 'in-sync');
  });

  test('an incomplete kind holds the syncer out of in-sync at once, through a listing, until the datastore says up', () => {
    const { ds, statuses, syncer } = setup();
    ds.l(KINDS.ipPools).connection('incomplete', new Error('a.yaml has not been read'));
    ds.l(KINDS.ipPools).replaced([], '1');
    ds.l(KINDS.nodes).replaced([], '1');
    assert.equal(syncer.status, 'resync-in-progress', 'no stale delay, and a listing does not end it');
    assert.deepEqual(syncer.staleKinds(), [KINDS.ipPools.id]);
    ds.l(KINDS.ipPools).connection('up');
    assert.deepEqual(statuses, ['wait-for-datastore', 'resync-in-progress', 'in-sync']);
    ds.l(KINDS.nodes).connection('incomplete');
    assert.equal(syncer.status, 'resync-in-progress', 'also after having been in sync');
  });
});
