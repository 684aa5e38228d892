/**
 * End to end under the faults a busy API server produces while objects keep changing: watches
 * cut mid-churn, a continue token that expires between list pages, injected 5xx/429 answers,
 * and objects that turn invalid and valid again across a relist. Clients must converge to the
 * model computed from the emulator every time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { changedKeys, expectedModel, generateCluster, type GeneratedCluster, podChurn } from '../support/e2eCluster.ts';
import { connectClients, kvsSince, SERVED, startK8sCattail, syncerTypeOf, waitConverged } from '../support/e2eServer.ts';
import { eventually, type Harness } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

describe('Kubernetes faults during churn, end to end', () => {
  let api: K8sEmulator;
  let h: Harness;
  let cluster: GeneratedCluster;
  let clients: TestClient[] = [];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    cluster = generateCluster(api, 150);
    // Enough service accounts for a two-page list.
    for (let i = 0; i < 520; i++) api.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `job-${String(i).padStart(4, '0')}`, namespace: 'batch' } });
    h = await startK8sCattail(api);
    clients = await connectClients(h.syncUrl, { felix: 2, bgp: 1, 'tunnel-ip-allocation': 1 });
    await waitConverged(api, clients, 'the initial snapshot');
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  test('watches cut in the middle of pod churn resume from their revision, without a relist, and lose no change', async () => {
    const marks = clients.map((c) => c.messages.length);
    const held = clients.map((c) => new Map(c.state));
    const lists = api.count({ verb: 'list' });
    podChurn(api, cluster, 1);
    api.dropWatches({ abrupt: true });
    podChurn(api, cluster, 2);
    api.dropWatches({ abrupt: false });
    podChurn(api, cluster, 3);
    await waitConverged(api, clients, 'churn across cut watches');
    assert.equal(api.count({ verb: 'list' }), lists, 'a dropped watch resumes from its revision without a relist');
    for (const [i, c] of clients.entries()) {
      const received = new Set(kvsSince(c, marks[i]!).map(([k]) => k));
      const changed = changedKeys(held[i]!, expectedModel(api, syncerTypeOf(c)));
      for (const k of changed) assert.ok(received.has(k), `${k} was delivered`);
    }
  });

  test('a continue token that expires between list pages restarts the list and still yields exactly the differences', async () => {
    api.watchGone = 'event';
    const marks = clients.map((c) => c.messages.length);
    const before = new Map(SERVED.map((t) => [t, expectedModel(api, t)] as const));
    let compacted = false;
    const off = api.onRequest((r) => {
      if (compacted || r.verb !== 'list' || r.path !== '/api/v1/serviceaccounts' || r.query.continue === undefined) return;
      compacted = true;
      // Between the pages: a change and a compaction, so the second page's token is gone.
      const sa = api.get({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: 'frontend' } })!;
      sa.metadata.labels = { ...sa.metadata.labels, 'paged-relist': 'yes' };
      api.update(sa);
      api.compact();
    });
    try {
      api.expireWatches();
      api.compact();
      await eventually(() => compacted, 'a continued service-account list', 15_000);
      await waitConverged(api, clients, 'the restarted paged list');
    } finally {
      off();
    }
    assert.ok(api.requests.some((r) => r.path === '/api/v1/serviceaccounts' && r.query.continue !== undefined && r.status === 410), 'the continue token expired');
    for (const [i, c] of clients.entries()) {
      const t = syncerTypeOf(c);
      const received = [...new Set(kvsSince(c, marks[i]!).map(([k]) => k))].sort();
      assert.deepEqual(received, [...changedKeys(before.get(t)!, expectedModel(api, t))].sort(), `${t} client received exactly the differences`);
    }
  });

  test('injected 500, 503 and 429 answers on lists and watches delay but never corrupt the model', async () => {
    api.failNext(3, 500, { verb: 'list' });
    api.failNext(2, 503, { verb: 'watch' });
    api.failNext(2, 429, { verb: 'list', path: '/api/v1/pods' });
    api.expireWatches();
    api.compact();
    podChurn(api, cluster, 4);
    await waitConverged(api, clients, 'recovery from injected errors', 30_000);
    for (const c of clients) assert.equal(c.closed, undefined);
  });

  test('an object that turns invalid and valid again across a relist deletes and restores exactly its key', async () => {
    const pod = [...cluster.pods.values()].find((p) => p.node !== undefined && !p.hostNetwork && p.phase === undefined && cluster.pods.has(`${p.namespace}/${p.name}`))!;
    const ref = { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.name, namespace: pod.namespace } };
    const felix = clients.filter((c) => c.options.syncerType === 'felix');
    const key = [...felix[0]!.state.keys()].find((k) => k.includes(`/${pod.namespace}%2f${pod.name}/`))!;
    assert.ok(key, 'the pod has a workload endpoint');
    const good = api.get(ref)!;
    const bad = structuredClone(good);
    bad.status = { ...(bad.status as object), podIP: 'not-an-ip', podIPs: [{ ip: 'not-an-ip' }] };
    api.expireWatches();
    api.update(bad);
    api.compact();
    await waitConverged(api, clients, 'the invalid pod to lose its key');
    assert.ok(felix.every((c) => !c.state.has(key)));
    const fixed = api.get(ref)!;
    fixed.status = good.status;
    api.expireWatches();
    api.update(fixed);
    api.compact();
    await waitConverged(api, clients, 'the fixed pod to regain its key');
    assert.ok(felix.every((c) => c.state.has(key)));
  });
});
