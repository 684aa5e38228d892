import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCattail } from '../../../test/support/harness.ts';
import { type ConnectionInfo, type DisconnectInfo, SyncClient } from '../src/index.ts';
import { KVEncoder, assembleKvsFrame, compressFrame } from '../../../src/protocol/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, waitFor } from './support/recordingHost.ts';

const netsets = (n: number) => Array.from({ length: n }, (_, i) =>
  `apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkSet\nmetadata:\n  name: set-${i}\n  labels: {role: test}\nspec:\n  nets: [10.${i >> 8}.${i & 0xff}.0/24]\n`).join('---\n');

function same(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || JSON.stringify(v) !== JSON.stringify(b.get(k))) return false;
  return true;
}

/** A compressed `kvs` frame of `count` entries of `valueBytes` each (highly compressible). */
function compressedKvs(prefix: string, count: number, valueBytes: number): { frame: Buffer; plainBytes: number; keys: string[] } {
  const encoder = new KVEncoder();
  const entries = Array.from({ length: count }, (_, i) => ({ kv: encoder.encode(`/${prefix}/${i}`, 'v'.repeat(valueBytes), '1'), updateType: 'new' as const }));
  const plain = assembleKvsFrame(entries);
  return { frame: compressFrame(plain), plainBytes: plain.length, keys: entries.map((e) => e.kv.key) };
}

describe('client compression (PROTOCOL.md §7.1)', () => {
  it('offers zstd by default and holds the same model as a client that asked for plain frames', async (t) => {
    const server = await startCattail({ files: { 'sets.yaml': netsets(500) } });
    t.after(() => server.close());
    await waitFor(() => server.app.readiness().ready, 'server ready', 30_000);
    const hosts = [new RecordingHost(), new RecordingHost()];
    const chosen: Array<string | null> = [];
    const clients = hosts.map((handler, i) => new SyncClient({ servers: [server.syncUrl], handler, hostname: `node-${i}`, ...(i === 1 ? { compression: false } : {}) }));
    clients.forEach((c, i) => c.on('connected', (info: ConnectionInfo) => { chosen[i] = info.compression; }));
    t.after(() => Promise.all(clients.map((c) => c.close())));
    for (const c of clients) c.start();
    await waitFor(() => hosts.every((h) => h.lastStatus === 'in-sync' && same(h.state, server.model('felix'))), 'both clients hold the model', 30_000);
    assert.deepEqual(chosen, ['zstd', null]);
  });

  it('decodes compressed frames within maxFrameBytes and closes with 1009 for one whose content is larger', async (t) => {
    const server = await FakeServer.start({ compression: 'zstd' });
    t.after(() => server.close());
    const host = new RecordingHost();
    const client = new SyncClient({ servers: [server.url], handler: host, hostname: 'node-1', maxFrameBytes: 100_000, backoff: { initialDelayMs: 10, maxDelayMs: 100 } });
    const closes: DisconnectInfo[] = [];
    client.on('disconnected', (info) => closes.push(info));
    t.after(() => client.close());
    client.start();
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync with the fake server', 30_000);
    assert.deepEqual(server.hellos[0]?.capabilities, { compression: ['zstd'] });

    const fits = compressedKvs('fits', 90, 1000);
    assert.ok(fits.plainBytes < 100_000 && fits.frame.length < 2000);
    for (const s of server.sessions) s.sendRaw(fits.frame);
    await waitFor(() => fits.keys.every((k) => host.state.has(k)), 'the compressed frame delivered', 30_000);
    assert.deepEqual(closes, []);

    const tooLarge = compressedKvs('big', 110, 1000);
    assert.ok(tooLarge.plainBytes > 100_000 && tooLarge.frame.length < 2000, 'small on the wire, over the limit decoded');
    for (const s of server.sessions) s.sendRaw(tooLarge.frame);
    await waitFor(() => closes.length > 0, 'the client refused the frame', 30_000);
    const first = closes[0] as DisconnectInfo | undefined;
    assert.equal(first?.error?.closeCode, 1009);
    assert.match(first?.error?.message ?? '', /over the 100000-byte frame limit/);
    assert.equal(host.state.has(tooLarge.keys[0] as string), false, 'nothing of the refused frame applied');
  });

  it('refuses a compressed frame on a connection that did not negotiate compression with 4001', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    const host = new RecordingHost();
    const client = new SyncClient({ servers: [server.url], handler: host, hostname: 'node-1', compression: false, backoff: { initialDelayMs: 10, maxDelayMs: 100 } });
    const closes: DisconnectInfo[] = [];
    client.on('disconnected', (info) => closes.push(info));
    t.after(() => client.close());
    client.start();
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync with the fake server', 30_000);
    assert.deepEqual(server.hellos[0]?.capabilities, {});
    for (const s of server.sessions) s.sendRaw(compressedKvs('x', 10, 100).frame);
    await waitFor(() => closes.length > 0, 'the client refused the frame', 30_000);
    assert.equal(closes[0]?.error?.closeCode, 4001);
    assert.match(closes[0]?.error?.message ?? '', /did not negotiate compression/);
  });
});
