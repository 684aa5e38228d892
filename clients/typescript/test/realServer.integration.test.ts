import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startCattail, type Harness } from '../../../test/support/harness.ts';
import { K8sEmulator } from '../../../test/support/k8sEmulator.ts';
import { KubernetesDiscovery, SyncClient, type ConnectionInfo, type Discovery } from '../src/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, waitFor } from './support/recordingHost.ts';

const netset = (name: string, nets: string[]): string =>
  `apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkSet\nmetadata:\n  name: ${name}\n  labels: {role: test}\nspec:\n  nets: [${nets.join(', ')}]\n`;

/** Same keys and values (compared as JSON, since both sides decode independently). */
function same(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || JSON.stringify(v) !== JSON.stringify(b.get(k))) return false;
  return true;
}

describe('against the real Cattail server', () => {
  it('fifty clients ride through a server restart: all converge on the new state, no host restarts', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cattail-client-restart-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'sets.yaml'), netset('alpha', ['10.0.0.0/24']) + '---\n' + netset('beta', ['10.1.0.0/24']));
    let server: Harness = await startCattail({ dir });
    t.after(() => server.close());
    // Discovery reloads before every attempt, so clients find the restarted server on its new port.
    const discovery: Discovery = { description: 'harness', load: async () => [{ url: server.syncUrl }] };
    const hosts = Array.from({ length: 50 }, () => new RecordingHost());
    const clients = hosts.map((host, i) => new SyncClient({
      discovery, handler: host, hostname: `node-${i}`, backoff: { initialDelayMs: 50, maxDelayMs: 500 },
    }));
    const instances = new Set<string>();
    for (const c of clients) {
      c.on('connected', (info: ConnectionInfo) => instances.add(info.serverInstanceId));
      c.start();
    }
    t.after(() => Promise.all(clients.map((c) => c.close())));
    const converged = (): boolean => {
      const model = server.model('felix');
      return hosts.every((h) => h.lastStatus === 'in-sync' && same(h.state, model));
    };
    await waitFor(converged, 'all 50 in sync with the first server', 20_000);
    assert.ok(server.model('felix').has('/calico/v1/netset/alpha'));

    await server.close();
    // While the server is down the datastore changes: alpha goes, gamma arrives, beta changes.
    await writeFile(path.join(dir, 'sets.yaml'), netset('beta', ['10.1.0.0/16']) + '---\n' + netset('gamma', ['10.2.0.0/24']));
    await waitFor(() => hosts.every((h) => h.lastStatus === 'wait-for-datastore'), 'every host told the connection is gone', 10_000);
    server = await startCattail({ dir });
    await waitFor(converged, 'all 50 in sync with the restarted server', 30_000);
    const model = server.model('felix');
    assert.ok(!model.has('/calico/v1/netset/alpha') && model.has('/calico/v1/netset/gamma'));
    for (const [i, h] of hosts.entries()) {
      assert.deepEqual(h.violations, [], `host ${i}`);
      const alpha = h.batches.flat().filter((u) => u.key === '/calico/v1/netset/alpha').map((u) => u.type);
      assert.deepEqual(alpha, ['new', 'deleted'], `host ${i} saw alpha created once and deleted once`);
      assert.ok((clients[i]?.stats.connections ?? 0) >= 2);
    }
    assert.equal(instances.size, 2, 'two server instances were seen');
  });

  it('discovers replicas from EndpointSlices in a Kubernetes API: same node first, not-ready skipped', async (t) => {
    const api = new K8sEmulator();
    await api.start();
    t.after(() => api.stop());
    const local = await FakeServer.start({ instanceId: 'local' });
    const remote = await FakeServer.start({ instanceId: 'remote' });
    const notReady = await FakeServer.start({ instanceId: 'not-ready' });
    t.after(() => Promise.all([local.close(), remote.close(), notReady.close()]));
    const port = (s: FakeServer): number => Number(new URL(s.url).port);
    const slice = (name: string, s: FakeServer, nodeName: string, ready: boolean): Record<string, unknown> => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name, namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'cattail' } },
      addressType: 'IPv4',
      ports: [{ name: 'cattail', port: port(s), protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready }, nodeName }],
    });
    api.create(slice('cattail-a', remote, 'node-b', true) as never);
    api.create(slice('cattail-b', local, 'node-a', true) as never);
    api.create(slice('cattail-c', notReady, 'node-a', false) as never);
    api.create({ ...slice('other', notReady, 'node-a', true), metadata: { name: 'other', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'other' } } } as never);

    const discovery = new KubernetesDiscovery({ serviceName: 'cattail', nodeName: 'node-a', kubeConfig: api.kubeConfig() }, { secure: false, random: Math.random });
    for (let i = 0; i < 5; i++) {
      assert.deepEqual((await discovery.load()).map((a) => a.url), [local.url, remote.url]);
    }

    const host = new RecordingHost();
    const client = new SyncClient({
      kubernetes: { serviceName: 'cattail', nodeName: 'node-a', kubeConfig: api.kubeConfig() },
      handler: host, backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const seen: string[] = [];
    client.on('connected', (info) => seen.push(info.serverInstanceId));
    client.start();
    t.after(() => client.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync via discovery');
    assert.deepEqual(seen, ['local']);
    // The local replica goes away (its endpoint is deleted and it sheds us): the client moves on.
    api.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'cattail-b', namespace: 'kube-system' } });
    local.dropAll(4021, 'shutting down');
    await waitFor(() => seen.length === 2, 'second connection');
    assert.deepEqual(seen, ['local', 'remote']);
    assert.ok(!seen.includes('not-ready'));
  });
});
