/**
 * Scenario 1, delta fan-out: N agents, a burst of U ~600 B updates. The same burst goes through
 * Cattail, Redis pub/sub (N subscribers, U messages of the same bytes) and etcd watch (N
 * watchers, U puts). Deliveries/s = N × U / (last agent's last update − first change).
 */
import { createPackr } from '../../src/protocol/index.ts';
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { freePort } from '../freePort.ts';
import { ETCD, EtcdClient } from '../peers/etcd.ts';
import { ensureInstalled, PeerProcess } from '../peers/peerProcess.ts';
import { REDIS, RedisPublisher } from '../peers/redis.ts';
import { atLeast, atMost, type ScenarioResult } from '../report.ts';
import { deltaKV, deltaObject, wallClockMs } from '../workload.ts';

interface FanoutRun {
  readonly deliveries: number;
  readonly seconds: number;
  readonly deliveriesPerSec: number;
  readonly serverCpuSeconds: number;
  readonly cpuMicrosPerDelivery: number;
  readonly complete: boolean;
}

function fanoutRun(deliveries: number, seconds: number, cpu: number, complete: boolean): FanoutRun {
  return { deliveries, seconds, deliveriesPerSec: deliveries / seconds, serverCpuSeconds: cpu, cpuMicrosPerDelivery: (cpu * 1e6) / deliveries, complete };
}

/** The peers' payloads: the MessagePack value of the same delta objects Cattail serves. */
function* payloads(updates: number, keys: number): Generator<readonly [string, Buffer]> {
  const packr = createPackr();
  for (let i = 0; i < updates; i++) {
    const { key, value } = deltaKV(deltaObject(i, keys, wallClockMs()));
    yield [key, Buffer.from(packr.pack(value))];
  }
}

async function runCattail(ctx: BenchContext): Promise<{ run: FanoutRun; verified: boolean }> {
  const { clients, updates, keys } = ctx.sizes.delta;
  const server = await BenchServer.start({ datastore: 'bench', pods: 0, cpuProfileDir: ctx.profileDir, profileName: 'delta-fanout' });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses);
  try {
    await server.waitInSync();
    await fleet.connect(clients, { url: server.url, verify: true });
    await fleet.reset();
    const before = await server.usage();
    const { firstStampMs } = await server.burst(updates, keys);
    const done = await fleet.awaitUpdates(updates, 300_000);
    const after = await server.usage();
    const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
    return {
      run: fanoutRun(clients * updates, (done.doneAt - firstStampMs) / 1000, cpuSeconds(before, after), done.complete),
      verified: model.sha1 === digest.sha1 && model.keys === digest.keys,
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

async function runRedis(ctx: BenchContext): Promise<FanoutRun> {
  const { clients, updates, keys, peerTimeoutMs } = ctx.sizes.delta;
  const redis = await PeerProcess.start(REDIS, await freePort(), 0);
  const fleet = new ClientFleet('redis', ctx.sizes.clientProcesses);
  const publisher = await RedisPublisher.connect(redis.port);
  try {
    await fleet.connect(clients, { port: redis.port, topic: 'bench' });
    const messages = [...payloads(updates, keys)].map(([, v]) => v);
    await fleet.reset();
    const cpu0 = redis.cpuSeconds();
    const t0 = wallClockMs();
    await publisher.publishAll('bench', messages);
    const done = await fleet.awaitUpdates(updates, peerTimeoutMs);
    const received = done.complete ? clients * updates : await fleet.received();
    const seconds = ((done.complete ? done.doneAt : wallClockMs()) - t0) / 1000;
    return fanoutRun(received, seconds, redis.cpuSeconds() - cpu0, done.complete);
  } finally {
    publisher.close();
    await fleet.stop();
    await redis.stop();
  }
}

async function runEtcd(ctx: BenchContext): Promise<FanoutRun> {
  const { clients, updates, keys, peerTimeoutMs } = ctx.sizes.delta;
  const etcd = await PeerProcess.start(ETCD, await freePort(), await freePort());
  const fleet = new ClientFleet('etcd', ctx.sizes.clientProcesses);
  const client = new EtcdClient(etcd.port);
  try {
    await fleet.connect(clients, { port: etcd.port, topic: '/bench/' });
    const entries = [...payloads(updates, keys)].map(([k, v]) => [`/bench${k}`, v] as const);
    await fleet.reset();
    const cpu0 = etcd.cpuSeconds();
    const t0 = wallClockMs();
    // etcd slows its own puts while it fans out; the run is bounded, and its rate counts what arrived.
    const deadline = performance.now() + peerTimeoutMs;
    await client.putAll(entries, 32, deadline);
    const done = await fleet.awaitUpdates(updates, Math.max(1000, deadline - performance.now()));
    const received = done.complete ? clients * updates : await fleet.received();
    const seconds = ((done.complete ? done.doneAt : wallClockMs()) - t0) / 1000;
    return fanoutRun(received, seconds, etcd.cpuSeconds() - cpu0, done.complete);
  } finally {
    client.close();
    await fleet.stop();
    await etcd.stop();
  }
}

export async function deltaFanout(ctx: BenchContext): Promise<ScenarioResult> {
  const { clients, updates } = ctx.sizes.delta;
  const notes: string[] = [];
  ctx.log(`delta fan-out: Cattail, ${clients} agents × ${updates} updates`);
  const { run: cattail, verified } = await runCattail(ctx);
  if (!verified) notes.push('VERIFICATION FAILED: the verifying agent\'s final state differs from the server\'s');
  const peer = async (name: string, run: () => Promise<FanoutRun>): Promise<FanoutRun | undefined> => {
    const spec = name === 'redis' ? REDIS : ETCD;
    const missing = ensureInstalled(spec);
    if (missing !== undefined) {
      notes.push(`${name} comparison skipped: ${missing}`);
      return undefined;
    }
    ctx.log(`delta fan-out: ${name}, ${clients} ${name === 'redis' ? 'subscribers' : 'watchers'} × ${updates} updates`);
    const r = await run();
    if (!r.complete) notes.push(`${name}: not every ${name === 'redis' ? 'subscriber' : 'watcher'} received every update within ${ctx.sizes.delta.peerTimeoutMs / 1000} s; its rate counts what arrived`);
    return r;
  };
  const redis = await peer('redis', () => runRedis(ctx));
  const etcd = await peer('etcd', () => runEtcd(ctx));
  const targets = [];
  if (redis !== undefined) {
    targets.push(atLeast('deliveries/s vs Redis pub/sub', cattail.deliveriesPerSec / redis.deliveriesPerSec, 3, '×', '≥ 3×'));
    targets.push(atMost('server CPU per delivery vs Redis', cattail.cpuMicrosPerDelivery / redis.cpuMicrosPerDelivery, 1, '×', '≤ 1× Redis'));
  }
  if (etcd !== undefined) targets.push(atLeast('deliveries/s vs etcd watch', cattail.deliveriesPerSec / etcd.deliveriesPerSec, 5, '×', '≥ 5×'));
  const figures: Record<string, number | string | boolean> = { clients, updates, verified };
  for (const [name, r] of [['cattail', cattail], ['redis', redis], ['etcd', etcd]] as const) {
    if (r === undefined) continue;
    figures[`${name}DeliveriesPerSec`] = r.deliveriesPerSec;
    figures[`${name}Seconds`] = r.seconds;
    figures[`${name}CpuSeconds`] = r.serverCpuSeconds;
    figures[`${name}CpuMicrosPerDelivery`] = r.cpuMicrosPerDelivery;
    figures[`${name}Complete`] = r.complete;
  }
  return { scenario: 'delta', title: `1. delta fan-out (${clients}×${updates})`, figures, targets, notes };
}
