/**
 * Hostile or careless clients at the connection level, against the real server: a per-source
 * cap with a visible refusal, shedding that starts with the sources over their share, an
 * inbound rate bound, duplicate identities flagged, peers logged, and a slow reader dropped for
 * falling behind that still receives its 4010.
 */
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { CloseCode } from '../../src/protocol/index.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { captureLogs } from '../support/logCapture.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

/** Server-behaviour tests use a trivial model: one key per object carrying its `spec.blob`. */
const blobSpec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_kind, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};
const blob = (name: string, bytes: number, salt = ''): RawObject => ({ metadata: { name }, spec: { blob: salt + 'x'.repeat(bytes) } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(flags: string[], options: { logger?: ReturnType<typeof captureLogs>['logger'] } = {}): Promise<{ h: Harness; ds: MemoryDatastore }> {
  const ds = new MemoryDatastore();
  ds.upsert(KINDS.globalNetworkSets, blob('seed', 10));
  const h = await startCattail({ datastore: ds, specs: { felix: blobSpec }, flags: ['--syncer-types', 'felix', ...flags], ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  await eventually(() => h.app.readiness().ready, 'ready');
  return { h, ds };
}

/** Opens a WebSocket from `localAddress` and resolves with 'open' or the HTTP refusal and its body. */
function upgrade(url: string, localAddress: string): Promise<{ ws?: WebSocket; refused?: { status: number; body: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        ws.terminate();
        resolve({ refused: { status: res.statusCode ?? 0, body: body.trim() } });
      });
    });
    ws.on('error', (err) => reject(err));
  });
}

async function counter(h: Harness, metric: 'connectionsRefused' | 'tlsHandshakeFailures' | 'duplicateHellos' | 'connectionsClosed', label: Record<string, string>): Promise<number> {
  const values = (await h.app.metrics[metric].get()).values;
  return values.filter((v) => Object.entries(label).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe('per-source connection cap', () => {
  test('a source at its cap is refused with HTTP 429 and the reason, other sources are not, and a freed slot is usable again', { timeout: 30_000 }, async () => {
    const { h } = await start(['--max-connections-per-source', '3']);
    try {
      assert.equal(await counter(h, 'connectionsRefused', { reason: 'per-source-limit' }), 0, 'the series exists at 0');
      const held = await Promise.all([1, 2, 3].map(() => TestClient.connect(h.syncUrl, { localAddress: '127.0.0.2' })));
      await eventually(() => held.every((c) => c.inSync), 'three connections from one source in sync');
      const fourth = await upgrade(h.syncUrl, '127.0.0.2');
      assert.equal(fourth.refused?.status, 429);
      assert.match(fourth.refused?.body ?? '', /^3 connections from 127\.0\.0\.2 already; at most 3 per source$/);
      const other = await TestClient.connect(h.syncUrl, { localAddress: '127.0.0.3' });
      await eventually(() => other.inSync, 'another source is served');
      assert.equal(await counter(h, 'connectionsRefused', { reason: 'per-source-limit' }), 1);
      held[0]!.close();
      await eventually(() => h.app.server.sessionCount() === 3, 'the closed connection is released');
      const again = await upgrade(h.syncUrl, '127.0.0.2');
      assert.ok(again.ws !== undefined, 'a slot freed by a close is usable again');
      again.ws.close();
      for (const c of [...held, other]) c.close();
    } finally {
      await h.close();
    }
  });

  test('over the connection limit, a source reconnecting in a loop is shed before any agent holding its share', { timeout: 60_000 }, async () => {
    const { h } = await start(['--connection-drop-interval-ms', '20', '--max-connections-per-source', '0']);
    try {
      const agents = await Promise.all(Array.from({ length: 8 }, (_, i) => TestClient.connect(h.syncUrl, { localAddress: `127.0.0.${10 + i}`, hostname: `node-${i}` })));
      const hog = await Promise.all(Array.from({ length: 15 }, (_, i) => TestClient.connect(h.syncUrl, { localAddress: '127.0.0.2', hostname: `hog-${i}` })));
      await eventually(() => [...agents, ...hog].every((c) => c.inSync), 'all in sync');
      h.app.server.setMaxConnections(10);
      await eventually(() => h.app.server.sessionCount() === 10, 'shed down to the limit', 20_000);
      await sleep(200);
      assert.deepEqual(agents.map((c) => c.closed), agents.map(() => undefined), 'no agent was shed');
      const shed = hog.filter((c) => c.closed !== undefined);
      assert.equal(shed.length, 13);
      assert.ok(shed.every((c) => c.closed!.code === CloseCode.rebalance));
      for (const c of [...agents, ...hog]) c.close();
    } finally {
      await h.close();
    }
  });
});

describe('inbound message rate', () => {
  test('a pong flood is closed with 4008 while a client answering pings normally and a quiet one keep streaming', { timeout: 30_000 }, async () => {
    const { h, ds } = await start(['--ping-interval-ms', '100', '--pong-timeout-ms', '1000']);
    try {
      const healthy = await TestClient.connect(h.syncUrl, { hostname: 'healthy' });
      const flooder = await TestClient.connect(h.syncUrl, { hostname: 'flooder' });
      await eventually(() => healthy.inSync && flooder.inSync, 'in sync');
      for (let i = 0; i < 5000 && flooder.ws.readyState === WebSocket.OPEN; i++) flooder.send({ type: 'pong', pingTimestamp: i });
      await eventually(() => flooder.closed !== undefined, 'flooder closed');
      assert.equal(flooder.closed!.code, CloseCode.inboundRateExceeded);
      assert.match(flooder.closed!.reason, /more than 10 frames\/s \(burst 100\)/);
      assert.equal(await counter(h, 'connectionsClosed', { reason: 'rate-limit' }), 1);
      // The healthy client has answered a ping every ~100 ms for over a second by now.
      await sleep(1200);
      ds.upsert(KINDS.globalNetworkSets, blob('after-flood', 10));
      await eventually(() => healthy.state.has('/blob/after-flood'), 'healthy client still streams');
      assert.equal(healthy.closed, undefined);
      assert.ok(healthy.messages.filter((m) => m.type === 'ping').length >= 8);
      healthy.close();
    } finally {
      await h.close();
    }
  });

  test('a flood of WebSocket-level pings counts against the same bound', { timeout: 30_000 }, async () => {
    const { h } = await start([]);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync');
      // In batches the client's reader keeps up with, so ws's own bound on unflushed pongs is not what trips.
      for (let i = 0; i < 200 && c.ws.readyState === WebSocket.OPEN; i++) {
        for (let j = 0; j < 10; j++) c.ws.ping();
        await sleep(1);
      }
      await eventually(() => c.closed !== undefined, 'closed');
      assert.equal(c.closed!.code, CloseCode.inboundRateExceeded);
    } finally {
      await h.close();
    }
  });
});

describe('traceability', () => {
  test('hello and close lines carry the peer address and port, and two sessions claiming one hostname and syncer type are flagged', { timeout: 30_000 }, async () => {
    const logs = captureLogs();
    const { h } = await start([], { logger: logs.logger });
    try {
      assert.equal(await counter(h, 'duplicateHellos', { syncer: 'felix' }), 0, 'the series exists at 0');
      const a = await TestClient.connect(h.syncUrl, { hostname: 'node-a', localAddress: '127.0.0.4' });
      const b = await TestClient.connect(h.syncUrl, { hostname: 'node-b', localAddress: '127.0.0.4' });
      await eventually(() => a.inSync && b.inSync, 'in sync');
      assert.equal(await counter(h, 'duplicateHellos', { syncer: 'felix' }), 0, 'different hostnames are no duplicate');
      const twin = await TestClient.connect(h.syncUrl, { hostname: 'node-a', localAddress: '127.0.0.5' });
      await eventually(() => twin.inSync, 'twin in sync');
      assert.equal(await counter(h, 'duplicateHellos', { syncer: 'felix' }), 1);
      const flagged = logs.lines.find((l) => String(l.msg).startsWith('two live sessions claim the same hostname'));
      assert.ok(flagged, 'a warning names the duplicate');
      assert.equal(flagged.level, 40);
      assert.equal(flagged.hostname, 'node-a');
      assert.match(String(flagged.peer), /^127\.0\.0\.5:\d+$/);
      assert.match(String((flagged.others as Array<{ peer: string }>)[0]!.peer), /^127\.0\.0\.4:\d+$/);

      const hellos = logs.lines.filter((l) => l.msg === 'client hello');
      assert.equal(hellos.length, 3);
      assert.ok(hellos.every((l) => /^127\.0\.0\.[45]:\d+$/.test(String(l.peer))), JSON.stringify(hellos.map((l) => l.peer)));
      const port = (a.ws as unknown as { _socket: Socket })._socket.localPort;
      a.close();
      await eventually(() => logs.lines.some((l) => l.msg === 'client closed connection' && l.hostname === 'node-a'), 'close logged');
      const closed = logs.lines.find((l) => l.msg === 'client closed connection' && l.hostname === 'node-a')!;
      assert.equal(closed.peer, `127.0.0.4:${port}`);
      for (const c of [b, twin]) c.close();
    } finally {
      await h.close();
    }
  });
});

describe('closing with bytes queued', () => {
  test('a session closed with a paused reader keeps its socket to drain, and stopping the server at once still cuts it within seconds', { timeout: 60_000 }, async () => {
    const { h, ds } = await start(['--connection-drop-interval-ms', '20']);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync');
      const socket = (c.ws as unknown as { _socket: Socket })._socket;
      socket.pause();
      for (let i = 0; i < 40; i++) ds.upsert(KINDS.globalNetworkSets, blob(`big-${i}`, 1_000_000));
      await sleep(1000);
      h.app.server.setMaxConnections(0);
      await eventually(() => h.app.server.sessionCount() === 0, 'the session is shed');
      await sleep(2500);
      assert.equal(c.ws.readyState, WebSocket.OPEN, 'the shed socket is kept while its bytes wait (no fixed 2 s cut)');
      const started = Date.now();
      await h.close();
      const took = Date.now() - started;
      assert.ok(took < 6000, `stopping took ${took} ms`);
      socket.resume();
      await eventually(() => c.closed !== undefined, 'client sees the end');
    } finally {
      await h.close();
    }
  });
});

/**
 * A TCP proxy that delivers the server's bytes to the client at `bytesPerSecond`: a real slow
 * reader, with TCP backpressure all the way back to the server's socket.
 */
async function slowProxy(port: number, bytesPerSecond: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const queue: Buffer[] = [];
    let queued = 0;
    client.pipe(upstream);
    upstream.on('data', (d: Buffer) => {
      queue.push(d);
      queued += d.length;
      if (queued > 256 * 1024) upstream.pause();
    });
    const tick = setInterval(() => {
      let budget = bytesPerSecond / 20;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const n = Math.min(budget, head.length);
        client.write(head.subarray(0, n));
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
        queued -= n;
        budget -= n;
      }
      if (queued < 64 * 1024) upstream.resume();
      if (queue.length === 0 && upstream.readableEnded) client.end();
    }, 50);
    const done = () => { clearInterval(tick); client.destroy(); upstream.destroy(); };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', () => { if (queue.length === 0) done(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

describe('refusals on the wire', () => {
  test('a slow reader dropped for falling behind receives the 4010 close frame, not 1006', { timeout: 90_000 }, async () => {
    // The default 4 MiB high-water mark: at the moment of the drop up to that much is queued in
    // front of the close frame, several seconds of reading for this client.
    const logs = captureLogs();
    const { h, ds } = await start(['--max-fall-behind-ms', '1000', '--new-client-grace-period-ms', '100', '--write-timeout-ms', '60000'], { logger: logs.logger });
    const proxy = await slowProxy(h.app.syncAddress.port, 1_000_000);
    let churning = true;
    let churn: Promise<void> = Promise.resolve();
    try {
      const c = await TestClient.connect(`ws://127.0.0.1:${proxy.port}/sync`);
      await eventually(() => c.inSync, 'in sync', 30_000);
      // About 2 MB/s of changes, read at 1 MB/s.
      churn = (async () => {
        for (let i = 0; churning; i++) {
          ds.upsert(KINDS.globalNetworkSets, blob(`churn-${i % 20}`, 40_000, String(i)));
          await sleep(20);
        }
      })();
      await eventually(() => c.closed !== undefined, 'slow reader dropped', 60_000);
      const serverSaid = logs.lines.filter((l) => l.connId !== undefined && l.msg !== 'client hello').map((l) => `${String(l.msg)} ${String(l.code ?? l.why ?? '')} ${String(l.detail ?? '')}`);
      assert.equal(c.closed!.code, CloseCode.fellBehind, `closed with ${c.closed!.code} ${c.closed!.reason}; server: ${serverSaid.join('; ')}`);
      assert.match(c.closed!.reason, /fell \d+s behind/);
    } finally {
      churning = false;
      await churn;
      proxy.close();
      await h.close();
    }
  });
});
