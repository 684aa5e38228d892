import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pack } from 'msgpackr';
import { CloseCode } from '../../src/protocol/index.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

const netset = (name: string, nets: string[]) =>
  `apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkSet\nmetadata:\n  name: ${name}\n  labels: {role: test}\nspec:\n  nets: [${nets.join(', ')}]\n`;
const ippool = (name: string, cidr: string) =>
  `apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n  ipipMode: Always\n  natOutgoing: true\n`;

async function convergedAll(h: Harness, clients: TestClient[], syncerType = 'felix'): Promise<void> {
  await eventually(() => clients.every((c) => c.inSync) && clients.every((c) => sameState(c.state, h.model(syncerType))), 'clients to converge');
}

function sameState(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || JSON.stringify(v) !== JSON.stringify(b.get(k))) return false;
  return true;
}

describe('sync server end to end (file datastore → real WebSocket clients)', () => {
  let h: Harness;
  before(async () => {
    h = await startCattail({ files: { 'sets.yaml': netset('alpha', ['10.0.0.0/24']), 'pools.yaml': ippool('default-ipv4', '192.168.0.0/16') }, flags: ['--handshake-timeout-ms', '500'] });
    await eventually(() => h.app.readiness().ready, 'server ready');
  });
  after(async () => h.close());

  test('snapshot, then deltas, then deletions reach every client', async () => {
    const clients = await Promise.all([1, 2, 3].map((i) => TestClient.connect(h.syncUrl, { hostname: `node-${i}` })));
    await convergedAll(h, clients);
    assert.ok(h.model('felix').has('/calico/v1/netset/alpha'));
    for (const c of clients) {
      const snapshotKvs = c.messages.slice(0, c.messages.findIndex((m) => m.type === 'snapshotEnd')).flatMap((m) => (m.type === 'kvs' ? m.kvs : []));
      assert.ok(snapshotKvs.every((kv) => kv[3] === 1), 'every snapshot entry is new');
      assert.equal(c.messages[0]?.type, 'serverHello');
    }
    await h.writeManifest('sets.yaml', netset('alpha', ['10.0.0.0/24', '10.9.0.0/16']) + '---\n' + netset('beta', ['172.16.0.0/12']));
    await eventually(() => clients.every((c) => c.state.has('/calico/v1/netset/beta')), 'beta to arrive');
    await convergedAll(h, clients);
    const alpha = clients[0]!.state.get('/calico/v1/netset/alpha') as { nets: string[] };
    assert.deepEqual(alpha.nets, ['10.0.0.0/24', '10.9.0.0/16']);
    await h.writeManifest('sets.yaml', netset('beta', ['172.16.0.0/12']));
    await eventually(() => clients.every((c) => !c.state.has('/calico/v1/netset/alpha')), 'alpha to be deleted');
    await convergedAll(h, clients);
    const deltaTypes = clients[0]!.messages.flatMap((m) => (m.type === 'kvs' ? m.kvs : [])).filter((kv) => kv[0] === '/calico/v1/netset/alpha').map((kv) => kv[3]);
    assert.deepEqual(deltaTypes.slice(-2), [2, 3], 'an update then a deletion');
    for (const c of clients) c.close();
  });

  test('felix and bgp clients are served at once, each with its own syncer type', async () => {
    const felix = await TestClient.connect(h.syncUrl, { syncerType: 'felix' });
    const bgp = await TestClient.connect(h.syncUrl, { syncerType: 'bgp' });
    await convergedAll(h, [felix]);
    await convergedAll(h, [bgp], 'bgp');
    assert.ok(bgp.state.has('/calico/v1/ipam/v4/pool/192.168.0.0-16'));
    assert.ok(!bgp.state.has('/calico/v1/netset/beta'), 'bgp does not get network sets');
    felix.close();
    bgp.close();
  });

  test('a client joining late converges to the same state as one that saw every delta', async () => {
    const early = await TestClient.connect(h.syncUrl);
    await convergedAll(h, [early]);
    for (let i = 0; i < 5; i++) await h.writeManifest(`late-${i}.yaml`, netset(`late-${i}`, [`10.${i}.0.0/16`]));
    await eventually(() => early.state.has('/calico/v1/netset/late-4'), 'deltas');
    const late = await TestClient.connect(h.syncUrl);
    await convergedAll(h, [early, late]);
    assert.deepEqual([...late.state].sort(), [...early.state].sort());
    early.close();
    late.close();
  });

  test('10,000 keys added and then half deleted leave every client exact', { timeout: 60_000 }, async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => TestClient.connect(h.syncUrl)));
    await convergedAll(h, clients);
    const many = (from: number, to: number, step = 1) => {
      const docs: string[] = [];
      for (let i = from; i < to; i += step) docs.push(netset(`bulk-${i}`, [`10.${(i >> 8) & 255}.${i & 255}.0/24`]));
      return docs.join('---\n');
    };
    await h.writeManifest('bulk.yaml', many(0, 10_000));
    await eventually(() => clients.every((c) => c.state.has('/calico/v1/netset/bulk-9999')), '10,000 keys', 30_000);
    await h.writeManifest('bulk.yaml', many(0, 10_000, 2));
    await eventually(() => clients.every((c) => !c.state.has('/calico/v1/netset/bulk-9999')), 'half deleted', 30_000);
    await convergedAll(h, clients);
    const late = await TestClient.connect(h.syncUrl);
    await convergedAll(h, [late]);
    assert.equal([...late.state.keys()].filter((k) => k.startsWith('/calico/v1/netset/bulk-')).length, 5000);
    for (const c of [...clients, late]) c.close();
    await h.removeManifest('bulk.yaml');
  });

  test('bad clients are closed with their documented codes while a healthy client keeps streaming', async () => {
    const healthy = await TestClient.connect(h.syncUrl);
    await convergedAll(h, [healthy]);
    const raw = async (payload: Buffer | string, binary = true) => {
      const c = new TestClient(h.syncUrl);
      await c.opened;
      c.ws.send(payload, { binary });
      await eventually(() => c.closed !== undefined, 'bad client closed');
      return c.closed!;
    };
    assert.equal((await raw(Buffer.from([0xc1, 0xff, 0x00]))).code, CloseCode.badFrame);
    assert.equal((await raw('{"type":"hello"}', false)).code, CloseCode.badFrame);
    assert.equal((await raw(Buffer.alloc(70 * 1024, 1))).code, CloseCode.frameTooLarge);
    assert.equal((await raw(pack({ type: 'pong', pingTimestamp: 1 }))).code, CloseCode.protocolError);
    const unknown = await raw(pack({ type: 'hello', protocolVersion: 1, syncerType: 'bogus', hostname: 'h' }));
    assert.equal(unknown.code, CloseCode.unknownSyncerType);
    assert.match(unknown.reason, /bogus/);
    assert.equal((await raw(pack({ type: 'hello', protocolVersion: 99, syncerType: 'felix', hostname: 'h' }))).code, CloseCode.unsupportedVersion);
    const twice = await TestClient.connect(h.syncUrl);
    twice.hello();
    await eventually(() => twice.closed !== undefined, 'double hello closed');
    assert.equal(twice.closed!.code, CloseCode.protocolError);

    await h.writeManifest('after-bad.yaml', netset('after-bad', ['10.200.0.0/16']));
    await eventually(() => healthy.state.has('/calico/v1/netset/after-bad'), 'healthy client still streams');
    assert.equal(healthy.closed, undefined);
    healthy.close();
  });

  test('a client that never says hello is closed after the handshake timeout', async () => {
    const silent = new TestClient(h.syncUrl);
    await silent.opened;
    await eventually(() => silent.closed !== undefined, 'handshake timeout', 5000);
    assert.equal(silent.closed!.code, CloseCode.handshakeTimeout);
  });

  test('a TCP connection that never upgrades is cut after the handshake timeout', async () => {
    const sock = net.connect(h.app.syncAddress.port, '127.0.0.1');
    const started = Date.now();
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    assert.ok(Date.now() - started < 5000);
  });
});
