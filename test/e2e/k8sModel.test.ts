/**
 * End to end: API server emulator → Cattail (Kubernetes datastore, from flags and a kubeconfig
 * file) → real protocol clients of every served syncer type, for a cluster of a few hundred
 * objects and through bursts of pod churn. The expected model is computed directly from the
 * emulator's objects by the conversion functions, not read back from the server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { syncerSpecs } from '../../src/calico/index.ts';
import { ALL_KINDS } from '../../src/datastore/kinds.ts';
import { expectedModel, generateCluster, type GeneratedCluster, LONG_SERVICE_ACCOUNT, modelDiff, podChurn } from '../support/e2eCluster.ts';
import { connectClients, SERVED, startK8sCattail, syncerTypeOf, waitConverged } from '../support/e2eServer.ts';
import { type Harness, startCattail } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

describe('emulator → Cattail → clients with a cluster of a few hundred objects', () => {
  let api: K8sEmulator;
  let h: Harness;
  let cluster: GeneratedCluster;
  let clients: TestClient[] = [];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    cluster = generateCluster(api, 200);
    h = await startK8sCattail(api);
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  test('the generated cluster is realistic: a few hundred objects of every kind the syncers read', () => {
    const total = Object.values(cluster.counts).reduce((a, b) => a + b, 0);
    assert.ok(total >= 300, `only ${total} objects`);
    assert.ok((cluster.counts.Pod ?? 0) >= 200);
    const specs = syncerSpecs();
    const kinds = new Set(SERVED.flatMap((t) => specs[t].kinds.map((k) => k.id)));
    for (const id of kinds) assert.ok(api.objects(id).length > 0, `no ${id} objects`);
  });

  test('every felix, bgp and tunnel-ip-allocation client holds exactly the model computed from the emulator', async () => {
    const started = Date.now();
    clients = await connectClients(h.syncUrl, { felix: 3, bgp: 2, 'tunnel-ip-allocation': 2 });
    await waitConverged(api, clients, 'the initial snapshot');
    const felix = expectedModel(api, 'felix');
    const bgp = expectedModel(api, 'bgp');
    const tunnel = expectedModel(api, 'tunnel-ip-allocation');
    // The model is not trivially small and covers the interesting cases.
    assert.ok(felix.size > 350, `felix model has ${felix.size} keys`);
    assert.ok(bgp.size >= 20 && tunnel.size >= 10, `bgp ${bgp.size}, tunnel ${tunnel.size} keys`);
    const weps = [...felix.keys()].filter((k) => k.includes('/workload/'));
    assert.ok(weps.length > 150 && weps.length < 200, `${weps.length} workload endpoints`);
    assert.ok(felix.has(`/calico/v1/policy/profile/ksa.payments.${LONG_SERVICE_ACCOUNT}/rules`) || [...felix.keys()].some((k) => k.includes(LONG_SERVICE_ACCOUNT)),
      'the long service account has a profile');
    assert.ok(![...felix.keys()].some((k) => k.includes('broken-ip') || k.includes('terminating-cni')), 'invalid and finished pods have no key');
    assert.ok([...felix.keys()].some((k) => k.includes('indexer-terminating-other')), 'a terminating pod without the Calico annotation keeps its key');
    // The server's own model agrees with what the clients hold.
    for (const t of SERVED) assert.deepEqual(modelDiff(h.model(t), expectedModel(api, t)), [], `server model of ${t}`);
    process.stdout.write(`# initial model: felix ${felix.size}, bgp ${bgp.size}, tunnel-ip-allocation ${tunnel.size} keys; ` +
      `${clients.length} clients converged in ${Date.now() - started} ms\n`);
  });

  test('a burst of pod churn converges every client to the model recomputed from the emulator', async () => {
    for (let round = 1; round <= 2; round++) {
      const started = Date.now();
      const churn = podChurn(api, cluster, round);
      assert.ok(churn.total >= 100, `only ${churn.total} pod writes`);
      await waitConverged(api, clients, `pod churn round ${round}`);
      process.stdout.write(`# churn round ${round}: ${JSON.stringify(churn)} converged in ${Date.now() - started} ms\n`);
    }
    for (const c of clients) assert.equal(c.closed, undefined, 'no client was disconnected');
  });

  test('when the winning object of a shared key goes away, clients get the next owner\'s value', async () => {
    const key = '/calico/v1/ipam/v4/pool/10.244.0.0-16';
    const pool = { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } };
    const felix = clients.find((c) => c.options.syncerType === 'felix')!;
    assert.equal((felix.state.get(key) as { ipip_mode: string }).ipip_mode, 'always', 'default-ipv4-ippool wins over zz-duplicate-pool');
    const saved = api.get(pool)!;
    api.delete(pool);
    await waitConverged(api, clients, 'the duplicate pool to take over the key');
    assert.equal((felix.state.get(key) as { vxlan_mode: string }).vxlan_mode, 'always', 'zz-duplicate-pool now owns the key');
    const { resourceVersion: _rv, uid: _uid, ...metadata } = saved.metadata;
    api.create({ ...saved, metadata });
    await waitConverged(api, clients, 'the recreated pool to win again');
    assert.equal((felix.state.get(key) as { ipip_mode: string }).ipip_mode, 'always');
  });

  test('the same cluster loaded through the file datastore yields the identical model', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cattail-e2e-files-'));
    let fileServer: Harness | undefined;
    let fileClients: TestClient[] = [];
    try {
      for (const kind of ALL_KINDS) {
        const objects = api.objects(kind);
        if (objects.length === 0) continue;
        await writeFile(path.join(dir, `${kind.id}.yaml`), objects.map((o) => stringify(o)).join('---\n'));
      }
      fileServer = await startCattail({ dir });
      // Clients, not readiness: readiness follows the syncers, the snapshot cache may still be
      // batching; a client is in sync only once everything before the status reached it.
      fileClients = await connectClients(fileServer.syncUrl, { felix: 1, bgp: 1, 'tunnel-ip-allocation': 1 });
      await waitConverged(api, fileClients, 'file-datastore clients');
      for (const c of fileClients) {
        const t = syncerTypeOf(c);
        assert.deepEqual(modelDiff(c.state, h.model(t)), [], `file-datastore client vs kubernetes-datastore model of ${t}`);
      }
    } finally {
      for (const c of fileClients) c.close();
      await fileServer?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
