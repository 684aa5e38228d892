/**
 * Scenario 1, delta fan-out: N agents, a burst of U ~600 B updates. The same burst goes through
 * Cattail, Redis pub/sub (N subscribers, U messages of the same bytes) and etcd watch (N
 * watchers, U puts). Deliveries/s = N × U / (last agent's last update − first change).
 *
 * Beside them, the bound a 2-core machine sets: one raw ws stream's byte rate measured in the
 * same run, divided by the bytes the agents received per delivery, is the delivery rate at
 * which the loopback copy alone would take the whole burst's time; and the CPU bound: the
 * machine's CPUs divided by the CPU time (server, agents, and this process, which publishes to
 * Redis) each delivery took, the rate at which the burst would keep every CPU busy. With
 * `--strace` the server's (and Redis's) syscalls are counted over the burst (such a run's rates
 * are not comparable).
 */
import os from 'node:os';
import { createPackr } from '../../src/protocol/index.ts';
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import { measureRawStream } from '../rawStream.ts';
import { SyscallCounter, type SyscallCounts } from '../syscallCount.ts';
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
  /** Bytes the agents received per delivery (Cattail: message payloads; Redis: RESP). */
  readonly bytesPerDelivery: number;
  /** With --strace: the server's syscalls over the burst. */
  readonly syscalls: SyscallCounts | undefined;
  /** CPU the agent processes, and this process, used per delivery over the burst. */
  readonly agentCpuMicrosPerDelivery: number;
  readonly orchestratorCpuMicrosPerDelivery: number;
}

interface OtherCpu {
  readonly agents: number;
  readonly orchestrator: number;
}

function fanoutRun(deliveries: number, seconds: number, cpu: number, complete: boolean, bytes: number, other: OtherCpu, syscalls?: SyscallCounts): FanoutRun {
  return {
    deliveries, seconds, deliveriesPerSec: deliveries / seconds, serverCpuSeconds: cpu, cpuMicrosPerDelivery: (cpu * 1e6) / deliveries, complete,
    bytesPerDelivery: bytes / deliveries, syscalls,
    agentCpuMicrosPerDelivery: (other.agents * 1e6) / deliveries, orchestratorCpuMicrosPerDelivery: (other.orchestrator * 1e6) / deliveries,
  };
}

/** CPU seconds of the agents and of this process since `start()` (the returned function reads them). */
async function otherCpu(fleet: ClientFleet): Promise<() => Promise<OtherCpu>> {
  const agents0 = await fleet.cpuSeconds();
  const self0 = process.cpuUsage();
  return async () => {
    const self = process.cpuUsage(self0);
    return { agents: (await fleet.cpuSeconds()) - agents0, orchestrator: (self.user + self.system) / 1e6 };
  };
}

/** The peers' payloads: the MessagePack value of the same delta objects Cattail serves. */
function* payloads(updates: number, keys: number): Generator<readonly [string, Buffer]> {
  const packr = createPackr();
  for (let i = 0; i < updates; i++) {
    const { key, value } = deltaKV(deltaObject(i, keys, wallClockMs()));
    yield [key, Buffer.from(packr.pack(value))];
  }
}

async function runCattail(ctx: BenchContext): Promise<{ run: FanoutRun; verified: boolean; breadcrumbs: number }> {
  const { clients, updates, keys } = ctx.sizes.delta;
  const server = await BenchServer.start({ datastore: 'bench', pods: 0, cpuProfileDir: ctx.profileDir, profileName: 'delta-fanout', pin: ctx.pin });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses, ctx.pin);
  try {
    await server.waitInSync();
    await fleet.connect(clients, { url: server.url, verify: true });
    await fleet.reset();
    const seqBefore = (await server.counters()).breadcrumbSeq;
    const stopTrace = ctx.strace ? await server.traceSyscalls() : undefined;
    const before = await server.usage();
    const others = await otherCpu(fleet);
    const { firstStampMs } = await server.burst(updates, keys);
    const done = await fleet.awaitUpdates(updates, 300_000);
    const after = await server.usage();
    const other = await others();
    const syscalls = await stopTrace?.();
    const breadcrumbs = (await server.counters()).breadcrumbSeq - seqBefore;
    const [model, digest, bytes] = await Promise.all([server.model(), fleet.digest(), fleet.bytesReceived()]);
    return {
      run: fanoutRun(clients * updates, (done.doneAt - firstStampMs) / 1000, cpuSeconds(before, after), done.complete, bytes, other, syscalls),
      verified: model.sha1 === digest.sha1 && model.keys === digest.keys,
      breadcrumbs,
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}

async function runRedis(ctx: BenchContext): Promise<FanoutRun> {
  const { clients, updates, keys, peerTimeoutMs } = ctx.sizes.delta;
  const redis = await PeerProcess.start(REDIS, await freePort(), 0, ctx.pin);
  const fleet = new ClientFleet('redis', ctx.sizes.clientProcesses, ctx.pin);
  const publisher = await RedisPublisher.connect(redis.port);
  try {
    await fleet.connect(clients, { port: redis.port, topic: 'bench' });
    const messages = [...payloads(updates, keys)].map(([, v]) => v);
    await fleet.reset();
    const trace = ctx.strace ? await SyscallCounter.attach(redis.pid) : undefined;
    const cpu0 = redis.cpuSeconds();
    const others = await otherCpu(fleet);
    const t0 = wallClockMs();
    await publisher.publishAll('bench', messages);
    const done = await fleet.awaitUpdates(updates, peerTimeoutMs);
    const received = done.complete ? clients * updates : await fleet.received();
    const seconds = ((done.complete ? done.doneAt : wallClockMs()) - t0) / 1000;
    const cpu = redis.cpuSeconds() - cpu0;
    const other = await others();
    const syscalls = await trace?.stop();
    return fanoutRun(received, seconds, cpu, done.complete, await fleet.bytesReceived(), other, syscalls);
  } finally {
    publisher.close();
    await fleet.stop();
    await redis.stop();
  }
}

async function runEtcd(ctx: BenchContext): Promise<FanoutRun> {
  const { clients, updates, keys, peerTimeoutMs } = ctx.sizes.delta;
  const etcd = await PeerProcess.start(ETCD, await freePort(), await freePort(), ctx.pin);
  const fleet = new ClientFleet('etcd', ctx.sizes.clientProcesses, ctx.pin);
  const client = new EtcdClient(etcd.port);
  try {
    await fleet.connect(clients, { port: etcd.port, topic: '/bench/' });
    const entries = [...payloads(updates, keys)].map(([k, v]) => [`/bench${k}`, v] as const);
    await fleet.reset();
    const cpu0 = etcd.cpuSeconds();
    const others = await otherCpu(fleet);
    const t0 = wallClockMs();
    // etcd slows its own puts while it fans out; the run is bounded, and its rate counts what arrived.
    const deadline = performance.now() + peerTimeoutMs;
    await client.putAll(entries, 32, deadline);
    const done = await fleet.awaitUpdates(updates, Math.max(1000, deadline - performance.now()));
    const received = done.complete ? clients * updates : await fleet.received();
    const seconds = ((done.complete ? done.doneAt : wallClockMs()) - t0) / 1000;
    const cpu = etcd.cpuSeconds() - cpu0;
    return fanoutRun(received, seconds, cpu, done.complete, await fleet.bytesReceived(), await others());
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
  const { run: cattail, verified, breadcrumbs } = await runCattail(ctx);
  if (!verified) notes.push('VERIFICATION FAILED: the verifying agent\'s final state differs from the server\'s');
  if (ctx.strace) notes.push('--strace: the server ran traced, so rates and CPU of this run are not comparable with an untraced one');
  const peer = async (name: 'redis' | 'etcd', run: () => Promise<FanoutRun>): Promise<FanoutRun | undefined> => {
    if (!ctx.peers.has(name)) return undefined;
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
  ctx.log(`delta fan-out: raw ws stream limit over ${ctx.sizes.snapshot.rawBytes / 1024 ** 2} MiB`);
  const raw = await measureRawStream(ctx.sizes.snapshot.rawBytes, ctx.pin);
  const targets = [];
  if (redis !== undefined) {
    targets.push(atLeast('deliveries/s vs Redis pub/sub', cattail.deliveriesPerSec / redis.deliveriesPerSec, 3, '×', '≥ 3×'));
    targets.push(atMost('server CPU per delivery vs Redis', cattail.cpuMicrosPerDelivery / redis.cpuMicrosPerDelivery, 1, '×', '≤ 1× Redis'));
  }
  if (etcd !== undefined) targets.push(atLeast('deliveries/s vs etcd watch', cattail.deliveriesPerSec / etcd.deliveriesPerSec, 5, '×', '≥ 5×'));
  const figures: Record<string, number | string | boolean> = {
    clients, updates, verified, agentProcesses: ctx.sizes.clientProcesses, pinned: ctx.pin !== undefined, rawMiBPerSec: raw.bytesPerSec / 1024 ** 2,
  };
  for (const [name, r] of [['cattail', cattail], ['redis', redis], ['etcd', etcd]] as const) {
    if (r === undefined) continue;
    figures[`${name}DeliveriesPerSec`] = r.deliveriesPerSec;
    figures[`${name}Seconds`] = r.seconds;
    figures[`${name}CpuSeconds`] = r.serverCpuSeconds;
    figures[`${name}CpuMicrosPerDelivery`] = r.cpuMicrosPerDelivery;
    figures[`${name}Complete`] = r.complete;
    figures[`${name}BytesPerDelivery`] = r.bytesPerDelivery;
    // The rate at which one raw stream's byte rate would carry these deliveries' bytes.
    figures[`${name}RawBoundDeliveriesPerSec`] = raw.bytesPerSec / r.bytesPerDelivery;
    figures[`${name}AgentCpuMicrosPerDelivery`] = r.agentCpuMicrosPerDelivery;
    figures[`${name}OrchestratorCpuMicrosPerDelivery`] = r.orchestratorCpuMicrosPerDelivery;
    figures[`${name}CpuBoundDeliveriesPerSec`] = cpuBound(r);
    if (r.syscalls !== undefined) {
      figures[`${name}Syscalls`] = r.syscalls.total;
      figures[`${name}SyscallsPerDelivery`] = r.syscalls.total / r.deliveries;
      for (const call of ['writev', 'write', 'epoll_wait', 'read', 'futex']) figures[`${name}Syscalls_${call}`] = r.syscalls.calls[call] ?? 0;
    }
  }
  const bound = raw.bytesPerSec / cattail.bytesPerDelivery;
  notes.push(`Cattail ${fmtRate(cattail.deliveriesPerSec)} deliveries/s of ${cattail.bytesPerDelivery.toFixed(0)} B = ${(cattail.deliveriesPerSec * cattail.bytesPerDelivery / 1024 ** 2).toFixed(0)} MiB/s to the agents; one raw ws stream moves ${(raw.bytesPerSec / 1024 ** 2).toFixed(0)} MiB/s, i.e. ${fmtRate(bound)} such deliveries/s: Cattail is at ${(cattail.deliveriesPerSec / bound).toFixed(2)}× that bound`);
  for (const [name, r] of [['Cattail', cattail], ['Redis', redis]] as const) {
    if (r === undefined) continue;
    notes.push(`${name} CPU per delivery: server ${r.cpuMicrosPerDelivery.toFixed(3)} µs + agents ${r.agentCpuMicrosPerDelivery.toFixed(3)} µs + orchestrator ${r.orchestratorCpuMicrosPerDelivery.toFixed(3)} µs; ${os.cpus().length} CPUs kept busy would give ${fmtRate(cpuBound(r))} deliveries/s (${(r.deliveriesPerSec / cpuBound(r)).toFixed(2)}× reached)`);
  }
  if (redis !== undefined) {
    notes.push(`Redis ${fmtRate(redis.deliveriesPerSec)} deliveries/s of ${redis.bytesPerDelivery.toFixed(0)} B (${(redis.deliveriesPerSec / (raw.bytesPerSec / redis.bytesPerDelivery)).toFixed(2)}× its raw-stream bound); 3× Redis would be ${fmtRate(3 * redis.deliveriesPerSec)}/s, ${((3 * redis.deliveriesPerSec) / bound).toFixed(2)}× Cattail's raw-stream bound`);
  }
  if (cattail.syscalls !== undefined) {
    const writev = cattail.syscalls.calls.writev ?? 0;
    figures.cattailBreadcrumbs = breadcrumbs;
    figures.cattailWritevPerSessionPerBreadcrumb = writev / (clients * breadcrumbs);
    notes.push(`strace: ${writev} writev for ${clients} sessions × ${breadcrumbs} breadcrumbs (${(writev / (clients * breadcrumbs)).toFixed(3)} per session per breadcrumb; the floor is 1), ${cattail.syscalls.total} syscalls in all, ${(cattail.syscalls.total / cattail.deliveries).toFixed(4)} per delivery`);
  }
  if (redis?.syscalls !== undefined) {
    notes.push(`strace (Redis): ${redis.syscalls.calls.write ?? 0} write, ${redis.syscalls.total} syscalls in all, ${(redis.syscalls.total / redis.deliveries).toFixed(4)} per delivery`);
  }
  return { scenario: 'delta', title: `1. delta fan-out (${clients}×${updates})`, figures, targets, notes };
}

/** Deliveries/s at which the burst's CPU time per delivery, summed over every process, fills every CPU of the machine. */
function cpuBound(r: FanoutRun): number {
  return (os.cpus().length * 1e6) / (r.cpuMicrosPerDelivery + r.agentCpuMicrosPerDelivery + r.orchestratorCpuMicrosPerDelivery);
}

function fmtRate(perSec: number): string {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)} M` : `${(perSec / 1e3).toFixed(0)} k`;
}
