/**
 * The etcd datastore against real etcd clusters under the faults that matter in production: a
 * client certificate etcd does not trust, a three-member cluster losing its leader, and many
 * agents (which must still cost etcd one watch per key prefix).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdClient } from '../../src/datastore/etcd/index.ts';
import { createTestPki } from '../support/certs.ts';
import { connectClients, httpStatus } from '../support/e2eServer.ts';
import { putAll, startEtcdCattail, waitEtcdConverged, waitEtcdReady } from '../support/etcdE2e.ts';
import { readManifests, toEtcdLayout } from '../support/etcdLayout.ts';
import { EtcdCluster } from '../support/etcdProcess.ts';
import { eventually } from '../support/eventually.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

const EXAMPLES = path.join(import.meta.dirname, '../../examples/cluster');
const V3 = '/calico/resources/v3/projectcalico.org';

const policy = (name: string, order: number): [string, string] => [`${V3}/globalnetworkpolicies/${name}`, JSON.stringify({
  apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name },
  spec: { order, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow' }] },
})];

async function staleKinds(opsUrl: string): Promise<string[]> {
  const status = await (await fetch(`${opsUrl}/status`)).json() as { syncers: Record<string, { staleKinds: string[] }> };
  return status.syncers.felix!.staleKinds;
}

test('TLS: a client certificate from a CA etcd does not trust gets nothing (kinds stale, readiness 503); the right one syncs', async () => {
  const pki = createTestPki();
  const server = pki.issue('etcd-server', { cn: 'etcd', ip: '127.0.0.1' });
  const good = pki.issue('cattail', { cn: 'cattail' });
  const wrong = pki.issue('intruder', { cn: 'cattail', by: 'otherCa' });
  const etcd = await EtcdCluster.start({ tls: { caFile: pki.ca.certFile, certFile: server.certFile, keyFile: server.keyFile } });
  const direct = new EtcdClient({ endpoints: etcd.endpoints, caFile: pki.ca.certFile, certFile: good.certFile, keyFile: good.keyFile, requestTimeoutMs: 10_000 });
  const tls = (c: { certFile: string; keyFile: string }) => ['--etcd-ca-file', pki.ca.certFile, '--etcd-cert-file', c.certFile, '--etcd-key-file', c.keyFile, '--stale-upstream-ms', '1000'];
  try {
    await waitEtcdReady(direct);
    await putAll(direct, toEtcdLayout(readManifests(EXAMPLES)));
    const refused = await startEtcdCattail(etcd.endpoints, tls(wrong));
    try {
      await eventually(async () => (await staleKinds(refused.opsUrl)).length === 13, 'every felix kind stale with the untrusted certificate', 60_000);
      assert.equal(await httpStatus(`${refused.opsUrl}/readiness`), 503);
      assert.equal(refused.model('felix').has('/calico/v1/host/node-1/bird_ip'), false, 'nothing was read');
    } finally {
      await refused.close();
    }
    const trusted = await startEtcdCattail(etcd.endpoints, tls(good));
    const clients = await connectClients(trusted.syncUrl, { felix: 1, bgp: 1 });
    try {
      await waitEtcdConverged(direct, clients, 'the demo cluster over TLS');
      assert.equal(await httpStatus(`${trusted.opsUrl}/readiness`), 200);
    } finally {
      for (const c of clients) c.close();
      await trusted.close();
    }
  } finally {
    direct.close();
    await etcd.stop();
  }
});

test('a three-member etcd losing its leader: the watches move to a survivor and the changes made after the loss arrive', async () => {
  const etcd = await EtcdCluster.start({ size: 3 });
  const direct = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
  try {
    await waitEtcdReady(direct);
    await putAll(direct, toEtcdLayout(readManifests(EXAMPLES)));
    // The leader: every member's status names it; put it first so Cattail watches on it.
    const statusOf = async (url: string) => (await (await fetch(`${url}/v3/maintenance/status`, { method: 'POST', body: '{}' })).json()) as { header: { member_id: string }; leader: string };
    const statuses = await Promise.all(etcd.endpoints.map(statusOf));
    const leaderIndex = statuses.findIndex((s) => s.header.member_id === s.leader);
    assert.ok(leaderIndex >= 0, `a leader among ${JSON.stringify(statuses)}`);
    const leader = etcd.members[leaderIndex]!;
    const others = etcd.members.filter((m) => m !== leader).map((m) => m.clientUrl);
    const h = await startEtcdCattail([leader.clientUrl, ...others]);
    const clients = await connectClients(h.syncUrl, { felix: 2, bgp: 1, 'tunnel-ip-allocation': 1 });
    const survivors = new EtcdClient({ endpoints: others, requestTimeoutMs: 10_000 });
    try {
      await waitEtcdConverged(direct, clients, 'the demo cluster');
      await leader.kill();
      // A new leader is elected among the two survivors; writes go through them.
      await eventually(async () => survivors.put(...policy('after-leader-loss', 5)).then(() => true, () => false), 'a write after the leader loss', 60_000);
      assert.ok(clients[0]!.state.has('/calico/v1/policy/tier/default/policy/payments-allow-provider-callbacks'));
      await survivors.delete(`${V3}/globalnetworkpolicies/payments-allow-provider-callbacks`);
      await waitEtcdConverged(survivors, clients, 'the changes made after the leader was lost');
      assert.ok(clients[0]!.state.has('/calico/v1/policy/tier/default/policy/after-leader-loss'));
      assert.ok(!clients[0]!.state.has('/calico/v1/policy/tier/default/policy/payments-allow-provider-callbacks'));
      await eventually(async () => (await httpStatus(`${h.opsUrl}/readiness`)) === 200, 'readiness 200 on the survivors', 60_000);
    } finally {
      for (const c of clients) c.close();
      survivors.close();
      await h.close();
    }
  } finally {
    direct.close();
    await etcd.stop();
  }
});

test('many agents cost etcd one watch per key prefix (counted on etcd\'s own metrics endpoint)', async () => {
  const etcd = await EtcdCluster.start();
  const direct = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
  const watchers = async (): Promise<number> => {
    const text = await (await fetch(`${etcd.endpoints[0]}/metrics`)).text();
    const m = /^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(text);
    assert.ok(m, 'etcd exports etcd_debugging_mvcc_watcher_total');
    return Number(m[1]);
  };
  try {
    await waitEtcdReady(direct);
    await putAll(direct, toEtcdLayout(readManifests(EXAMPLES)));
    assert.equal(await watchers(), 0);
    const h = await startEtcdCattail(etcd.endpoints);
    const clients = await connectClients(h.syncUrl, { felix: 30, bgp: 10, 'tunnel-ip-allocation': 10 });
    try {
      await waitEtcdConverged(direct, clients, '50 agents');
      // felix reads 13 prefixes; bgp adds BGP peers and block affinities; tunnel-ip-allocation none.
      assert.equal(await watchers(), 15);
      await putAll(direct, new Map([policy('one-more', 1)]));
      await waitEtcdConverged(direct, clients, 'a change seen by 50 agents');
      assert.equal(await watchers(), 15);
    } finally {
      for (const c of clients) c.close();
      await h.close();
    }
    await eventually(async () => (await watchers()) === 0, 'watches released on close', 30_000);
  } finally {
    direct.close();
    await etcd.stop();
  }
});

test('etcd auth: a user with the read-only Calico role syncs; a user without it gets nothing (kinds stale, readiness 503); an expired token is replaced', async () => {
  // Tokens expire after 2 s idle, so the watches resumed after the cut below present an expired one.
  const etcd = await EtcdCluster.start({ extraArgs: ['--auth-token-ttl', '2'] });
  const url = etcd.endpoints[0]!;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    await res.arrayBuffer();
  };
  const setup = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
  await waitEtcdReady(setup);
  setup.close();
  await call('/v3/auth/user/add', { name: 'root', password: 'root-pw' });
  await call('/v3/auth/role/add', { name: 'root' });
  await call('/v3/auth/user/grant', { user: 'root', role: 'root' });
  await call('/v3/auth/role/add', { name: 'cattail' });
  for (const prefix of [`${V3}/`, '/calico/ipam/v2/assignment/', '/calico/ipam/v2/host/']) {
    const end = Buffer.from(prefix);
    end[end.length - 1]! += 1;
    await call('/v3/auth/role/grant', { name: 'cattail', perm: { permType: 'READ', key: b64(prefix), range_end: end.toString('base64') } });
  }
  for (const [user, role] of [['cattail', 'cattail'], ['nobody', undefined]] as const) {
    await call('/v3/auth/user/add', { name: user, password: `${user}-pw` });
    if (role) await call('/v3/auth/user/grant', { user, role });
  }
  await call('/v3/auth/enable', {});
  const root = new EtcdClient({ endpoints: etcd.endpoints, username: 'root', password: 'root-pw', requestTimeoutMs: 10_000 });
  try {
    await putAll(root, toEtcdLayout(readManifests(EXAMPLES)));
    const denied = await startEtcdCattail(etcd.endpoints, ['--etcd-username', 'nobody', '--etcd-password', 'nobody-pw', '--stale-upstream-ms', '1000']);
    try {
      await eventually(async () => (await staleKinds(denied.opsUrl)).length === 13, 'every felix kind stale without the role', 60_000);
      assert.equal(await httpStatus(`${denied.opsUrl}/readiness`), 503);
    } finally {
      await denied.close();
    }
    const proxy = new TcpProxy(etcd.members[0]!.spec.clientPort);
    const port = await proxy.listen();
    const h = await startEtcdCattail([`http://127.0.0.1:${port}`], ['--etcd-username', 'cattail', '--etcd-password', 'cattail-pw']);
    const clients = await connectClients(h.syncUrl, { felix: 1, bgp: 1, 'tunnel-ip-allocation': 1 });
    try {
      await waitEtcdConverged(root, clients, 'the demo cluster read as the cattail user');
      await root.put(...policy('written-by-root', 3));
      await waitEtcdConverged(root, clients, 'a change seen through the cattail user');
      await new Promise((r) => setTimeout(r, 4_000));
      proxy.block();
      // The test's own client's token has expired too: its first attempt is refused, the retry re-authenticates.
      await eventually(async () => root.put(...policy('written-while-cut', 4)).then(() => true, () => false), 'a write as root');
      proxy.open();
      await waitEtcdConverged(root, clients, 'a change made while cut, read with a new token');
    } finally {
      for (const c of clients) c.close();
      await h.close();
      await proxy.close();
    }
  } finally {
    root.close();
    await etcd.stop();
  }
});
