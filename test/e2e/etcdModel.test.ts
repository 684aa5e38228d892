/**
 * etcd → Cattail → real clients against a real etcd: the demo cluster in Calico's etcd layout,
 * every served syncer type converging on the model computed directly from etcd's keys, then
 * churn, a compaction under a cut watch, and etcd killed and restarted.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdClient } from '../../src/datastore/etcd/index.ts';
import { connectClients, httpStatus } from '../support/e2eServer.ts';
import { expectedFromEtcd, putAll, startEtcdCattail, waitEtcdConverged, waitEtcdReady } from '../support/etcdE2e.ts';
import { readManifests, toEtcdLayout } from '../support/etcdLayout.ts';
import { EtcdCluster } from '../support/etcdProcess.ts';
import { captureLogs } from '../support/logCapture.ts';
import { eventually } from '../support/eventually.ts';
import type { Harness } from '../support/harness.ts';
import { TcpProxy } from '../support/tcpProxy.ts';
import type { TestClient } from '../support/testClient.ts';

const V3 = '/calico/resources/v3/projectcalico.org';
const EXAMPLES = path.join(import.meta.dirname, '../../examples/cluster');

function wep(node: string, ns: string, pod: string, ip: string, labels: Record<string, string> = {}): [string, string] {
  const name = `${node.replaceAll('-', '--')}-k8s-${pod.replaceAll('-', '--')}-eth0`;
  return [`${V3}/workloadendpoints/${ns}/${name}`, JSON.stringify({
    apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint',
    metadata: { name, namespace: ns, labels: { app: pod.split('-')[0], ...labels, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' } },
    spec: { orchestrator: 'k8s', node, pod, endpoint: 'eth0', ipNetworks: [`${ip}/32`], profiles: [`kns.${ns}`], interfaceName: `cali${pod.length}abcdef0`, serviceAccountName: 'default' },
  })];
}

describe('the etcd datastore end to end (real etcd)', { concurrency: false }, () => {
  let etcd: EtcdCluster;
  let proxy: TcpProxy;
  let direct: EtcdClient;
  let h: Harness;
  let clients: TestClient[];
  const logs = captureLogs('info');

  before(async () => {
    etcd = await EtcdCluster.start();
    direct = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
    await waitEtcdReady(direct);
    await putAll(direct, toEtcdLayout(readManifests(EXAMPLES)));
    proxy = new TcpProxy(etcd.members[0]!.spec.clientPort);
    const port = await proxy.listen();
    h = await startEtcdCattail([`http://127.0.0.1:${port}`], ['--stale-upstream-ms', '1500'], logs.logger);
    clients = await connectClients(h.syncUrl, { felix: 2, bgp: 1, 'tunnel-ip-allocation': 1 });
  });

  after(async () => {
    for (const c of clients ?? []) c.close();
    await h?.close();
    await proxy?.close();
    direct?.close();
    await etcd?.stop();
  });

  test('every syncer type serves the model computed directly from the etcd keys of the demo cluster', async () => {
    await waitEtcdConverged(direct, clients, 'the demo cluster');
    const felix = (await expectedFromEtcd(direct)).get('felix')!;
    // The demo holds workload endpoints, profiles, policy, the node keys and the IPAM block.
    const count = (part: string) => [...felix.keys()].filter((k) => k.includes(part)).length;
    assert.ok(count('/workload/k8s/') >= 10, `workload endpoints: ${count('/workload/k8s/')}`);
    assert.ok(felix.has('/calico/v1/policy/profile/kns.frontend/rules'));
    assert.ok(felix.has('/calico/v1/policy/profile/projectcalico-default-allow/rules'));
    assert.ok(felix.has('/calico/v1/host/node-1/bird_ip'));
    assert.ok(count('/calico/ipam/v2/assignment/') >= 1);
    assert.equal(await httpStatus(`${h.opsUrl}/readiness`), 200);
  });

  test('churn: hundreds of endpoint, profile and policy changes reach every client exactly', async () => {
    for (let round = 0; round < 3; round++) {
      const puts = new Map<string, string>();
      for (let i = 0; i < 120; i++) puts.set(...wep(`node-${1 + (i % 3)}`, 'backend', `churn-${round}-${i}`, `10.250.${round}.${i + 1}`, { round: String(round) }));
      await putAll(direct, puts);
      if (round > 0) await direct.deletePrefix(`${V3}/workloadendpoints/backend/node--1-k8s-churn--${round - 1}-`);
      await direct.put(`${V3}/profiles/kns.backend`, JSON.stringify({
        apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'kns.backend' },
        spec: { ingress: [{ action: 'Allow', source: { selector: `round == '${round}'` } }], labelsToApply: { 'pcns.round': String(round) } },
      }));
      await direct.put(`${V3}/globalnetworkpolicies/churn`, JSON.stringify({
        apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'churn' },
        spec: { order: round, selector: `round == '${round}'`, types: ['Ingress'], ingress: [{ action: 'Deny' }] },
      }));
      await waitEtcdConverged(direct, clients, `churn round ${round}`);
    }
  });

  test('a compaction while the watch is cut: the relist delivers only the differences, deletions included', async () => {
    await waitEtcdConverged(direct, clients, 'before the cut');
    const felix = clients[0]!;
    const before = felix.messages.length;
    proxy.block();
    const [goneKey] = wep('node-2', 'backend', 'churn-2-1', '10.250.2.2');
    await direct.delete(goneKey);
    const [newKey, newValue] = wep('node-3', 'frontend', 'after-compaction', '10.251.0.1');
    const rev = await direct.put(newKey, newValue);
    await direct.compact(rev);
    const relistsBefore = logs.lines.filter((l) => l.msg === 'revision compacted; relisting').length;
    proxy.open();
    await waitEtcdConverged(direct, clients, 'after the compaction');
    // Every prefix found its resume revision compacted and listed again (15 prefixes).
    await eventually(() => logs.lines.filter((l) => l.msg === 'revision compacted; relisting').length - relistsBefore === 15, 'every prefix relisted');
    const kvs = felix.messages.slice(before).flatMap((m) => (m.type === 'kvs' ? m.kvs : []));
    const keys = kvs.map(([k]) => k);
    assert.ok(keys.includes('/calico/v1/host/node-3/workload/k8s/frontend%2fafter-compaction/endpoint/eth0'), 'the new endpoint was delivered');
    assert.ok(keys.includes('/calico/v1/host/node-2/workload/k8s/backend%2fchurn-2-1/endpoint/eth0'), 'the vanished endpoint was deleted');
    // Only the differences: the relist of hundreds of unchanged objects sends nothing for them.
    assert.ok(kvs.length <= 4, `updates after the relist: ${kvs.length} (${keys.join(', ')})`);
  });

  test('etcd killed: kinds go stale, readiness 503, clients leave in-sync; restarted: recovery with the changes made meanwhile', async () => {
    await waitEtcdConverged(direct, clients, 'before the kill');
    const member = etcd.members[0]!;
    proxy.block();
    await member.kill();
    proxy.open();
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 503, 'readiness 503 while etcd is down', 60_000);
    await eventually(() => clients.every((c) => !c.inSync), 'clients told the syncers are out of sync', 60_000);
    const staleKinds = async () => ((await (await fetch(`${h.opsUrl}/status`)).json()) as { syncers: Record<string, { staleKinds: string[] }> }).syncers.felix!.staleKinds;
    await eventually(async () => (await staleKinds()).length === 13, 'every felix kind stale', 60_000);
    assert.ok((await staleKinds()).includes('workloadendpoints.projectcalico.org'));
    // Back, but unseen by Cattail until the changes are made.
    proxy.block();
    member.start();
    await waitEtcdReady(direct);
    const [key, value] = wep('node-1', 'frontend', 'made-while-down', '10.252.0.1');
    await direct.put(key, value);
    await direct.delete(`${V3}/globalnetworkpolicies/churn`);
    proxy.open();
    await waitEtcdConverged(direct, clients, 'after etcd came back');
    assert.ok(clients[0]!.state.has('/calico/v1/host/node-1/workload/k8s/frontend%2fmade-while-down/endpoint/eth0'));
    assert.ok(!clients[0]!.state.has('/calico/v1/policy/tier/default/policy/churn'));
    await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 200, 'readiness 200 again', 60_000);
  });
});
