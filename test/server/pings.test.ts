/**
 * docs/PROTOCOL.md §2.3 with a manual clock: the first ping one interval after snapshotEnd, each
 * interval drawn from 90–110 % of the configured one, the pong clock starting at snapshotEnd, and
 * the 4012 close at the first tick more than the pong timeout after the last pong. The server
 * is the real SyncServer over real sockets; only time (and the jitter's random draw) is pinned.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { SyncServer } from '../../src/server/index.ts';
import { CatchUpSource, SnapshotCache, SnapshotSource } from '../../src/snapshot/index.ts';
import { eventually } from '../support/eventually.ts';
import { ManualClock } from '../support/manualClock.ts';
import { TestClient } from '../support/testClient.ts';

const INTERVAL = 10_000;
const PONG_TIMEOUT = 60_000;

async function serverWith(random: number) {
  const parsed = parseConfig(['--sync-host', '127.0.0.1', '--sync-port', '0', '--ping-interval-ms', String(INTERVAL), '--pong-timeout-ms', String(PONG_TIMEOUT)], {});
  if (parsed.help) throw new Error('unexpected --help');
  const clock = new ManualClock();
  const metrics: Metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const logger = silentLogger();
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock, metrics, logger });
  cache.onStatus('in-sync');
  cache.flush();
  const snapshots = new SnapshotSource(cache, { frameKVs: 1000, reuseMs: 1000, clock, metrics });
  const catchUp = new CatchUpSource(cache, { frameKVs: 1000, reuseMs: 1000, clock });
  const server = new SyncServer({
    config: parsed.config, channels: new Map([['felix', { cache, snapshots, catchUp }]]), clock, logger, metrics, serverVersion: 'test', random: () => random,
  });
  const address = await server.start();
  return { clock, metrics, server, cache, url: `ws://127.0.0.1:${address.port}/sync` };
}

const pings = (c: TestClient) => c.messages.filter((m) => m.type === 'ping').map((m) => (m as { timestamp: number }).timestamp);
/** Pongs the server has received: the count of its ping round-trip histogram. */
function pongsCounted(h: Awaited<ReturnType<Metrics['pingLatency']['get']>>): number {
  return h.values.find((v) => v.metricName === 'cattail_ping_latency_seconds_count')?.value ?? 0;
}
/** Gives the sockets a moment to carry anything the last clock step sent. */
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('pings and the pong clock (PROTOCOL.md §2.3)', () => {
  for (const [random, expected] of [[0, 9000], [0.5, 10_000], [0.999, 10_998]] as const) {
    test(`with the jitter's draw at ${random} every ping interval is ${expected} ms, the first one counted from snapshotEnd`, async () => {
      const s = await serverWith(random);
      try {
        const c = await TestClient.connect(s.url);
        await eventually(() => c.inSync, 'in sync');
        const snapshotEndAt = s.clock.now();
        s.clock.advance(expected - 1);
        await settle();
        assert.deepEqual(pings(c), [], 'no ping before one interval has passed');
        s.clock.advance(1);
        await eventually(() => pings(c).length === 1, 'the first ping');
        // Its pong must reach the server before the clock runs on: six intervals of 10,998 ms
        // are more than the 60 s pong timeout counted from snapshotEnd (under load the pong
        // arrived after the loop below, and the sixth tick closed the client with 4012).
        await eventually(async () => pongsCounted(await s.metrics.pingLatency.get()) === 1, 'the first pong reached the server');
        for (let i = 0; i < 5; i++) s.clock.advance(expected);
        await eventually(() => pings(c).length === 6, 'six pings');
        const times = pings(c);
        assert.equal(times[0]! - snapshotEndAt, expected);
        for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, expected, `interval ${i}`);
        assert.ok(expected >= INTERVAL * 0.9 && expected <= INTERVAL * 1.1);
        c.close();
      } finally {
        await s.server.close();
      }
    });
  }

  test('a client that never answers is closed with 4012 at the first tick more than the pong timeout after snapshotEnd', async () => {
    const s = await serverWith(0.5);
    try {
      const mute = await TestClient.connect(s.url, { mute: true });
      const chatty = await TestClient.connect(s.url);
      await eventually(() => mute.snapshotDone && chatty.inSync, 'both past snapshotEnd');
      let answered = 0;
      // One tick; the chatty client's pong must reach the server before the clock moves on.
      const tick = async () => {
        s.clock.advance(INTERVAL);
        answered++;
        await eventually(async () => pongsCounted(await s.metrics.pingLatency.get()) === answered, `pong ${answered} reached the server`);
      };
      for (let t = 1; t <= 6; t++) await tick();
      await settle();
      assert.equal(mute.closed, undefined, 'at 60 s exactly the pong timeout has not been exceeded');
      assert.equal(pings(mute).length, 6);
      await tick();
      await eventually(() => mute.closed !== undefined, 'mute client closed at the 70 s tick');
      assert.deepEqual(mute.closed, { code: 4012, reason: 'no pong for 60s' });
      for (let t = 0; t < 20; t++) await tick();
      await settle();
      assert.equal(chatty.closed, undefined, 'a client that answers is never closed');
      chatty.close();
    } finally {
      await s.server.close();
    }
  });

  test('the pong clock restarts at each pong: one pong at 30 s moves the close to the 100 s tick', async () => {
    const s = await serverWith(0.5);
    try {
      const c = await TestClient.connect(s.url, { mute: true });
      await eventually(() => c.snapshotDone, 'past snapshotEnd');
      for (let t = 1; t <= 3; t++) s.clock.advance(INTERVAL);
      await eventually(() => pings(c).length === 3, 'three pings');
      c.send({ type: 'pong', pingTimestamp: pings(c)[2]! });
      await eventually(async () => pongsCounted(await s.metrics.pingLatency.get()) === 1, 'the pong reached the server');
      for (let t = 4; t <= 9; t++) s.clock.advance(INTERVAL);
      await settle();
      assert.equal(c.closed, undefined, 'at 90 s, 60 s after the pong, still open');
      s.clock.advance(INTERVAL);
      await eventually(() => c.closed !== undefined, 'closed at the 100 s tick');
      assert.equal(c.closed!.code, 4012);
    } finally {
      await s.server.close();
    }
  });
});
