/**
 * End to end: an API server that accepts watches but never sends a byte on them (a half-open
 * path through a proxy or load balancer, a wedged watch cache): not even the clean end at the
 * watch's timeout. The datastore's idle watchdog notices each dead watch; the server must then
 * treat the kind as down, and after `--stale-upstream-ms` say it is no longer in sync, instead
 * of serving frozen data as fresh (DESIGN §6).
 *
 * The watch timeouts are minutes in production and not configurable by flag, so this test
 * hands the composition root a KubernetesDatastore with short timeouts (the harness' existing
 * `datastore` option); everything else is the real server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { generateCluster } from '../support/e2eCluster.ts';
import { connectClients, gauge, httpStatus, httpText, waitConverged } from '../support/e2eServer.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { TestClient } from '../support/testClient.ts';

const STALE_MS = 1500;
/** The server ends each watch after 1 s; a watch silent for 1 s + 300 ms is dead. */
const WATCH_TIMEOUT_MS = 1000;
const IDLE_MARGIN_MS = 300;

describe('an API server whose watches go silent', () => {
  let api: K8sEmulator;
  let h: Harness;
  let clients: TestClient[] = [];

  before(async () => {
    api = new K8sEmulator();
    await api.start();
    generateCluster(api, 60);
    const datastore = new KubernetesDatastore({
      kubeConfig: api.kubeConfig(), logger: silentLogger(),
      watchTimeoutMinMs: WATCH_TIMEOUT_MS, watchTimeoutMaxMs: WATCH_TIMEOUT_MS, watchIdleMarginMs: IDLE_MARGIN_MS,
      backoffInitialMs: 50, backoffMaxMs: 200, minWatchMs: 0,
    });
    h = await startCattail({ datastore, flags: ['--stale-upstream-ms', String(STALE_MS)] });
    clients = await connectClients(h.syncUrl, { felix: 1, bgp: 1, 'tunnel-ip-allocation': 1 });
    await waitConverged(api, clients, 'the initial snapshot');
  });
  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await api?.stop();
  });

  test('watches that deliver nothing, not even their timeout, make the kinds stale: readiness 503 and resync-in-progress', async () => {
    api.stallWatches(true);
    const stalledAt = Date.now();
    api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'created-during-stall' } });
    // Dead watches are noticed after 1.3 s each, and the stale bound is 1.5 s: 10 s is generous.
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 503, 'readiness 503 while every watch is silent', 10_000);
    await eventually(() => clients.every((c) => c.status === 'resync-in-progress'), 'clients to be told resync-in-progress', 5_000);
    await eventually(async () => gauge(await httpText(`${h.opsUrl}/metrics`), 'cattail_datastore_kind_stale', 'kind', 'namespaces') === 1,
      'cattail_datastore_kind_stale{kind="namespaces"} = 1', 5_000);
    assert.equal(await httpStatus(`${h.opsUrl}/liveness`), 200);
    process.stdout.write(`# stall: readiness 503 after ${Date.now() - stalledAt} ms\n`);
  });

  test('when watches deliver again, the change made during the stall arrives and the server is in sync', async () => {
    api.stallWatches(false);
    await waitConverged(api, clients, 'recovery from the stall', 15_000);
    assert.ok([...clients[0]!.state.keys()].some((k) => k.includes('created-during-stall')));
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 200, 'readiness 200 again', 10_000);
  });
});
