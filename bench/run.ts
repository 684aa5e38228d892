/**
 * `npm run bench [-- --quick] [--only <scenario>[,<scenario>]] [--profile] [--agent-processes <n>]
 * [--pin] [--peers redis,etcd] [--strace]`: runs the scenarios of issue 6 against the physical
 * limit and the peers, prints the table of targets and writes the JSON to bench/results/.
 * `--profile` writes V8 CPU profiles of the server process (delta, paced latency and snapshot
 * fan-out) to bench/results/profiles/ and prints their top functions. `--agent-processes`
 * spreads the agents over that many processes (default 4, 2 with --quick): fewer processes,
 * fewer schedulable entities competing with the server. `--pin` runs the server role (Cattail,
 * redis-server, etcd, the raw stream's sender) on CPU 0 and the agent role (agents, peer
 * subscribers, the raw stream's receiver, this process) on CPU 1. `--peers` limits the delta
 * fan-out's comparisons. `--strace` counts the server's syscalls over the measured part of the
 * delta and paced scenarios (tracing slows the server: such a run gives counts, not rates).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchContext, DEFAULT_SIZES, QUICK_SIZES } from './context.ts';
import { affinityOf, pinProcess, TWO_CORE_PINNING } from './cpuPinning.ts';
import { summarizeProfile } from './profileSummary.ts';
import { machine, type ScenarioResult, textTable, writeResults } from './report.ts';
import { compression } from './scenarios/compression.ts';
import { datastoreLoad } from './scenarios/datastoreLoad.ts';
import { deltaFanout } from './scenarios/deltaFanout.ts';
import { failover } from './scenarios/failover.ts';
import { fileStart } from './scenarios/fileStart.ts';
import { idleCost } from './scenarios/idleCost.ts';
import { pacedLatency } from './scenarios/pacedLatency.ts';
import { reconnectStorm } from './scenarios/reconnectStorm.ts';
import { scale } from './scenarios/scale.ts';
import { snapshotFanout, snapshotFanoutZstd } from './scenarios/snapshotFanout.ts';

const SCENARIOS: Readonly<Record<string, (ctx: BenchContext) => Promise<ScenarioResult>>> = {
  delta: deltaFanout,
  latency: pacedLatency,
  snapshot: snapshotFanout,
  'snapshot-zstd': snapshotFanoutZstd,
  storm: reconnectStorm,
  idle: idleCost,
  datastore: datastoreLoad,
  'file-start': fileStart,
  compression,
  scale,
  failover,
};

async function main(): Promise<void> {
  // Exit through process.exit so peer daemons are killed by their exit hooks.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false }, only: { type: 'string' }, profile: { type: 'boolean', default: false },
      'agent-processes': { type: 'string' }, pin: { type: 'boolean', default: false }, peers: { type: 'string', default: 'redis,etcd' },
      strace: { type: 'boolean', default: false },
    },
  });
  const names = values.only === undefined ? Object.keys(SCENARIOS) : values.only.split(',').map((s) => s.trim());
  for (const n of names) if (SCENARIOS[n] === undefined) throw new Error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const resultsDir = path.join(import.meta.dirname, 'results');
  const profileDir = values.profile ? path.join(resultsDir, 'profiles') : undefined;
  const started = performance.now();
  const base = values.quick ? QUICK_SIZES : DEFAULT_SIZES;
  const agentProcesses = values['agent-processes'] === undefined ? base.clientProcesses : Number(values['agent-processes']);
  if (!Number.isInteger(agentProcesses) || agentProcesses < 1) throw new Error(`--agent-processes must be a positive integer, got ${values['agent-processes']}`);
  const peers = new Set(values.peers.split(',').map((p) => p.trim()).filter((p) => p !== '' && p !== 'none'));
  for (const p of peers) if (p !== 'redis' && p !== 'etcd') throw new Error(`--peers takes redis, etcd or none, got ${p}`);
  const pin = values.pin ? TWO_CORE_PINNING : undefined;
  if (pin !== undefined) pinProcess(process.pid, pin.agents);
  const ctx: BenchContext = {
    sizes: { ...base, clientProcesses: agentProcesses },
    quick: values.quick,
    profileDir,
    pin,
    peers: peers as Set<'redis' | 'etcd'>,
    strace: values.strace,
    log: (m) => process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(0)}s] ${m}\n`),
  };
  const m = machine();
  ctx.log(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}`);
  if (pin !== undefined) ctx.log(`pinned: server role on CPU ${pin.server}, agent role on CPU ${pin.agents} (this process: ${affinityOf(process.pid).join(' / ')})`);
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const run = SCENARIOS[name] as (ctx: BenchContext) => Promise<ScenarioResult>;
    try {
      const r = await run(ctx);
      results.push(r);
      ctx.log(`${r.title}: ${JSON.stringify(r.figures)}`);
      for (const n of r.notes) ctx.log(`  note: ${n}`);
    } catch (err) {
      ctx.log(`scenario ${name} failed: ${(err as Error).stack ?? String(err)}`);
      results.push({ scenario: name, title: name, figures: { error: String(err) }, targets: [], notes: [`failed: ${String(err)}`] });
      process.exitCode = 1;
    }
  }
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  process.stdout.write(`\n${textTable(results)}\n\n`);
  for (const r of results) for (const n of r.notes) process.stdout.write(`${r.title}: ${n}\n`);
  const file = await writeResults(resultsDir, command, results);
  process.stdout.write(`\n${command} finished in ${((performance.now() - started) / 1000).toFixed(0)} s; results in ${path.relative(process.cwd(), file)}\n`);
  if (profileDir !== undefined) {
    for (const f of (await readdir(profileDir)).filter((x) => x.endsWith('.cpuprofile'))) {
      process.stdout.write(`\nCPU profile ${f} (server process), top self time:\n${await summarizeProfile(path.join(profileDir, f), 15)}\n`);
    }
  }
}

await main();
