import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeClient } from '../../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { computeConnectionLimit, ConnectionLimitPoller, countReplicas } from '../../src/server/index.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import { ManualClock } from '../support/manualClock.ts';

describe('connection-limit formula', () => {
  const cases: Array<[string, Parameters<typeof computeConnectionLimit>[0], number, string]> = [
    ['Typha unit test: 3 types, 5 replicas, 100 nodes, limits 11/101', { syncerTypes: 3, lower: 11, upper: 101, replicas: 5, nodes: 100 }, 93, 'computed'],
    ['the same with 200 nodes hits the cap', { syncerTypes: 3, lower: 11, upper: 101, replicas: 5, nodes: 200 }, 101, 'capped-at-upper'],
    ['production defaults: 4 types, 3 replicas, 500 nodes', { syncerTypes: 4, lower: 400, upper: 10000, replicas: 3, nodes: 500 }, 1204, 'computed'],
    ['4 types, 3 replicas, 100 nodes is raised to the lower limit', { syncerTypes: 4, lower: 400, upper: 10000, replicas: 3, nodes: 100 }, 400, 'raised-to-lower'],
    ['a lone replica gets the upper limit', { syncerTypes: 4, lower: 400, upper: 10000, replicas: 1, nodes: 5000 }, 10000, 'lone-replica'],
    ['no replicas found counts as lone', { syncerTypes: 4, lower: 400, upper: 10000, replicas: 0, nodes: 5000 }, 10000, 'lone-replica'],
    ['a replica lookup error gets the upper limit', { syncerTypes: 4, lower: 400, upper: 10000, replicas: new Error('403'), nodes: 5000 }, 10000, 'error'],
    ['a node count error gets the upper limit', { syncerTypes: 4, lower: 400, upper: 10000, replicas: 3, nodes: new Error('not in sync') }, 10000, 'error'],
  ];
  for (const [name, inputs, limit, reason] of cases) {
    test(`${name} → ${limit}`, () => assert.deepEqual(computeConnectionLimit(inputs), { limit, reason }));
  }

  test('replicas are unique endpoint addresses, ready or not, of slices carrying the named port', () => {
    const slices = { items: [
      { ports: [{ name: 'cattail' }], endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }, { addresses: ['10.0.0.2'], conditions: { ready: false } }] },
      { ports: [{ name: 'cattail' }], endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.3'] }] },
      { ports: [{ name: 'metrics' }], endpoints: [{ addresses: ['10.0.0.9'] }] },
    ] };
    assert.equal(countReplicas(slices, 'cattail'), 3);
  });
});

describe('connection-limit poller against the Kubernetes emulator', () => {
  const api = new K8sEmulator();
  before(async () => api.start());
  after(async () => api.stop());

  const slice = (name: string, addresses: string[]) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace: 'calico-system', labels: { 'kubernetes.io/service-name': 'cattail' } },
    addressType: 'IPv4', ports: [{ name: 'cattail', port: 5473, protocol: 'TCP' }],
    endpoints: addresses.map((a, i) => ({ addresses: [a], conditions: { ready: i > 0 } })),
  });

  test('it counts replicas from the Service EndpointSlices, applies the limit only when it changes, and logs the inputs', async () => {
    api.create(slice('cattail-a', ['10.1.0.1', '10.1.0.2', '10.1.0.3']));
    api.create({ ...slice('other', ['10.9.0.1']), metadata: { name: 'other', namespace: 'calico-system', labels: { 'kubernetes.io/service-name': 'other' } } });
    const client = new KubeClient({ kubeConfig: api.kubeConfig() });
    const applied: number[] = [];
    let nodes: number | undefined;
    const clock = new ManualClock();
    const poller = new ConnectionLimitPoller({
      intervalMs: 30_000, syncerTypes: 4, lower: 400, upper: 10_000, clock, logger: silentLogger(), random: () => 0,
      apply: (l) => applied.push(l),
      lookupReplicas: async () => countReplicas(await client.getJson('/apis/discovery.k8s.io/v1/namespaces/calico-system/endpointslices', { labelSelector: 'kubernetes.io/service-name=cattail' }), 'cattail'),
      lookupNodes: () => {
        if (nodes === undefined) throw new Error('not in sync yet');
        return nodes;
      },
    });
    assert.equal((await poller.poll()).reason, 'error', 'before the felix syncer is in sync');
    assert.deepEqual(applied, [], 'the upper limit is already in force, so nothing is applied');
    nodes = 500;
    assert.deepEqual(await poller.poll(), { limit: 1204, reason: 'computed' });
    await poller.poll();
    assert.deepEqual(applied, [1204], 'applied once, not on every poll');
    api.delete(slice('cattail-a', []));
    api.create(slice('cattail-b', ['10.1.0.1']));
    assert.deepEqual(await poller.poll(), { limit: 10_000, reason: 'lone-replica' });
    assert.deepEqual(applied, [1204, 10_000]);
    api.failNext(1, 500);
    assert.equal((await poller.poll()).reason, 'error');
    poller.close();
    client.close();
  });

  test('the poll loop runs every interval with jitter', async () => {
    const clock = new ManualClock();
    let polls = 0;
    const poller = new ConnectionLimitPoller({
      intervalMs: 30_000, syncerTypes: 1, lower: 1, upper: 10, clock, logger: silentLogger(), random: () => 0.5,
      apply: () => {}, lookupReplicas: async () => { polls++; return 1; }, lookupNodes: () => 1,
    });
    poller.start();
    clock.advance(31_000);
    assert.equal(polls, 0, '30 s plus 5 % jitter has not passed');
    clock.advance(600);
    await new Promise((r) => setImmediate(r));
    assert.equal(polls, 1);
    poller.close();
  });
});
