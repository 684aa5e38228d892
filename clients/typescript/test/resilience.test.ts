import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec, CloseCode } from '../../../src/protocol/index.ts';
import { SyncClient, type CattailClientError, type SyncClientOptions, type SyncerType } from '../src/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, sorted, waitFor } from './support/recordingHost.ts';

function client(servers: string[], host: RecordingHost, extra: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    servers, handler: host, hostname: 'node-1', shuffleServers: false,
    backoff: { initialDelayMs: 10, maxDelayMs: 100 }, ...extra,
  });
}

describe('slow hosts, dead paths, refusals and hostile servers', () => {
  it('keeps reading while a slow host takes 50 ms per batch, and the host ends with the exact final state', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    const host = new RecordingHost({ delayMs: 50 });
    const c = client([server.url], host);
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    const keys = 500;
    for (let i = 0; i < 10_000; i += 100) {
      server.setMany(Array.from({ length: 100 }, (_, j) => [`/calico/v1/k/${(i + j) % keys}`, { v: i + j }] as const));
      if (i % 1000 === 0) server.delete(`/calico/v1/k/${i % keys}`);
    }
    // The reader is not blocked by the host: a ping sent after all 10,000 updates is answered
    // long before the host could have worked through 100 batches at 50 ms each.
    const pingedAt = Date.now();
    server.ping();
    await waitFor(() => [...server.sessions].some((s) => s.pongs.length > 0), 'pong while the host is busy', 2000);
    const session = [...server.sessions][0];
    assert.ok(session !== undefined);
    const pongDelay = (session.pongs[0]?.receivedAt ?? Infinity) - pingedAt;
    assert.ok(pongDelay < 1000, `pong took ${pongDelay} ms`);
    assert.ok(c.stats.updatesReceived >= 10_000);
    await waitFor(() => c.stats.queued === 0 && sorted(host.state).length === server.state.size, 'host catches up', 15_000);
    assert.deepEqual(sorted(host.state), sorted(server.state));
    assert.ok(c.stats.maxQueued <= keys + 2, `queue grew to ${c.stats.maxQueued}`);
    assert.ok(host.updates < 10_000, `coalescing should skip ahead, host saw ${host.updates}`);
    assert.deepEqual(host.violations, []);
  });

  it('detects a black-holed connection within the read timeout and reconnects', async (t) => {
    const server = await FakeServer.start({ instanceId: 'A' });
    t.after(() => server.close());
    server.set('k', 1);
    const host = new RecordingHost();
    const c = client([server.url], host, { readTimeoutMs: 300 });
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    const first = [...server.sessions][0];
    assert.ok(first !== undefined);
    first.silenced = true;
    first.ws.pause(); // not even a TCP-level close: the socket just goes quiet
    const silencedAt = Date.now();
    await waitFor(() => errors.some((e) => e.code === 'READ_TIMEOUT'), 'read timeout', 3000);
    const detectedAfter = Date.now() - silencedAt;
    assert.ok(detectedAfter >= 250 && detectedAfter < 1500, `detected after ${detectedAfter} ms`);
    await waitFor(() => server.hellos.length === 2 && host.lastStatus === 'in-sync', 'reconnected and in sync');
    assert.deepEqual(sorted(host.state), [['k', 1]]);
    assert.deepEqual(host.violations, []);
  });

  it('a server pinging within the read timeout keeps the connection', async (t) => {
    const server = await FakeServer.start({ pingIntervalMs: 100 });
    t.after(() => server.close());
    const host = new RecordingHost();
    const c = client([server.url], host, { readTimeoutMs: 300 });
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(server.hellos.length, 1);
  });

  it('reports a refusal close code as an error and stops instead of retrying forever', async (t) => {
    const server = await FakeServer.start({
      onHello: (hello) => ({ code: CloseCode.unknownSyncerType, reason: `unknown syncer type "${hello.syncerType}"` }),
    });
    t.after(() => server.close());
    const host = new RecordingHost();
    const c = client([server.url], host, { syncerType: 'nonsense' as SyncerType });
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.start();
    const stopped = await c.stopped;
    assert.equal(stopped.reason, 'refused');
    assert.equal(stopped.error?.code, 'REFUSED');
    assert.equal(stopped.error?.closeCode, 4003);
    assert.match(stopped.error?.message ?? '', /unknown syncer type "nonsense"/);
    assert.equal(errors[0]?.code, 'REFUSED');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.hellos.length, 1);
    await c.close();
  });

  it('tries the other replicas before giving up on a refusal', async (t) => {
    const old = await FakeServer.start({ instanceId: 'old', onHello: () => ({ code: CloseCode.unsupportedVersion, reason: 'no v1 here' }) });
    const good = await FakeServer.start({ instanceId: 'new' });
    t.after(() => Promise.all([old.close(), good.close()]));
    const host = new RecordingHost();
    const c = client([old.url, good.url], host);
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync via the replica that accepts');
    assert.equal(c.connection?.serverInstanceId, 'new');
  });

  it('reports no server reachable after a round of failed attempts and keeps retrying', async (t) => {
    const server = await FakeServer.start();
    const url = server.url;
    await server.close();
    const host = new RecordingHost();
    const c = client([url], host);
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.start();
    t.after(() => c.close());
    await waitFor(() => errors.some((e) => e.code === 'NO_SERVER_REACHABLE'), 'round exhausted', 5000);
    assert.ok(errors.some((e) => e.code === 'CONNECT_FAILED'));
    const n = errors.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(errors.length > n, 'still retrying');
  });

  it('never throws hostile frames into the host: garbage, wrong shapes, wrong phases', async (t) => {
    const codec = new Codec();
    const hostile: (Buffer | string)[] = [
      Buffer.from([0xc1, 0xff, 0x00]),
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
      codec.encodeValue([1, 2, 3]),
      codec.encodeValue({ type: 'kvs', kvs: [['k', null, 'r', 1]] }),
      codec.encodeValue({ type: 'kvs', kvs: [[42, { a: 1 }, 'r', 1]] }),
      codec.encodeValue({ type: 'kvs', kvs: 'nope' }),
      codec.encodeValue({ type: 'status', status: 'maybe' }),
      codec.encodeValue({ type: 7 }),
      codec.encodeValue({ type: 'serverHello', protocolVersion: 1, syncerType: 'felix' }),
      codec.encodeValue({ type: 'snapshotEnd', seq: 1, keys: 0 }),
      'a text frame',
    ];
    let which = 0;
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.set('k', 1);
    const host = new RecordingHost();
    const c = client([server.url], host);
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.on('connected', () => {
      // Inject the next hostile frame right after this session's snapshot and status.
      setTimeout(() => {
        const frame = hostile[which++];
        for (const s of server.sessions) if (frame !== undefined) s.sendRaw(frame);
      }, 20);
    });
    c.start();
    t.after(() => c.close());
    await waitFor(() => which >= hostile.length && errors.filter((e) => e.code === 'PROTOCOL').length >= hostile.length, 'every hostile frame rejected', 10_000);
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync again afterwards');
    assert.deepEqual(sorted(host.state), [['k', 1]]);
    assert.deepEqual(host.violations, []);
    assert.ok(errors.every((e) => e.code === 'PROTOCOL' || e.code === 'SERVER_CLOSED'), errors.map((e) => e.code).join(','));
  });
});
