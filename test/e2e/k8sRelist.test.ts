/**
 * End to end: a relist after 410 Gone travels through the whole pipeline (datastore relist →
 * syncer watcher cache diff → snapshot cache → clients) as exactly the differences: keys that
 * did not change are neither deleted nor re-sent, whether the 410 arrives as an ERROR event
 * inside the watch stream or as the HTTP status of the next watch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SyncerType } from '../../src/syncer/types.ts';
import { changedKeys, expectedModel, generateCluster, type GeneratedCluster, nodeName, podObject } from '../support/e2eCluster.ts';
import { connectClients, kvsSince, SERVED, startK8sCattail, syncerTypeOf, waitConverged } from '../support/e2eServer.ts';
import { eventually, type Harness } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

const ref = (apiVersion: string, kind: string, name: string, namespace?: string) =>
  ({ apiVersion, kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } });

/**
 * Changes made while no watch is open, so only a relist can deliver them: pod label updates, a
 * deleted and a created pod, a pod annotation that changes no model value, an IPPool, a Node
 * annotation (felix, bgp and tunnel-ip-allocation keys), a deleted BlockAffinity.
 */
function mutate(api: K8sEmulator, cluster: GeneratedCluster, round: number): void {
  const pods = [...cluster.pods.values()].filter((p) => p.node !== undefined && !p.hostNetwork && p.phase === undefined);
  for (const p of pods.slice(round * 5, round * 5 + 3)) {
    const o = api.get(ref('v1', 'Pod', p.name, p.namespace))!;
    o.metadata.labels = { ...o.metadata.labels, relisted: `round-${round}` };
    api.update(o);
  }
  const quiet = pods[round * 5 + 3]!;
  const q = api.get(ref('v1', 'Pod', quiet.name, quiet.namespace))!;
  q.metadata.annotations = { ...q.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': `round-${round}` };
  api.update(q);
  const gone = pods[round * 5 + 4]!;
  api.delete(ref('v1', 'Pod', gone.name, gone.namespace));
  cluster.pods.delete(`${gone.namespace}/${gone.name}`);
  const fresh = { namespace: 'frontend', name: `web-relist-${round}`, node: nodeName(2), app: 'web', serviceAccount: 'web', ip: cluster.ips.allocate(2) };
  api.create(podObject(fresh));
  cluster.pods.set(`frontend/${fresh.name}`, fresh);
  const pool = api.get(ref('crd.projectcalico.org/v1', 'IPPool', 'default-ipv6-ippool'))!;
  (pool.spec as Record<string, unknown>).natOutgoing = round % 2 === 1;
  api.update(pool);
  const node = api.get(ref('v1', 'Node', nodeName(6)))!;
  node.metadata.annotations = { ...node.metadata.annotations, 'projectcalico.org/IPv4Address': `192.168.58.${100 + round}/24` };
  api.update(node);
  api.delete(ref('crd.projectcalico.org/v1', 'BlockAffinity', `${nodeName(round)}-10-244-${round}-0-26`));
}

describe('relist after 410 Gone through the whole pipeline', () => {
  let api: K8sEmulator;
  let h: Harness;
  let cluster: GeneratedCluster;
  let clients: TestClient[] = [];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    cluster = generateCluster(api, 150);
    h = await startK8sCattail(api);
    clients = await connectClients(h.syncUrl, { felix: 2, bgp: 1, 'tunnel-ip-allocation': 1 });
    await waitConverged(api, clients, 'the initial snapshot');
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  /** Runs one 410 scenario and asserts the clients received exactly the changed keys, once each. */
  async function relistDeliversOnlyDifferences(round: number, provoke: () => void): Promise<void> {
    const before = new Map(SERVED.map((t) => [t, expectedModel(api, t)] as const));
    const marks = clients.map((c) => c.messages.length);
    const listsBefore = api.count({ verb: 'list', continued: false });
    const started = Date.now();
    provoke();
    mutate(api, cluster, round);
    api.compact();
    await waitConverged(api, clients, `the relist of round ${round}`);
    const relists = api.count({ verb: 'list', continued: false }) - listsBefore;
    assert.ok(relists >= 1, 'the datastore relisted');
    for (const [i, c] of clients.entries()) {
      const t: SyncerType = syncerTypeOf(c);
      const expected = [...changedKeys(before.get(t)!, expectedModel(api, t))].sort();
      const received = kvsSince(c, marks[i]!).map(([key]) => key);
      assert.deepEqual([...new Set(received)].sort(), expected, `${t} client received exactly the changed keys`);
      const repeated = received.filter((k, j) => received.indexOf(k) !== j);
      assert.deepEqual(repeated, [], `${t} client received no key twice (no spurious delete + re-add)`);
      const statuses = c.messages.slice(marks[i]).filter((m) => m.type === 'status');
      assert.deepEqual(statuses, [], `${t} client saw no status change during the relist`);
    }
    const felix = clients.find((c) => c.options.syncerType === 'felix')!;
    process.stdout.write(`# round ${round}: ${relists} relists, felix received ${kvsSince(felix, marks[0]!).length} keys ` +
      `of ${felix.state.size}, converged in ${Date.now() - started} ms\n`);
  }

  test('a 410 ERROR event in every watch, with compaction, delivers only the changed keys', async () => {
    await relistDeliversOnlyDifferences(1, () => api.expireWatches());
  });

  test('an HTTP 410 on re-watching a compacted revision delivers only the changed keys', async () => {
    api.watchGone = 'status';
    const gone = api.count({ verb: 'watch' });
    await relistDeliversOnlyDifferences(2, () => api.dropWatches());
    assert.ok(api.requests.slice(-200).some((r) => r.verb === 'watch' && r.status === 410), 'a watch was refused with HTTP 410');
    assert.ok(api.count({ verb: 'watch' }) > gone);
  });

  test('a relist with nothing changed sends clients nothing', async () => {
    api.watchGone = 'event';
    const marks = clients.map((c) => c.messages.length);
    const listsBefore = api.count({ verb: 'list', continued: false });
    api.expireWatches();
    api.compact();
    // Every kind relists; wait for all of them, then for their watches to be open again.
    const kindCount = new Set(api.requests.filter((r) => r.verb === 'list').map((r) => r.path)).size;
    await eventually(() => api.count({ verb: 'list', continued: false }) - listsBefore >= kindCount, 'every kind to relist');
    await eventually(() => api.openWatches() >= kindCount, 'every watch to be open again');
    await waitConverged(api, clients, 'after a no-op relist');
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(kvsSince(c, marks[i]!).map(([k]) => k), [], `${syncerTypeOf(c)} client received no keys`);
    }
  });
});
