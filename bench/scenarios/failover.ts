/**
 * Failover and network-cut catch-up (issue 13): three Cattail replicas over one Kubernetes API
 * emulator (shared revisions), agents spread over them through TCP proxies, a paced pod churn.
 * Half the agents offer catch-up (resume + digest), half do not, side by side in one run; in each
 * phase the catch-up agents reconnect first and the others are held until they have caught up,
 * so that each group's time and CPU are its own rather than shared with the other's:
 *
 * 1. SIGKILL one replica: its agents move to the survivors (digest catch-up, or a full snapshot).
 * 2. Cut every agent's network for 10 s (the proxies destroy every connection and refuse new
 *    ones), no server restart: they come back to the same replica (resume, or a full snapshot);
 *    an observer on each replica, never cut, gives the delta bytes each agent missed. Agents are
 *    held during the cut and released group by group when it ends.
 * 3. Stop the churn; every agent's state (its key count and level-16 bucket digests) must equal
 *    each survivor's, and each survivor's model must equal the one computed from the
 *    emulator's objects.
 *
 * Measured per group: bytes received until caught up, time until all caught up, the survivors'
 * CPU (from /proc). Sizes: 300 agents and 100,000 pods at the default size (when the run's
 * snapshot size is 100,000 keys), 30 agents and 5,000 pods with --quick.
 */
import os from 'node:os';
import type { AgentSpec, PhaseRecord } from '../failover/agent.ts';
import { AgentFleet } from '../failover/agentFleet.ts';
import { FailoverCluster } from '../failover/cluster.ts';
import { cpuSecondsOf } from '../failover/procStat.ts';
import { groupFigures, median, missedBytes, type GroupFigures } from '../failover/phaseFigures.ts';
import type { BenchContext } from '../context.ts';
import { atLeast, atMost, type ScenarioResult, type TargetCheck } from '../report.ts';
import { wallClockMs } from '../workload.ts';

const REPLICAS = 3;
const CHURN_PER_SEC = 200;
const CUT_MS = 10_000;
const VICTIM = 0;
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function failover(ctx: BenchContext): Promise<ScenarioResult> {
  const full = ctx.sizes.snapshot.keys >= 100_000;
  return runFailover(ctx, sizeOverride(process.env.CATTAIL_BENCH_FAILOVER, full ? { pods: 100_000, agents: 300 } : { pods: 5_000, agents: 30 }));
}

/**
 * `CATTAIL_BENCH_FAILOVER=pods=100000,agents=120` runs another size (for a machine that cannot
 * host the default one in reasonable time); unset, the default size.
 */
function sizeOverride(spec: string | undefined, size: { pods: number; agents: number }): { pods: number; agents: number } {
  if (spec === undefined || spec === '') return size;
  const out = { ...size };
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if ((k !== 'pods' && k !== 'agents') || !Number.isInteger(n) || n < 1) throw new Error(`CATTAIL_BENCH_FAILOVER: expected pods=<n>,agents=<n>, got ${spec}`);
    out[k] = n;
  }
  return out;
}

/** The scenario at any size (the runner uses 100,000 pods and 300 agents, or 5,000 and 30 with --quick). */
export async function runFailover(ctx: BenchContext, size: { readonly pods: number; readonly agents: number }): Promise<ScenarioResult> {
  const { pods, agents } = size;
  const full = pods >= 50_000;
  const processes = Math.max(2, ctx.sizes.clientProcesses - (ctx.sizes.clientProcesses % 2));
  ctx.log(`failover: ${REPLICAS} replicas, ${pods} pods, ${agents} agents in ${processes} processes (half with catch-up), churn ${CHURN_PER_SEC}/s`);
  const cluster = await FailoverCluster.start({ pods, namespaces: 20, seed: 13, replicas: REPLICAS, flags: [], pin: ctx.pin }, ctx.log);
  let fleet: AgentFleet | undefined;
  try {
    await cluster.waitInSync(900_000);
    const perProcess = assignAgents(agents, processes, cluster.replicas.map((r) => r.proxiedUrl));
    // One observer per replica, connected directly (never cut), in the first catch-up process.
    (perProcess[0] as AgentSpec[]).push(...cluster.replicas.map((_, i) => ({
      hostname: `observer-${i}`, urls: cluster.replicas.map((x) => x.url), order: [i], catchUp: true, observer: true,
    })));
    fleet = new AgentFleet(perProcess, ctx.pin);
    await cluster.churn(CHURN_PER_SEC);
    const tStart = wallClockMs();
    const startFleet = fleet;
    const startProgress = setInterval(() => {
      void startFleet.progress().then((p) => ctx.log(`failover: ${p.synced}/${agents + REPLICAS} agents in sync (first sync)`)).catch(() => {});
    }, 30_000);
    try {
      await fleet.start(full ? 8 : 4, 1_800_000);
    } finally {
      clearInterval(startProgress);
    }
    const cpu = () => {
      const c = cluster.cpuByRole();
      const agentsCpu = (fleet as AgentFleet).pids.reduce((s, pid) => s + cpuSecondsOf(pid), 0);
      return `replicas ${c.replicas.toFixed(1)} s, agents ${agentsCpu.toFixed(1)} s, proxies ${c.proxy.toFixed(1)} s, emulator ${c.emulator.toFixed(1)} s`;
    };
    const cpuAtStart = cpu();
    ctx.log(`failover: all agents in sync after ${((wallClockMs() - tStart) / 1000).toFixed(1)} s; CPU so far: ${cpuAtStart}`);
    await sleep(3000);

    // 1. SIGKILL one replica.
    await fleet.beginPhase([VICTIM]);
    await fleet.setLive(cluster.alive.filter((i) => i !== VICTIM));
    await fleet.setTargets(await cluster.seqs());
    const killLoad = loadAverage();
    const kill = await measure(ctx, cluster, fleet, cluster.alive.filter((i) => i !== VICTIM), (s) => s.observer !== true && s.order[0] === VICTIM, () => cluster.kill(VICTIM));
    ctx.log(`failover: kill done: on ${JSON.stringify(kill.on)}; off ${JSON.stringify(kill.off)}`);
    await sleep(3000);

    // 2. Cut every agent for 10 s.
    const survivors = cluster.alive;
    // Every agent is held during the cut (no attempts against the blocked proxy), so that both
    // groups start reconnecting the same way, within 100 ms of their release.
    const agentFleet = fleet;
    await agentFleet.beginPhase(survivors);
    await agentFleet.hold([...agentFleet.group(true), ...agentFleet.group(false)]);
    await cluster.block();
    await sleep(CUT_MS);
    await fleet.setTargets(await cluster.seqs());
    await cluster.open();
    const cutLoad = loadAverage();
    const cut = await measure(ctx, cluster, fleet, survivors, (s) => s.observer !== true, () => void agentFleet.release(agentFleet.group(true)));
    const marks = await fleet.marks();
    const ratios = resumeRatios(cut.records, marks);
    const marksSeen = [...marks.values()].some((m) => m.length > 0);
    ctx.log(`failover: cut done: on ${JSON.stringify(cut.on)}; off ${JSON.stringify(cut.off)}`);

    // 3. Quiesce and verify.
    const churned = await cluster.stopChurn();
    const verification = await verify(cluster, fleet, survivors);
    const hashes = await fleet.hashes();
    const cpuAtEnd = cpu();

    const fullSnapshotBytes = kill.off.bytesMedian;
    const killChangedBound = CHURN_PER_SEC * kill.on.secondsToAll / pods;
    const targets: TargetCheck[] = [
      atMost('failover: bytes per moved agent (catch-up, worst) / full snapshot', kill.on.bytesMax / fullSnapshotBytes * 100, 2, '%', '≤ 2 %'),
      atMost('10 s cut: bytes until caught up / missed delta bytes (resume, worst)', ratios.max, 1.5, '×', '≤ 1.5×'),
      atLeast('failover: time to all in sync, full snapshots / catch-up', kill.off.secondsToAll / kill.on.secondsToAll, 10, '×', '≥ 10×'),
      atLeast('10 s cut: time to all in sync, full snapshots / resume', cut.off.secondsToAll / cut.on.secondsToAll, 10, '×', '≥ 10×'),
    ];
    const notes = [
      `load average at the kill ${killLoad}, at the end of the cut ${cutLoad} (2 cores shared by the replicas, the emulator, the proxies and ${processes} agent processes)`,
      phaseNote('kill', 'catch-up', kill.on, kill.cpuOn),
      phaseNote('kill', 'no catch-up', kill.off, kill.cpuOff),
      `kill: under ${(killChangedBound * 100).toFixed(2)} % of keys can have changed between the kill and the last catch-up agent's recovery (${CHURN_PER_SEC}/s × ${kill.on.secondsToAll.toFixed(2)} s / ${pods} keys)`,
      phaseNote('cut', 'resume', cut.on, cut.cpuOn),
      phaseNote('cut', 'no catch-up', cut.off, cut.cpuOff),
      `cut: resumed agents received ${ratios.median.toFixed(3)}× (median), ${ratios.max.toFixed(3)}× (worst) the delta bytes an online observer received for the same breadcrumbs (${ratios.counted} agents; median missed ${(ratios.missedMedian / 1024).toFixed(0)} KiB)`,
      ...(marksSeen ? [] : ['NO DELTA MARKS: no observer saw a delta kvs frame carry seq (spec13 §A.1), so a client\'s resume position never moves past its snapshotEnd, a resume replays every delta since that snapshot, and the resume figures cannot be measured']),
      `churn: ${churned.updates} label changes, ${churned.deletes} deletions, ${churned.creates} creations of pods`,
      `verification: ${verification.note}`,
      `CPU by role (cumulative; the killed replica not counted): after the first sync ${cpuAtStart}; at the end ${cpuAtEnd}`,
      `agents: ${hashes.frameMisses} distinct kvs frames parsed, ${hashes.frameHits} byte-identical ones reused within a process; KV hashes ${hashes.computed} computed, ${hashes.reused} reused from an identical entry`,
      ...verification.violations,
    ];
    return {
      scenario: 'failover',
      title: `failover (${REPLICAS} replicas, ${pods} pods, ${agents} agents)`,
      figures: {
        pods, agents, replicas: REPLICAS, churnPerSec: CHURN_PER_SEC, cutMs: CUT_MS, fullSnapshotBytes,
        ...prefixed('kill.catchUp.', kill.on), ...prefixed('kill.snapshot.', kill.off),
        'kill.catchUp.survivorCpuSeconds': kill.cpuOn, 'kill.snapshot.survivorCpuSeconds': kill.cpuOff,
        ...prefixed('cut.resume.', cut.on), ...prefixed('cut.snapshot.', cut.off),
        'cut.resume.survivorCpuSeconds': cut.cpuOn, 'cut.snapshot.survivorCpuSeconds': cut.cpuOff,
        'cut.bytesOverMissedMedian': ratios.median, 'cut.bytesOverMissedMax': ratios.max, 'cut.missedBytesMedian': ratios.missedMedian,
        verified: verification.ok, loadAtKill: killLoad, loadAtCut: cutLoad,
        ...Object.fromEntries(Object.entries(verification.metrics).map(([k, v]) => [`metric.${k}`, v])),
      },
      targets,
      notes,
    };
  } finally {
    await fleet?.stop();
    await cluster.stop();
  }
}

/**
 * Agents: the first half of the processes hold the catch-up agents, the second half the others;
 * agent j of a group lives on replica j mod 3 and, when that replica goes, prefers one of the
 * other two by the parity of j div 3, so a dead replica's agents spread over the survivors.
 */
function assignAgents(agents: number, processes: number, urls: readonly string[]): AgentSpec[][] {
  const perProcess: AgentSpec[][] = Array.from({ length: processes }, () => []);
  const half = processes / 2;
  for (const catchUp of [true, false]) {
    const n = catchUp ? Math.ceil(agents / 2) : Math.floor(agents / 2);
    for (let j = 0; j < n; j++) {
      const home = j % urls.length;
      const step = Math.floor(j / urls.length) % 2 === 0 ? 1 : 2;
      const order = [home, (home + step) % urls.length, (home + 2 * step) % urls.length];
      const p = (catchUp ? 0 : half) + (j % half);
      (perProcess[p] as AgentSpec[]).push({ hostname: `agent-${catchUp ? 'c' : 's'}${j}`, urls, order, catchUp });
    }
  }
  return perProcess;
}

interface Measured {
  readonly records: PhaseRecord[];
  readonly on: GroupFigures;
  readonly off: GroupFigures;
  /** Survivors' CPU seconds while each group was catching up. */
  readonly cpuOn: number;
  readonly cpuOff: number;
}

/**
 * One phase, the two groups one after the other: the event (kill, or the end of the cut) lets
 * the catch-up agents reconnect while the others are held; once every catch-up agent has caught
 * up, the others are released. Each group's time and the survivors' CPU are then its own, not
 * inflated or deflated by the other group's load on the shared cores.
 */
async function measure(
  ctx: BenchContext, cluster: FailoverCluster, fleet: AgentFleet, survivors: readonly number[], affected: (s: AgentSpec) => boolean, event: () => void,
): Promise<Measured> {
  const on = fleet.group(true);
  const off = fleet.group(false);
  await fleet.hold(off);
  const minLost = (specs: readonly AgentSpec[]) => specs.filter(affected).length;
  const progress = setInterval(() => {
    void fleet.progress().then((p) => ctx.log(`failover: ${p.caughtUp}/${p.lost} agents caught up`)).catch(() => {});
  }, 5000);
  const cpu0 = cluster.cpuSeconds(survivors);
  const t0 = wallClockMs();
  event();
  let cpuOn: number;
  let cpuOff: number;
  let t1: number;
  try {
    if (!(await fleet.awaitCaughtUp(on, minLost, 600_000))) ctx.log('failover: some catch-up agents did not catch up within the timeout');
    const cpu1 = cluster.cpuSeconds(survivors);
    cpuOn = cpu1 - cpu0;
    t1 = wallClockMs();
    await fleet.release(off);
    if (!(await fleet.awaitCaughtUp(off, minLost, 600_000))) ctx.log('failover: some agents without catch-up did not catch up within the timeout');
    cpuOff = cluster.cpuSeconds(survivors) - cpu1;
  } finally {
    clearInterval(progress);
  }
  const records = (await fleet.records()).filter((r) => r.lost);
  return { records, on: groupFigures(records.filter((r) => r.catchUp), t0, t0), off: groupFigures(records.filter((r) => !r.catchUp), t0, t1), cpuOn, cpuOff };
}

function resumeRatios(records: readonly PhaseRecord[], marks: ReadonlyMap<number, number[]>): { median: number; max: number; counted: number; missedMedian: number } {
  const ratios: number[] = [];
  const missed: number[] = [];
  for (const r of records) {
    if (!r.catchUp || r.path !== 'resume' || r.resumeFrom === undefined) continue;
    const m = missedBytes(marks.get(r.replicaAfter) ?? [], r.resumeFrom, r.seqReached);
    if (m === undefined || m === 0) continue;
    ratios.push(r.bytes / m);
    missed.push(m);
  }
  return { median: median(ratios), max: ratios.length === 0 ? NaN : Math.max(...ratios), counted: ratios.length, missedMedian: median(missed) };
}

async function verify(cluster: FailoverCluster, fleet: AgentFleet, survivors: readonly number[]): Promise<{ ok: boolean; note: string; violations: string[]; metrics: Record<string, number> }> {
  // Wait until the survivors agree with each other and every agent agrees with them.
  const deadline = performance.now() + 120_000;
  let last = '';
  for (;;) {
    await sleep(2000);
    const models = await Promise.all(survivors.map((i) => cluster.model(i)));
    const summaries = await fleet.summaries();
    const reference = models[0];
    const replicasAgree = models.every((m) => m.tableSha256 === reference?.tableSha256 && m.sha1 === reference.sha1);
    const wrong = summaries.filter((s) => s.keys !== reference?.keys || s.tableSha256 !== reference.tableSha256);
    last = `${wrong.length} of ${summaries.length} agents differ from the replicas; replicas agree: ${replicasAgree}`;
    if ((replicasAgree && wrong.length === 0) || performance.now() > deadline) {
      const expected = await cluster.expected();
      const datastoreMatches = expected.sha1 === reference?.sha1 && expected.keys === reference.keys;
      const seen = new Map<string, number>();
      for (const s of summaries) for (const v of new Set(s.violations)) seen.set(v, (seen.get(v) ?? 0) + 1);
      const violations = [...seen].map(([v, n]) => `protocol violation seen by ${n} agents: ${v}`);
      const metrics: Record<string, number> = {};
      for (const i of survivors) for (const [k, v] of Object.entries(await cluster.metrics(i))) metrics[`replica${i}.${k}`] = v;
      const protocolAgrees = models.every((m) => m.protocolTableSha256 === m.tableSha256);
      if (!protocolAgrees) violations.push('the protocol module\'s kvHash/bucket16 give other bucket digests than this bench\'s reading of spec13 §A.8');
      const ok = replicasAgree && wrong.length === 0 && datastoreMatches && protocolAgrees;
      return {
        ok,
        note: ok
          ? `every agent's ${reference?.keys} keys and level-16 bucket digests equal the survivors'; the survivors' model equals the one computed from the emulator's objects (sha1 ${expected.sha1.slice(0, 12)}); the protocol module's kvHash and bucket16 give the same digests`
          : `FAILED: ${last}; survivors' model ${datastoreMatches ? 'equals' : 'DIFFERS FROM'} the emulator's (${reference?.keys} vs ${expected.keys} keys)`,
        violations: violations.slice(0, 20),
        metrics,
      };
    }
  }
}

function phaseNote(phase: string, group: string, g: GroupFigures, cpu: number): string {
  return `${phase}, ${group}: ${g.caughtUp}/${g.agents} agents caught up (paths ${g.paths}; reasons ${g.reasons}); all after ${g.secondsToAll.toFixed(2)} s ` +
    `(median ${g.secondsMedian.toFixed(2)} s, at most ${g.attemptsMax} connection attempts); bytes median ${(g.bytesMedian / MiB).toFixed(3)} MiB, worst ${(g.bytesMax / MiB).toFixed(3)} MiB; ` +
    `entries before snapshotEnd median ${g.entriesMedian}; held keys of replaced buckets median ${g.replacedHeldMedian}; pending keys deleted at in-sync ${g.pendingDeletedTotal}; ` +
    `survivors' CPU meanwhile ${cpu.toFixed(1)} s; median ms from the event to the loss ${g.toLossMs.toFixed(0)}, then to open ${g.toOpenMs.toFixed(0)}, to serverHello +${g.openToHelloMs.toFixed(0)}, ` +
    `to snapshotEnd +${g.helloToEndMs.toFixed(0)}, to in-sync +${g.endToInSyncMs.toFixed(0)}, to caught up +${g.inSyncToCaughtUpMs.toFixed(0)}` +
    (g.withoutMarks > 0 ? `; ${g.withoutMarks} agents never saw a delta frame carry seq, so for them caught up only means in-sync` : '');
}

function prefixed(prefix: string, g: GroupFigures): Record<string, number | string> {
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [`${prefix}${k}`, v as number | string]));
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
function loadAverage(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}
