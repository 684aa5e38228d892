/**
 * The etcd datastore's list/watch loop on its own, against a real etcd: paging at one
 * revision, events with their revisions, malformed values, a member losing its quorum and a
 * hung member.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ETCD_KINDS, KINDS, type KindInfo } from '../../../src/datastore/kinds.ts';
import { EtcdClient, EtcdDatastore } from '../../../src/datastore/etcd/index.ts';
import type { KindListener, RawObject } from '../../../src/datastore/types.ts';
import { silentLogger } from '../../../src/logger.ts';
import { putAll, waitEtcdReady } from '../../support/etcdE2e.ts';
import { EtcdCluster } from '../../support/etcdProcess.ts';
import { eventually } from '../../support/eventually.ts';

const V3 = '/calico/resources/v3/projectcalico.org';

class Recorder implements KindListener {
  readonly objects = new Map<string, RawObject>();
  readonly states: string[] = [];
  listings = 0;
  lastListing: readonly RawObject[] = [];
  lastRevision = '';
  replaced(objects: readonly RawObject[], revision: string): void {
    this.listings++;
    this.lastListing = objects;
    this.lastRevision = revision;
    this.objects.clear();
    for (const o of objects) this.objects.set(`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  }
  changed(type: 'upsert' | 'delete', object: RawObject, revision: string): void {
    this.lastRevision = revision;
    const id = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    if (type === 'upsert') this.objects.set(id, object);
    else this.objects.delete(id);
  }
  connection(state: 'up' | 'down' | 'incomplete'): void {
    this.states.push(state);
  }
  get state(): string | undefined {
    return this.states[this.states.length - 1];
  }
}

function start(endpoints: string[], kind: KindInfo, tuning: { pageSize?: number; watchIdleMs?: number; probeTimeoutMs?: number } = {}): { ds: EtcdDatastore; rec: Recorder } {
  const ds = new EtcdDatastore({ endpoints, logger: silentLogger(), backoffInitialMs: 100, backoffMaxMs: 500, ...tuning });
  const rec = new Recorder();
  ds.subscribe(kind, rec);
  void ds.start();
  return { ds, rec };
}

const gns = (name: string, nets: string[]): [string, string] => [`${V3}/globalnetworksets/${name}`, JSON.stringify({
  apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name, labels: { set: name } }, spec: { nets },
})];

describe('the etcd datastore on a single member', { concurrency: false }, () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  before(async () => {
    etcd = await EtcdCluster.start();
    client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
    await waitEtcdReady(client);
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
  });

  test('lists 1,200 keys in pages of 100 at one revision, then delivers each change with its mod revision', async () => {
    const sets = new Map<string, string>();
    for (let i = 0; i < 1200; i++) sets.set(...gns(`set-${String(i).padStart(4, '0')}`, [`10.${i >> 8}.${i & 255}.0/24`]));
    await putAll(client, sets);
    const { ds, rec } = start(etcd.endpoints, KINDS.globalNetworkSets, { pageSize: 100 });
    try {
      await eventually(() => rec.listings === 1, 'the first listing');
      assert.equal(rec.lastListing.length, 1200);
      const o = rec.objects.get('/set-0042')!;
      assert.equal(o.kind, 'GlobalNetworkSet');
      assert.deepEqual(o.spec, { nets: ['10.0.42.0/24'] });
      assert.ok(BigInt(o.metadata.resourceVersion!) <= BigInt(rec.lastRevision));
      const rev = await client.put(...gns('set-0042', ['192.0.2.0/24']));
      await eventually(() => (rec.objects.get('/set-0042')?.spec as { nets: string[] }).nets[0] === '192.0.2.0/24', 'the update');
      assert.equal(rec.objects.get('/set-0042')!.metadata.resourceVersion, rev);
      await client.delete(`${V3}/globalnetworksets/set-0042`);
      await eventually(() => !rec.objects.has('/set-0042'), 'the deletion');
      assert.equal(rec.listings, 1, 'no relist along the way');
      assert.deepEqual(rec.states, ['up']);
    } finally {
      await ds.close();
      await client.deletePrefix(`${V3}/globalnetworksets/`);
    }
  });

  test('a value that is not JSON arrives as an object named by its key that carries the reason, and nothing else is lost', async () => {
    const { ds, rec } = start(etcd.endpoints, ETCD_KINDS.workloadEndpoints);
    try {
      await eventually(() => rec.listings === 1, 'the first listing');
      await client.put(`${V3}/workloadendpoints/ns1/node--a-k8s-pod-eth0`, '{"not json');
      await client.put(`${V3}/workloadendpoints/ns1/node--a-k8s-good-eth0`, JSON.stringify({ metadata: { name: 'stored-name-is-ignored' }, spec: {} }));
      await eventually(() => rec.objects.size === 2, 'both keys delivered');
      const bad = rec.objects.get('ns1/node--a-k8s-pod-eth0')!;
      assert.match(String(bad.decodeError), /not JSON/);
      const good = rec.objects.get('ns1/node--a-k8s-good-eth0')!;
      assert.equal(good.decodeError, undefined);
      assert.equal(good.apiVersion, 'projectcalico.org/v3');
      assert.equal(good.kind, 'WorkloadEndpoint');
    } finally {
      await ds.close();
      await client.deletePrefix(`${V3}/workloadendpoints/`);
    }
  });

  test('a hung member (SIGSTOP) is noticed by the idle watchdog: the kind goes down, and up again once it answers', async () => {
    const { ds, rec } = start(etcd.endpoints, KINDS.ipPools, { watchIdleMs: 300, probeTimeoutMs: 500 });
    try {
      await eventually(() => rec.state === 'up', 'up');
      etcd.members[0]!.pause();
      await eventually(() => rec.state === 'down', 'down while the member is stopped', 30_000);
      etcd.members[0]!.resume();
      await eventually(() => rec.state === 'up', 'up once it answers', 30_000);
      await client.put(`${V3}/ippools/after-resume`, JSON.stringify({ metadata: { name: 'after-resume' }, spec: { cidr: '10.9.0.0/16' } }));
      await eventually(() => rec.objects.has('/after-resume'), 'a change after the pause');
    } finally {
      etcd.members[0]!.resume();
      await ds.close();
    }
  });
});

test('a member that loses its quorum ends the watch (it requires a leader): the kind goes down, then up with what changed', async () => {
  const etcd = await EtcdCluster.start({ size: 3 });
  const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
  try {
    await waitEtcdReady(client);
    await putAll(client, new Map([gns('before', ['10.1.0.0/16'])]));
    const { ds, rec } = start([etcd.endpoints[0]!], KINDS.globalNetworkSets);
    try {
      await eventually(() => rec.objects.has('/before'), 'the first listing');
      await etcd.members[1]!.kill();
      await etcd.members[2]!.kill();
      await eventually(() => rec.state === 'down', 'down without a leader', 60_000);
      etcd.members[1]!.start();
      etcd.members[2]!.start();
      await eventually(async () => client.put(...gns('after', ['10.2.0.0/16'])).then(() => true, () => false), 'a write with the quorum back', 60_000);
      await eventually(() => rec.state === 'up' && rec.objects.has('/after'), 'up with the change', 60_000);
    } finally {
      await ds.close();
    }
  } finally {
    client.close();
    await etcd.stop();
  }
});
