/**
 * End to end: however many agents connect, Cattail reads the API server once: one list (one
 * page set) and one watch per kind that the served syncer types read, counted in the
 * emulator's request log, the same with 50 clients as with one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { syncerSpecs } from '../../src/calico/index.ts';
import { collectionPath } from '../../src/datastore/kubernetes/index.ts';
import { generateCluster, nodeName, podObject } from '../support/e2eCluster.ts';
import { connectClients, SERVED, startK8sCattail, waitConverged } from '../support/e2eServer.ts';
import { eventually, type Harness } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

const PAGE_SIZE = 500;
/** Enough service accounts that their list takes two pages. */
const EXTRA_SERVICE_ACCOUNTS = 520;

interface KindRequests {
  lists: number;
  pages: number;
  watches: number;
}

/** Requests per collection path: first pages, continued pages, watches. */
function requestsByPath(api: K8sEmulator): Map<string, KindRequests> {
  const out = new Map<string, KindRequests>();
  for (const r of api.requests) {
    const e = out.get(r.path) ?? { lists: 0, pages: 0, watches: 0 };
    if (r.verb === 'list' && r.query.continue === undefined) e.lists++;
    else if (r.verb === 'list') e.pages++;
    else if (r.verb === 'watch') e.watches++;
    out.set(r.path, e);
  }
  return out;
}

describe('N agents cause one list and one watch per kind', () => {
  let api: K8sEmulator;
  let h: Harness;
  let clients: TestClient[] = [];
  const kinds = [...new Map(SERVED.flatMap((t) => syncerSpecs()[t].kinds).map((k) => [k.id, k] as const)).values()];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    generateCluster(api, 200);
    for (let i = 0; i < EXTRA_SERVICE_ACCOUNTS; i++) {
      api.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `job-runner-${String(i).padStart(4, '0')}`, namespace: 'batch' } });
    }
    h = await startK8sCattail(api);
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  test('with one client: exactly one list page set and one watch per kind the served syncer types read', async () => {
    clients = await connectClients(h.syncUrl, { felix: 1 });
    await waitConverged(api, clients, 'the first client');
    await eventually(() => api.openWatches() === kinds.length, `${kinds.length} watches open`, 15_000);
    const byPath = requestsByPath(api);
    assert.deepEqual([...byPath.keys()].sort(), kinds.map(collectionPath).sort(), 'only the kinds the served syncer types read are requested');
    for (const kind of kinds) {
      const pages = Math.max(1, Math.ceil(api.objects(kind).length / PAGE_SIZE));
      assert.deepEqual(byPath.get(collectionPath(kind)), { lists: 1, pages: pages - 1, watches: 1 }, `requests for ${kind.id}`);
    }
    assert.equal(byPath.get('/api/v1/serviceaccounts')!.pages, 1, 'the service accounts took two pages');
  });

  test('with 50 clients across the three syncer types the request log is the same', async () => {
    const withOne = JSON.stringify([...requestsByPath(api)].sort());
    const requestsWithOne = api.requests.length;
    const started = Date.now();
    clients.push(...(await connectClients(h.syncUrl, { felix: 16, bgp: 17, 'tunnel-ip-allocation': 16 })));
    assert.equal(clients.length, 50);
    await waitConverged(api, clients, '50 clients', 30_000);
    // A change still reaches all 50 through the same single watch.
    api.create(podObject({ namespace: 'default', name: 'hello-after-fanout', node: nodeName(3), app: 'hello', serviceAccount: 'default', ip: '10.244.3.60' }));
    await waitConverged(api, clients, 'a change to reach 50 clients', 30_000);
    assert.equal(api.requests.length, requestsWithOne, 'no request was made for the 49 extra clients');
    assert.equal(JSON.stringify([...requestsByPath(api)].sort()), withOne);
    assert.equal(api.openWatches(), kinds.length);
    process.stdout.write(`# fan-out: ${kinds.length} kinds, ${requestsWithOne} API requests in all, 50 clients converged in ${Date.now() - started} ms\n`);
  });
});
