import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CattailClientError, SyncClient, type ConnectionInfo, type SyncClientOptions, type SyncerType } from '../src/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, sorted, waitFor } from './support/recordingHost.ts';

function client(servers: string[], host: RecordingHost, extra: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    servers, handler: host, hostname: 'node-1', shuffleServers: false,
    backoff: { initialDelayMs: 10, maxDelayMs: 100 }, ...extra,
  });
}

describe('SyncClient basics', () => {
  it('sends a hello, applies the snapshot, acks it, then follows deltas and statuses', async (t) => {
    const server = await FakeServer.start({ instanceId: 'A' });
    t.after(() => server.close());
    server.set('/calico/v1/a', { x: 1 });
    server.set('/calico/v1/b', 'raw text');
    const host = new RecordingHost();
    const c = client([server.url], host, { syncerType: 'felix', clientInfo: 'test agent' });
    const connected: ConnectionInfo[] = [];
    c.on('connected', (info) => connected.push(info));
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    assert.deepEqual(sorted(host.state), [['/calico/v1/a', { x: 1 }], ['/calico/v1/b', 'raw text']]);
    assert.deepEqual(host.statuses, ['resync-in-progress', 'in-sync']);
    const hello = server.hellos[0];
    assert.equal(hello?.syncerType, 'felix');
    assert.equal(hello?.hostname, 'node-1');
    assert.equal(hello?.clientInfo, 'test agent');
    assert.equal(hello?.protocolVersion, 1);
    assert.match(hello?.clientConnId ?? '', /^[0-9a-f]{8}-1$/);
    await waitFor(() => [...server.sessions].some((s) => s.acked), 'ack');
    assert.equal(connected[0]?.serverInstanceId, 'A');
    assert.equal(c.connection?.url, server.url);

    server.set('/calico/v1/a', { x: 2 });
    server.delete('/calico/v1/b');
    server.set('/calico/v1/c', { y: 1 });
    await waitFor(() => host.state.has('/calico/v1/c') && !host.state.has('/calico/v1/b'), 'deltas');
    assert.deepEqual(host.state.get('/calico/v1/a'), { x: 2 });
    assert.deepEqual(sorted(c.state), sorted(host.state));
    assert.deepEqual(host.batches.flat().map((u) => `${u.type} ${u.key}`).slice(-3), [
      'updated /calico/v1/a', 'deleted /calico/v1/b', 'new /calico/v1/c',
    ]);
    server.setStatus('resync-in-progress');
    await waitFor(() => host.lastStatus === 'resync-in-progress', 'status change');
    assert.deepEqual(host.violations, []);
  });

  it('answers every ping with a pong echoing its timestamp', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    const host = new RecordingHost();
    const c = client([server.url], host);
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    server.ping();
    await waitFor(() => [...server.sessions].some((s) => s.pongs.length === 1), 'pong');
    const session = [...server.sessions][0];
    assert.ok(session !== undefined && session.pongs[0] !== undefined);
    assert.ok(Math.abs(session.pongs[0].pingTimestamp - Date.now()) < 5000);
  });

  it('close() ends the session cleanly, stops reconnecting and resolves stopped', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    const host = new RecordingHost();
    const c = client([server.url], host);
    c.start();
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    await c.close();
    assert.deepEqual(await c.stopped, { reason: 'closed', error: undefined });
    await waitFor(() => server.sessions.size === 0, 'server sees the close');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.hellos.length, 1);
    assert.deepEqual(errors, []);
    await c.close();
  });

  it('rejects invalid options at construction with every problem listed', () => {
    assert.throws(
      () => new SyncClient({ handler: new RecordingHost(), readTimeoutMs: -1, syncerType: '' as SyncerType }),
      (err: unknown) => err instanceof CattailClientError && err.code === 'INVALID_OPTIONS'
        && /exactly one of servers/.test(err.message) && /readTimeoutMs/.test(err.message) && /syncerType/.test(err.message),
    );
  });

  it('reports a listener that throws as an error event instead of breaking the client', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    const host = new RecordingHost();
    const c = client([server.url], host);
    const errors: CattailClientError[] = [];
    c.on('connected', () => { throw new Error('listener bug'); });
    c.on('error', (e) => errors.push(e));
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    assert.equal(errors[0]?.code, 'HOST_HANDLER');
  });

  it('reports a handler that throws and keeps delivering', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.set('k1', 1);
    const host = new RecordingHost();
    let calls = 0;
    const handler = {
      onUpdates: async (u: Parameters<RecordingHost['onUpdates']>[0]) => {
        await host.onUpdates(u);
        if (calls++ === 0) throw new Error('host bug');
      },
      onStatus: (s: Parameters<RecordingHost['onStatus']>[0]) => host.onStatus(s),
    };
    const c = new SyncClient({ servers: [server.url], handler, backoff: { initialDelayMs: 10, maxDelayMs: 100 } });
    const errors: CattailClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    server.set('k2', 2);
    await waitFor(() => host.state.has('k2'), 'k2 delivered after the failure');
    assert.equal(errors[0]?.code, 'HOST_HANDLER');
    assert.match(errors[0]?.message ?? '', /host bug/);
  });
});

describe('package metadata', () => {
  it('sends the version that package.json declares', async () => {
    const { readFile } = await import('node:fs/promises');
    const { CLIENT_VERSION } = await import('../src/index.ts');
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; dependencies: Record<string, string> };
    assert.equal(CLIENT_VERSION, pkg.version);
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['msgpackr', 'ws']);
  });
});
