import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloseCode } from '../../src/protocol/index.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

const pool = 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}\n';

describe('pings, pongs and the ops endpoints', () => {
  test('a client that stops answering pings is closed after the pong timeout while one that answers stays', { timeout: 30_000 }, async () => {
    const h = await startCattail({ files: { 'p.yaml': pool }, flags: ['--ping-interval-ms', '100', '--pong-timeout-ms', '400'] });
    try {
      const mute = await TestClient.connect(h.syncUrl, { mute: true, hostname: 'mute' });
      const chatty = await TestClient.connect(h.syncUrl, { hostname: 'chatty' });
      await eventually(() => mute.closed !== undefined, 'mute client closed', 5000);
      assert.equal(mute.closed!.code, CloseCode.pongTimeout);
      assert.ok(mute.messages.some((m) => m.type === 'ping'), 'pings were sent');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(chatty.closed, undefined);
      assert.ok(chatty.messages.filter((m) => m.type === 'ping').length >= 5);
      chatty.close();
    } finally {
      await h.close();
    }
  });

  test('the ops endpoints report liveness, readiness, metrics and per-session status', async () => {
    const h = await startCattail({ files: { 'p.yaml': pool } });
    try {
      await eventually(() => h.app.readiness().ready, 'ready');
      const c = await TestClient.connect(h.syncUrl, { hostname: 'node-7', syncerType: 'bgp' });
      await eventually(() => c.inSync, 'in sync');
      assert.equal((await fetch(`${h.opsUrl}/liveness`)).status, 200);
      const ready = await fetch(`${h.opsUrl}/readiness`);
      assert.equal(ready.status, 200);
      const metrics = await (await fetch(`${h.opsUrl}/metrics`)).text();
      assert.match(metrics, /^cattail_connections_active 1$/m);
      assert.match(metrics, /^cattail_connections_streaming\{syncer="bgp"\} 1$/m);
      assert.match(metrics, /^cattail_syncer_status\{syncer="felix"\} 2$/m);
      assert.match(metrics, /^nodejs_eventloop_lag_seconds /m);
      const status = await (await fetch(`${h.opsUrl}/status`)).json() as { syncers: Record<string, { status: string; seq: number; keys: number }>; sessions: Array<{ hostname: string; phase: string; syncerType: string; connId: string; peer: string; lagMs: number }> };
      assert.equal(status.syncers.bgp!.status, 'in-sync');
      assert.ok(status.syncers.bgp!.keys >= 1);
      assert.equal(status.sessions.length, 1);
      assert.deepEqual({ ...status.sessions[0], connId: undefined, peer: undefined }, { hostname: 'node-7', phase: 'streaming', syncerType: 'bgp', lagMs: 0, connId: undefined, peer: undefined });
      assert.match(status.sessions[0]!.peer, /^127\.0\.0\.1:\d+$/);
      c.close();
    } finally {
      await h.close();
    }
  });
});
