/**
 * End to end: the Kubernetes API goes away. Clients keep what they have, the server stays live,
 * and once the outage outlasts `--stale-upstream-ms` the server says it is no longer in sync
 * (readiness 503, `status: resync-in-progress` to clients, `cattail_datastore_kind_stale` = 1
 * per kind). When the API is back, everything returns to in-sync and the changes made during
 * the outage arrive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { syncerSpecs } from '../../src/calico/index.ts';
import { changedKeys, expectedModel, generateCluster, type GeneratedCluster, nodeName, podObject } from '../support/e2eCluster.ts';
import { connectClients, gauge, httpStatus, httpText, kvsSince, SERVED, startK8sCattail, syncerTypeOf, waitConverged } from '../support/e2eServer.ts';
import { eventually, type Harness } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

const STALE_MS = 1500;

describe('an API server outage', () => {
  let api: K8sEmulator;
  let h: Harness;
  let cluster: GeneratedCluster;
  let clients: TestClient[] = [];
  let created = '';
  const kindIds = [...new Set(SERVED.flatMap((t) => syncerSpecs()[t].kinds.map((k) => k.id)))];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    cluster = generateCluster(api, 100);
    h = await startK8sCattail(api, ['--stale-upstream-ms', String(STALE_MS)]);
    clients = await connectClients(h.syncUrl, { felix: 2, bgp: 1, 'tunnel-ip-allocation': 1 });
    await waitConverged(api, clients, 'the initial snapshot');
    assert.equal(await httpStatus(`${h.opsUrl}/readiness`), 200);
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  /** Changes made while the API is unreachable (the store behind it still changes). */
  function changeDuringOutage(round: number): string {
    const name = `web-during-outage-${round}`;
    api.create(podObject({ namespace: 'frontend', name, node: nodeName(round), app: 'web', serviceAccount: 'web', ip: cluster.ips.allocate(round) }));
    const victim = [...cluster.pods.values()].find((p) => p.node !== undefined && !p.hostNetwork && p.phase === undefined)!;
    api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: victim.name, namespace: victim.namespace } });
    cluster.pods.delete(`${victim.namespace}/${victim.name}`);
    const pool = api.get({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } })!;
    (pool.spec as Record<string, unknown>).natOutgoing = round % 2 === 0;
    api.update(pool);
    return name;
  }

  async function goesStale(round: number, mode: 'refuse' | 'reset', compact: boolean): Promise<string> {
    const held = clients.map((c) => new Map(c.state));
    const outageAt = Date.now();
    await api.outage(true, mode);
    const created = changeDuringOutage(round);
    // A long outage outlives the watch cache's history: recovery must relist.
    if (compact) api.compact();

    assert.equal(await httpStatus(`${h.opsUrl}/liveness`), 200);
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 503, 'readiness 503 after the stale bound', 15_000);
    const staleAfter = Date.now() - outageAt;
    assert.ok(staleAfter >= STALE_MS - 50, `readiness failed after ${staleAfter} ms, before the ${STALE_MS} ms bound`);
    await eventually(() => clients.every((c) => c.status === 'resync-in-progress'), 'clients to be told resync-in-progress', 10_000);
    assert.equal(await httpStatus(`${h.opsUrl}/liveness`), 200, 'liveness never depends on the datastore');

    // Each kind's watcher crosses the stale bound on its own timer: readiness fails with the
    // first, and on a loaded machine the last can follow a moment later.
    let metrics = '';
    await eventually(async () => {
      metrics = await httpText(`${h.opsUrl}/metrics`);
      return kindIds.every((id) => gauge(metrics, 'cattail_datastore_kind_stale', 'kind', id) === 1);
    }, 'every kind stale', 10_000).catch(() => {});
    for (const id of kindIds) assert.equal(gauge(metrics, 'cattail_datastore_kind_stale', 'kind', id), 1, `kind ${id} is stale`);
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(new Map(c.state), held[i], `${syncerTypeOf(c)} client kept its state`);
      assert.equal(c.closed, undefined, 'no client was disconnected');
    }
    process.stdout.write(`# outage ${round} (${mode}${compact ? ', compacted' : ''}): readiness 503 after ${staleAfter} ms (bound ${STALE_MS} ms); ${kindIds.length} kinds stale\n`);
    return created;
  }

  async function recovers(round: number, created: string): Promise<void> {
    const marks = clients.map((c) => c.messages.length);
    const held = clients.map((c) => new Map(c.state));
    const back = Date.now();
    await api.outage(false);
    await waitConverged(api, clients, `recovery after outage ${round}`, 45_000);
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 200, 'readiness 200 again', 10_000);
    const metrics = await httpText(`${h.opsUrl}/metrics`);
    for (const id of kindIds) assert.equal(gauge(metrics, 'cattail_datastore_kind_stale', 'kind', id), 0, `kind ${id} is no longer stale`);
    assert.ok([...expectedModel(api, 'felix').keys()].some((k) => k.includes(created)), 'the pod created during the outage is in the model');
    for (const [i, c] of clients.entries()) {
      const statuses = c.messages.slice(marks[i]).filter((m) => m.type === 'status').map((m) => (m as { status: string }).status);
      assert.equal(statuses.at(-1), 'in-sync', `${syncerTypeOf(c)} client was told in-sync`);
      assert.equal(c.closed, undefined, 'no client was disconnected');
      // Recovery (relist or resumed watch) sends exactly what changed, each key once.
      const received = kvsSince(c, marks[i]!).map(([key]) => key);
      assert.deepEqual([...new Set(received)].sort(), [...changedKeys(held[i]!, expectedModel(api, syncerTypeOf(c)))].sort(), `${syncerTypeOf(c)} client received exactly the changed keys`);
      assert.equal(new Set(received).size, received.length, `${syncerTypeOf(c)} client received no key twice`);
    }
    process.stdout.write(`# outage ${round}: recovered ${Date.now() - back} ms after the API came back\n`);
  }

  test('connections refused: clients keep their state, the server stays live, and after the stale bound it reports not in sync', async () => {
    created = await goesStale(1, 'refuse', true);
  });

  test('when the API is back with its history compacted, clients are in sync again with the changes made during the outage', async () => {
    await recovers(1, created);
  });

  test('connections reset: the same, and recovery resumes the watches from where they were', async () => {
    const relists = api.count({ verb: 'list', continued: false });
    const made = await goesStale(2, 'reset', false);
    await recovers(2, made);
    assert.equal(api.count({ verb: 'list', continued: false }), relists, 'no relist was needed: the watches resumed');
  });
});
