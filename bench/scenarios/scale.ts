/**
 * Scaling curves (issue 14 part 4): how a replica's cost grows with keys and agents, as small
 * tables an operator sizes a replica by.
 * - store: memory, load and snapshot build time, plain and zstd snapshot size vs WorkloadEndpoint
 *   keys, one fresh child process per size (scaleStoreProcess.ts);
 * - snapshot fan-out: time until N agents that connect at once are all in sync, at 100,000 keys,
 *   plain and zstd, on one server whose shared snapshot is already built (and, for zstd, already
 *   compressed) by a warm-up agent: the build is the store table's figure, this is the fan-out;
 * - delta fan-out: server CPU per delivery and deliveries/s vs agents, a fresh server per size,
 *   measured as scenario 1 measures Cattail;
 * - idle connections: server memory per connection after a full GC, at two fleet sizes;
 * - file-datastore start (scenarios/fileStart.ts) in a fresh process: readiness time and RSS.
 * Each table's cost per unit at the largest size over the smallest says whether it grows faster
 * than linearly. Tables go to the log and to bench/results/scale.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { ConnectArgs, ConnectResult } from '../clientProcess.ts';
import { type BenchContext, QUICK_SIZES, type Sizes } from '../context.ts';
import { ChildHandle } from '../ipc.ts';
import type { ScenarioResult } from '../report.ts';
import type { FileStartScale } from '../scaleFileStartProcess.ts';
import { describeGrowth, type Growth, growth, KIB, markdown, MIB, mib, num, type Table } from '../scaleReport.ts';
import type { StoreScalePoint } from '../scaleStoreProcess.ts';
import { wallClockMs } from '../workload.ts';

interface Plan {
  readonly storeKeys: readonly number[];
  readonly fanoutKeys: number;
  readonly fanoutAgents: readonly number[];
  readonly deltaAgents: readonly number[];
  readonly deltaUpdates: number;
  readonly deltaKeys: number;
  readonly idleConnections: readonly number[];
  /** fileStart's two sizes: quick (6,000 pods) and full (60,000). */
  readonly fileStartQuick: readonly boolean[];
}

const FULL: Plan = {
  storeKeys: [10_000, 100_000, 300_000, 1_000_000],
  fanoutKeys: 100_000,
  fanoutAgents: [10, 50, 100, 200],
  deltaAgents: [100, 500, 1_000],
  // Half of scenario 1's burst: 10 M deliveries at 1,000 agents stay within a few seconds each.
  deltaUpdates: 10_000,
  deltaKeys: 5_000,
  idleConnections: [1_000, 3_000],
  fileStartQuick: [true, false],
};

const QUICK: Plan = {
  storeKeys: [1_000, 10_000, 30_000],
  fanoutKeys: 10_000,
  fanoutAgents: [5, 10, 20],
  deltaAgents: [20, 50, 100],
  deltaUpdates: 2_000,
  deltaKeys: 500,
  idleConnections: [100, 300],
  fileStartQuick: [true],
};

/** Idle agents are given time for pings, timers and lazily allocated buffers to settle (as scenario 5). */
const IDLE_SETTLE_MS = 2000;
/**
 * The agents share two cores with the server (and, on a shared machine, with other work): starved
 * agents send hello and answer pings late, the server rightly closes them (handshake or pong
 * timeout), and a bench agent does not reconnect, so the fleet would wait forever. These runs
 * measure cost and throughput, not liveness: the timeouts are raised out of the way.
 */
const PATIENT_FLAGS = ['--handshake-timeout-ms', '600000', '--pong-timeout-ms', '600000'];
/** A fleet not in sync by then is recorded as incomplete rather than waited for. */
const CONNECT_TIMEOUT_MS = 600_000;

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects a fleet, or throws when it is not in sync within CONNECT_TIMEOUT_MS. */
async function connectAll(fleet: ClientFleet, count: number, args: Omit<ConnectArgs, 'count'>): Promise<ConnectResult> {
  const r = await withTimeout(fleet.connect(count, args), CONNECT_TIMEOUT_MS);
  if (r === undefined) throw new Error(`${count} agents not all in sync within ${CONNECT_TIMEOUT_MS / 1000} s`);
  return r;
}

/** Descriptors a process needs beyond its sockets (stdio, IPC, the event loop, libuv's threads, log files). */
const FD_MARGIN = 200;

/** The runner hands scenarios a copy of the size table, so `--quick` is recognised by its values. */
function isQuick(sizes: Sizes): boolean {
  return sizes.snapshot.keys === QUICK_SIZES.snapshot.keys && sizes.idle.connections === QUICK_SIZES.idle.connections;
}

function openFileLimit(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
}

async function inChild<T>(entry: string, cmd: string, args: unknown, execArgv: readonly string[] = []): Promise<T> {
  const child = new ChildHandle(path.join(import.meta.dirname, '..', entry), [], { execArgv });
  try {
    return await child.request<T>(cmd, args);
  } finally {
    await child.stop();
  }
}

async function storeCurve(ctx: BenchContext, plan: Plan): Promise<StoreScalePoint[]> {
  const points: StoreScalePoint[] = [];
  for (const keys of plan.storeKeys) {
    ctx.log(`scale: store of ${keys} keys (own process)`);
    points.push(await inChild<StoreScalePoint>('scaleStoreProcess.ts', 'measure', { keys }, ['--expose-gc']));
  }
  return points;
}

interface FanoutPoint {
  readonly agents: number;
  readonly compression: boolean;
  readonly seconds: number;
  readonly bytesPerAgent: number;
  readonly plainBytesPerAgent: number;
  readonly peakRssBytes: number;
  readonly eventLoopP99Ms: number;
  readonly encodings: number;
  readonly verified: boolean;
}

async function fanoutCurve(ctx: BenchContext, plan: Plan): Promise<FanoutPoint[]> {
  const keys = plan.fanoutKeys;
  const server = await BenchServer.start({ datastore: 'bench', pods: keys, nodes: Math.max(1, keys / 100), namespaces: 100, flags: PATIENT_FLAGS });
  const points: FanoutPoint[] = [];
  try {
    await server.waitInSync();
    for (const compression of [false, true]) {
      // A warm-up agent has the shared snapshot built (and each frame compressed) before timing.
      const warm = new ClientFleet('cattail', 1);
      await warm.connect(1, { url: server.url, compression });
      await warm.stop();
      for (const agents of plan.fanoutAgents) {
        ctx.log(`scale: snapshot fan-out, ${keys} keys to ${agents} agents${compression ? ', zstd' : ''}`);
        const fleet = new ClientFleet('cattail', Math.min(agents, ctx.sizes.clientProcesses));
        try {
          // A round trip to every agent process first, so their start-up is not timed.
          await fleet.reset();
          const before = await server.counters();
          await server.eventLoopDelay(true);
          await server.rssWatch(true);
          const t0 = wallClockMs();
          const r = await withTimeout(fleet.connect(agents, { url: server.url, verify: true, concurrency: agents, compression }), CONNECT_TIMEOUT_MS);
          const seconds = r === undefined ? Number.NaN : (r.lastInSyncAt - t0) / 1000;
          const peakRssBytes = await server.rssWatch(false);
          const eld = await server.eventLoopDelay(true);
          const after = await server.counters();
          const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
          points.push({
            agents, compression, seconds, bytesPerAgent: (r?.snapshotBytes ?? Number.NaN) / agents, plainBytesPerAgent: (r?.snapshotPlainBytes ?? Number.NaN) / agents,
            peakRssBytes, eventLoopP99Ms: eld.p99Ms, encodings: after.snapshotsGenerated - before.snapshotsGenerated,
            verified: r !== undefined && model.sha1 === digest.sha1 && digest.keys === keys,
          });
        } finally {
          await fleet.stop();
        }
      }
    }
  } finally {
    await server.stop();
  }
  return points;
}

interface DeltaPoint {
  readonly agents: number;
  readonly deliveries: number;
  readonly seconds: number;
  readonly deliveriesPerSec: number;
  readonly cpuMicrosPerDelivery: number;
  readonly complete: boolean;
  readonly verified: boolean;
}

async function deltaCurve(ctx: BenchContext, plan: Plan): Promise<DeltaPoint[]> {
  const points: DeltaPoint[] = [];
  for (const agents of plan.deltaAgents) {
    ctx.log(`scale: delta fan-out, ${agents} agents × ${plan.deltaUpdates} updates`);
    const server = await BenchServer.start({ datastore: 'bench', pods: 0, flags: PATIENT_FLAGS });
    const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses);
    try {
      await server.waitInSync();
      await connectAll(fleet, agents, { url: server.url, verify: true });
      await fleet.reset();
      const before = await server.usage();
      const { firstStampMs } = await server.burst(plan.deltaUpdates, plan.deltaKeys);
      const done = await fleet.awaitUpdates(plan.deltaUpdates, 300_000);
      const after = await server.usage();
      const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
      const deliveries = agents * plan.deltaUpdates;
      const seconds = (done.doneAt - firstStampMs) / 1000;
      const cpu = cpuSeconds(before, after);
      points.push({
        agents, deliveries, seconds, deliveriesPerSec: deliveries / seconds, cpuMicrosPerDelivery: (cpu * 1e6) / deliveries,
        complete: done.complete, verified: model.sha1 === digest.sha1 && model.keys === digest.keys,
      });
    } finally {
      await fleet.stop();
      await server.stop();
    }
  }
  return points;
}

interface IdlePoint {
  readonly connections: number;
  readonly retainedBytesPerConnection: number;
  readonly rssBytesPerConnection: number;
  readonly rssBytes: number;
}

/** One server; the fleet grows to each size in turn, each measured against the same one-connection baseline. */
async function idleCurve(ctx: BenchContext, plan: Plan): Promise<IdlePoint[]> {
  const server = await BenchServer.start({ datastore: 'bench', pods: 100, flags: PATIENT_FLAGS });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses);
  const points: IdlePoint[] = [];
  try {
    await server.waitInSync();
    // One connection first, so one-time costs (the shared snapshot, lazily loaded code) are not counted per connection.
    await connectAll(fleet, 1, { url: server.url });
    await server.gc();
    const base = await server.usage();
    let open = 0;
    for (const connections of plan.idleConnections) {
      ctx.log(`scale: ${connections} idle connections`);
      await connectAll(fleet, connections - open, { url: server.url });
      open = connections;
      await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
      await server.gc();
      const u = await server.usage();
      points.push({
        connections,
        retainedBytesPerConnection: (u.heapUsedBytes + u.externalBytes - base.heapUsedBytes - base.externalBytes) / connections,
        rssBytesPerConnection: (u.rssBytes - base.rssBytes) / connections,
        rssBytes: u.rssBytes,
      });
    }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  return points;
}

async function fileStartCurve(ctx: BenchContext, plan: Plan): Promise<FileStartScale[]> {
  const points: FileStartScale[] = [];
  for (const quick of plan.fileStartQuick) {
    ctx.log(`scale: file-datastore start, ${quick ? '6,000' : '60,000'} pods (own process)`);
    points.push(await inChild<FileStartScale>('scaleFileStartProcess.ts', 'run', { quick }));
  }
  return points;
}

function tables(store: readonly StoreScalePoint[], fanout: readonly FanoutPoint[], delta: readonly DeltaPoint[], idle: readonly IdlePoint[], file: readonly FileStartScale[], plan: Plan): Table[] {
  const plain = fanout.filter((p) => !p.compression);
  const zstd = fanout.filter((p) => p.compression);
  return [
    {
      title: 'Store and snapshot vs WorkloadEndpoint keys (one process per size)',
      header: ['keys', 'store heap MiB', 'store buffers MiB', 'store B/key', 'load s', 'snapshot build s', 'full GCs in build', 'snapshot MiB', 'zstd MiB', 'ratio', 'zstd once s', 'RSS MiB'],
      rows: store.map((p) => [num(p.keys), mib(p.heapBytes), mib(p.arrayBufferBytes), num((p.heapBytes + p.arrayBufferBytes) / p.keys), num(p.loadSeconds),
        num(p.buildSeconds), String(p.buildMajorGcs), mib(p.snapshotBytes), mib(p.compressedBytes), `${num(p.snapshotBytes / p.compressedBytes)}:1`, num(p.compressSeconds), mib(p.rssBytes)]),
    },
    {
      title: `Snapshot fan-out vs agents (${num(plan.fanoutKeys)} keys, snapshot already built; all agents connect at once)`,
      header: ['agents', 'plain s', 'plain ms/agent', 'zstd s', 'zstd ms/agent', 'MiB/agent plain / zstd', 'server peak RSS MiB plain / zstd', 'event-loop p99 ms plain / zstd'],
      rows: plain.map((p, i) => {
        const z = zstd[i];
        return [num(p.agents), num(p.seconds), num((p.seconds * 1000) / p.agents), z === undefined ? '' : num(z.seconds), z === undefined ? '' : num((z.seconds * 1000) / z.agents),
          `${mib(p.bytesPerAgent)} / ${z === undefined ? '' : mib(z.bytesPerAgent)}`, `${mib(p.peakRssBytes)} / ${z === undefined ? '' : mib(z.peakRssBytes)}`,
          `${num(p.eventLoopP99Ms)} / ${z === undefined ? '' : num(z.eventLoopP99Ms)}`];
      }),
    },
    {
      title: `Delta fan-out vs agents (a burst of ${num(plan.deltaUpdates)} updates of ~600 B over ${num(plan.deltaKeys)} keys)`,
      header: ['agents', 'deliveries', 's', 'deliveries/s', 'server CPU µs/delivery'],
      rows: delta.map((p) => [num(p.agents), num(p.deliveries), num(p.seconds), num(p.deliveriesPerSec), num(p.cpuMicrosPerDelivery)]),
    },
    {
      title: 'Idle connections (server memory after a full GC, over a one-connection baseline)',
      header: ['connections', 'heap + external KiB/conn', 'RSS KiB/conn', 'server RSS MiB'],
      rows: idle.map((p) => [num(p.connections), num(p.retainedBytesPerConnection / KIB), num(p.rssBytesPerConnection / KIB), mib(p.rssBytes)]),
    },
    {
      title: 'File-datastore start (one process per size)',
      header: ['pods', 'ready s', 'longest stall ms', 'RSS before MiB', 'peak RSS MiB', 'peak heap MiB'],
      rows: file.map((p) => [num(Number(p.result.figures.pods)), num(Number(p.result.figures.readySeconds)), num(Number(p.result.figures.longestStallMs)),
        mib(p.baselineRssBytes), mib(p.maxRssBytes), mib(p.sampledPeakHeapBytes)]),
    },
  ];
}

function growths(store: readonly StoreScalePoint[], fanout: readonly FanoutPoint[], delta: readonly DeltaPoint[], idle: readonly IdlePoint[], file: readonly FileStartScale[]): Growth[] {
  const out = [
    growth('store memory per key', store.map((p) => ({ size: p.keys, perUnit: (p.heapBytes + p.arrayBufferBytes) / p.keys })), 'keys'),
    growth('store load time per key', store.map((p) => ({ size: p.keys, perUnit: p.loadSeconds / p.keys })), 'keys'),
    growth('snapshot build time per key', store.map((p) => ({ size: p.keys, perUnit: p.buildSeconds / p.keys })), 'keys'),
    growth('snapshot bytes per key', store.map((p) => ({ size: p.keys, perUnit: p.snapshotBytes / p.keys })), 'keys'),
    growth('zstd snapshot bytes per key', store.map((p) => ({ size: p.keys, perUnit: p.compressedBytes / p.keys })), 'keys'),
    growth('plain snapshot fan-out time per agent', fanout.filter((p) => !p.compression).map((p) => ({ size: p.agents, perUnit: p.seconds / p.agents })), 'agents'),
    growth('zstd snapshot fan-out time per agent', fanout.filter((p) => p.compression).map((p) => ({ size: p.agents, perUnit: p.seconds / p.agents })), 'agents'),
    growth('delta server CPU per delivery', delta.map((p) => ({ size: p.agents, perUnit: p.cpuMicrosPerDelivery })), 'agents'),
    growth('delta time per delivery (1 / deliveries/s)', delta.map((p) => ({ size: p.agents, perUnit: 1 / p.deliveriesPerSec })), 'agents'),
    growth('idle memory (heap + external) per connection', idle.map((p) => ({ size: p.connections, perUnit: p.retainedBytesPerConnection })), 'connections'),
    growth('idle RSS per connection', idle.map((p) => ({ size: p.connections, perUnit: p.rssBytesPerConnection })), 'connections'),
  ];
  if (file.length > 1) {
    const pods = (p: FileStartScale) => Number(p.result.figures.pods);
    out.push(growth('file start time per pod', file.map((p) => ({ size: pods(p), perUnit: Number(p.result.figures.readySeconds) / pods(p) })), 'pods'));
    out.push(growth('file start peak RSS growth per pod', file.map((p) => ({ size: pods(p), perUnit: (p.maxRssBytes - p.baselineRssBytes) / pods(p) })), 'pods'));
  }
  return out;
}

export async function scale(ctx: BenchContext): Promise<ScenarioResult> {
  const plan = isQuick(ctx.sizes) ? QUICK : FULL;
  const limit = openFileLimit();
  const mostConnections = Math.max(...plan.idleConnections, ...plan.deltaAgents, ...plan.fanoutAgents);
  if (limit < mostConnections + FD_MARGIN) throw new Error(`ulimit -n is ${limit}; ${mostConnections} connections need at least ${mostConnections + FD_MARGIN} descriptors in the server process (raise it with ulimit -n)`);
  ctx.log(`scale: ulimit -n ${limit}, at most ${mostConnections} connections`);
  const started = performance.now();
  const failures: string[] = [];
  // A curve that fails is reported and left out; the others still give their tables.
  const curve = async <T>(name: string, run: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await run();
    } catch (err) {
      ctx.log(`scale: the ${name} curve failed: ${(err as Error).stack ?? String(err)}`);
      failures.push(`FAILED: the ${name} curve: ${(err as Error).message}`);
      return [];
    }
  };
  const store = await curve('store', () => storeCurve(ctx, plan));
  const fanout = await curve('snapshot fan-out', () => fanoutCurve(ctx, plan));
  const delta = await curve('delta fan-out', () => deltaCurve(ctx, plan));
  const idle = await curve('idle connection', () => idleCurve(ctx, plan));
  const file = await curve('file-start', () => fileStartCurve(ctx, plan));
  const minutes = (performance.now() - started) / 60_000;

  const rendered = tables(store, fanout, delta, idle, file, plan).map(markdown).join('\n\n');
  const g = growths(store, fanout, delta, idle, file);
  const resultsDir = path.join(import.meta.dirname, '..', 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(path.join(resultsDir, 'scale.md'), `${rendered}\n\n${g.map((x) => `- ${describeGrowth(x)}`).join('\n')}\n`);
  ctx.log(`scale tables (also in bench/results/scale.md):\n\n${rendered}\n`);

  const figures: Record<string, number | boolean> = { minutes, openFileLimit: limit };
  for (const p of store) {
    Object.assign(figures, {
      [`store${p.keys}HeapBytes`]: p.heapBytes, [`store${p.keys}ArrayBufferBytes`]: p.arrayBufferBytes, [`store${p.keys}EncodedBytes`]: p.encodedBytes,
      [`store${p.keys}LoadSeconds`]: p.loadSeconds, [`store${p.keys}BuildSeconds`]: p.buildSeconds, [`store${p.keys}LoadMajorGcs`]: p.loadMajorGcs, [`store${p.keys}BuildMajorGcs`]: p.buildMajorGcs, [`store${p.keys}SnapshotBytes`]: p.snapshotBytes,
      [`store${p.keys}ZstdBytes`]: p.compressedBytes, [`store${p.keys}ZstdSeconds`]: p.compressSeconds, [`store${p.keys}RssBytes`]: p.rssBytes,
    });
  }
  for (const p of fanout) {
    const k = `fanout${p.compression ? 'Zstd' : 'Plain'}${p.agents}`;
    Object.assign(figures, { [`${k}Seconds`]: p.seconds, [`${k}BytesPerAgent`]: p.bytesPerAgent, [`${k}PeakRssBytes`]: p.peakRssBytes, [`${k}EventLoopP99Ms`]: p.eventLoopP99Ms, [`${k}Encodings`]: p.encodings, [`${k}Verified`]: p.verified });
  }
  for (const p of delta) {
    Object.assign(figures, { [`delta${p.agents}DeliveriesPerSec`]: p.deliveriesPerSec, [`delta${p.agents}CpuMicrosPerDelivery`]: p.cpuMicrosPerDelivery, [`delta${p.agents}Seconds`]: p.seconds, [`delta${p.agents}Complete`]: p.complete, [`delta${p.agents}Verified`]: p.verified });
  }
  for (const p of idle) {
    Object.assign(figures, { [`idle${p.connections}RetainedBytesPerConnection`]: p.retainedBytesPerConnection, [`idle${p.connections}RssBytesPerConnection`]: p.rssBytesPerConnection, [`idle${p.connections}RssBytes`]: p.rssBytes });
  }
  for (const p of file) {
    const k = `fileStart${String(p.result.figures.pods)}`;
    Object.assign(figures, { [`${k}ReadySeconds`]: Number(p.result.figures.readySeconds), [`${k}LongestStallMs`]: Number(p.result.figures.longestStallMs), [`${k}BaselineRssBytes`]: p.baselineRssBytes, [`${k}MaxRssBytes`]: p.maxRssBytes, [`${k}PeakHeapBytes`]: p.sampledPeakHeapBytes });
  }
  failures.push(
    ...fanout.filter((p) => Number.isNaN(p.seconds)).map((p) => `snapshot fan-out to ${p.agents} agents${p.compression ? ' (zstd)' : ''}: not every agent in sync within ${CONNECT_TIMEOUT_MS / 1000} s`),
    ...fanout.filter((p) => !p.verified && !Number.isNaN(p.seconds)).map((p) => `VERIFICATION FAILED: snapshot fan-out to ${p.agents} agents${p.compression ? ' (zstd)' : ''}`),
    ...fanout.filter((p) => p.encodings !== 0).map((p) => `snapshot fan-out to ${p.agents} agents${p.compression ? ' (zstd)' : ''} built ${p.encodings} new snapshot(s): its time includes a build`),
    ...delta.filter((p) => !p.verified || !p.complete).map((p) => `delta fan-out to ${p.agents} agents: ${p.complete ? '' : 'incomplete within 300 s; '}${p.verified ? '' : 'VERIFICATION FAILED'}`),
  );
  const snapshotMiB = store.find((p) => p.keys === plan.fanoutKeys)?.snapshotBytes;
  return {
    scenario: 'scale',
    title: `scaling curves (${minutes.toFixed(1)} min)`,
    figures,
    targets: [],
    notes: [
      ...failures,
      ...g.map(describeGrowth),
      ...(snapshotMiB === undefined ? [] : [`a ${num(plan.fanoutKeys)}-key snapshot is ${num(snapshotMiB / MIB)} MiB plain`]),
      'tables in bench/results/scale.md',
    ],
  };
}
