import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics.ts';
import { DEFAULT_SESSIONS_LIMIT, isLoopbackAddress, OpsServer, type StatusReport, type StatusSession } from '../../src/server/index.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { ManualClock } from '../support/manualClock.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

interface StatusBody {
  computedAt: string;
  version: string;
  sessionCounts: { total: number; byPhase: Record<string, number>; bySyncer: Record<string, number> };
  sessions: StatusSession[];
  sessionsPage: { offset: number; limit: number; returned: number; total: number };
}

/** An ops server on its own, with a manual clock and a status source that counts its calls. */
async function opsWith(sessions: () => StatusSession[], cacheMs = 1000, idleTimeoutMs?: number) {
  const clock = new ManualClock();
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  let statusCalls = 0;
  const ops = new OpsServer({
    host: '127.0.0.1', port: 0, registry, metrics, clock, cacheMs, statusAccess: 'loopback',
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    readiness: () => ({ ready: true, reasons: [] }),
    status: (): StatusReport => {
      statusCalls++;
      return { version: 'test', sessions: sessions() };
    },
  });
  const address = await ops.start();
  const url = `http://127.0.0.1:${address.port}`;
  return { clock, metrics, ops, url, statusCalls: () => statusCalls };
}

const session = (i: number, lagMs: number, syncerType = 'felix', phase = 'streaming'): StatusSession =>
  ({ connId: `c${String(i).padStart(5, '0')}`, hostname: `node-${i}`, syncerType, phase, lagMs });

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return await res.json() as T;
}

function counter(text: string, endpoint: string): number {
  const m = new RegExp(`^cattail_ops_renders_total\\{endpoint="${endpoint}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `cattail_ops_renders_total{endpoint="${endpoint}"} is exported`);
  return Number(m[1]);
}

describe('the ops port against idle connections', () => {
  test('closes a connection that sends nothing, and still answers a probe on a fresh one', async () => {
    const o = await opsWith(() => [], 1000, 500);
    const sockets: net.Socket[] = [];
    try {
      const port = Number(new URL(o.url).port);
      sockets.push(...Array.from({ length: 50 }, () => net.connect(port, '127.0.0.1').on('error', () => {})));
      let closed = 0;
      for (const s of sockets) s.on('close', () => closed++);
      await eventually(() => closed === sockets.length, 'every idle connection closed', 30_000);
      assert.equal((await fetch(`${o.url}/liveness`)).status, 200);
    } finally {
      for (const s of sockets) s.destroy(); // else close() would wait for them
      await o.ops.close();
    }
  });
});

describe('the ops endpoints under polling', () => {
  test('many concurrent pollers of /status and /metrics cause one computation of each per interval, and all get the same answer', async () => {
    let current = Array.from({ length: 3000 }, (_, i) => session(i, i % 7));
    const o = await opsWith(() => current);
    try {
      const before = await (await fetch(`${o.url}/metrics`)).text();
      assert.equal(counter(before, 'status'), 0, 'the status series starts at 0');
      assert.equal(counter(before, 'metrics'), 1, 'the first scrape was the first computation');

      const round = () => Promise.all(Array.from({ length: 40 }, async (_, i) => {
        const status = await (await fetch(`${o.url}/status`)).text();
        const metrics = i % 2 === 0 ? await (await fetch(`${o.url}/metrics`)).text() : '';
        return { status, metrics };
      }));
      const first = await round();
      assert.equal(o.statusCalls(), 1, 'one status computation for 40 concurrent pollers');
      assert.equal(new Set(first.map((r) => r.status)).size, 1, 'every poller got the same bytes');
      const body = JSON.parse(first[0]!.status) as StatusBody;
      assert.equal(body.sessionCounts.total, 3000);
      assert.equal(body.sessions.length, DEFAULT_SESSIONS_LIMIT);
      assert.ok(first[0]!.status.length < 20_000, `a default answer of ${first[0]!.status.length} bytes, not the whole list`);

      // Still within the interval: the source changed, the answer did not.
      current = current.slice(0, 10);
      o.clock.advance(999);
      const second = await round();
      assert.equal(o.statusCalls(), 1);
      assert.equal(second[0]!.status, first[0]!.status);
      assert.equal(counter(second[0]!.metrics, 'metrics'), 1, 'the metrics text is the one computed first');

      // The next interval sees the present, once.
      o.clock.advance(1);
      const third = await round();
      assert.equal(o.statusCalls(), 2);
      assert.equal((JSON.parse(third[0]!.status) as StatusBody).sessionCounts.total, 10);
      const metricsNow = third.find((r) => r.metrics !== '')!.metrics;
      assert.equal(counter(metricsNow, 'metrics'), 2);
      assert.equal(counter(metricsNow, 'status'), 2);
    } finally {
      await o.ops.close();
    }
  });

  test('/status summarises sessions by phase and syncer type and pages them, furthest behind first', async () => {
    const all = [
      ...Array.from({ length: 250 }, (_, i) => session(i, i)),
      session(900, 5, 'bgp'), session(901, 0, 'bgp', 'awaiting-ack'),
      { connId: 'h1', hostname: undefined, syncerType: undefined, phase: 'handshake', lagMs: 0 },
    ];
    const o = await opsWith(() => all);
    try {
      const page1 = await getJson<StatusBody>(`${o.url}/status`);
      assert.deepEqual(page1.sessionCounts, { total: 253, byPhase: { handshake: 1, digests: 0, snapshot: 0, 'awaiting-ack': 1, streaming: 251 }, bySyncer: { felix: 250, bgp: 2 } });
      assert.deepEqual(page1.sessionsPage, { offset: 0, limit: 100, returned: 100, total: 253 });
      assert.equal(page1.sessions[0]!.lagMs, 249, 'the furthest behind comes first');
      assert.equal(page1.version, 'test', 'the summary fields are kept');
      assert.ok(!Number.isNaN(Date.parse(page1.computedAt)));

      const last = await getJson<StatusBody>(`${o.url}/status?offset=250&limit=10`);
      assert.deepEqual(last.sessionsPage, { offset: 250, limit: 10, returned: 3, total: 253 });
      const seen = new Set<string>();
      for (let offset = 0; offset < 253; offset += 60) {
        for (const s of (await getJson<StatusBody>(`${o.url}/status?offset=${offset}&limit=60`)).sessions) seen.add(s.connId);
      }
      assert.equal(seen.size, 253, 'paging reaches every session exactly once');
      assert.equal(o.statusCalls(), 1, 'every page came from one computation');

      for (const bad of ['limit=1001', 'limit=-1', 'offset=x', 'limit=1.5']) {
        const res = await fetch(`${o.url}/status?${bad}`);
        assert.equal(res.status, 400, bad);
        assert.match(((await res.json()) as { error: string }).error, /limit|offset/);
      }
    } finally {
      await o.ops.close();
    }
  });

  test('with --ops-cache-ms 0 every request computes afresh', async () => {
    const o = await opsWith(() => [session(1, 0)], 0);
    try {
      for (let i = 0; i < 3; i++) await getJson(`${o.url}/status`);
      assert.equal(o.statusCalls(), 3);
    } finally {
      await o.ops.close();
    }
  });

  test('only loopback peers are loopback', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', 'fe80::1', '1.127.0.0', undefined]) assert.equal(isLoopbackAddress(a), false, String(a));
  });

  test('the real server lists its live sessions on /status and counts its renders', async () => {
    const h = await startCattail({ datastore: new MemoryDatastore(), flags: ['--ops-cache-ms', '0'] });
    const clients: TestClient[] = [];
    try {
      await eventually(() => h.app.readiness().ready, 'ready');
      for (let i = 0; i < 12; i++) clients.push(await TestClient.connect(h.syncUrl, { hostname: `n${i}`, syncerType: i < 8 ? 'felix' : 'bgp' }));
      await eventually(() => clients.every((c) => c.inSync), 'clients in sync');
      const status = await getJson<StatusBody>(`${h.opsUrl}/status?limit=5`);
      assert.deepEqual(status.sessionCounts.bySyncer, { felix: 8, bgp: 4 });
      assert.equal(status.sessionCounts.byPhase.streaming, 12);
      assert.equal(status.sessions.length, 5);
      assert.ok(status.sessions.every((s) => /^n\d+$/.test(s.hostname ?? '')));
      const metrics = await (await fetch(`${h.opsUrl}/metrics`)).text();
      assert.equal(counter(metrics, 'status'), 1);
    } finally {
      for (const c of clients) c.close();
      await h.close();
    }
  });
});
