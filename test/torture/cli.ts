/**
 * The long torture run: `npm run torture -- --seeds N --minutes M [--steps S] [--first-seed X]
 * [--seed X] [--replay file.json] [--no-shrink] [--verbose] [--datastore etcd]`. Runs seeds until N are done or M
 * minutes have passed (whichever first; either may be omitted), prints one line per seed and a
 * summary, and for a failing seed prints the seed, its failures and a shrunk schedule as JSON
 * that `--replay` (or a regression test) runs again. Exit code 1 when any seed failed. The
 * summary counts how connections caught up (resumes, digest catch-ups, full snapshots, probes,
 * from the serverHellos on the wire) and the clients' moves off stale replicas.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { addCounts, describeCounts, NO_CATCH_UP } from './catchUpTally.ts';
import { runSchedule } from './executor.ts';
import { generateSchedule, type Schedule } from './schedule.ts';
import { shrinkSchedule } from './shrink.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' }, minutes: { type: 'string' }, steps: { type: 'string', default: '40' },
    'first-seed': { type: 'string', default: '1' }, seed: { type: 'string' }, replay: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false },
    'shrink-budget': { type: 'string', default: '60' }, out: { type: 'string' },
    datastore: { type: 'string', default: 'kubernetes' },
  },
});
const out = (line: string) => process.stdout.write(`${line}\n`);
if (values.datastore !== 'kubernetes' && values.datastore !== 'etcd') {
  process.stderr.write('--datastore is kubernetes (the emulator, the default) or etcd (a real etcd mirroring it)\n');
  process.exit(64);
}
const datastore = values.datastore;

if (values.replay !== undefined) {
  const schedule = JSON.parse(readFileSync(values.replay, 'utf8')) as Schedule;
  const r = await runSchedule(schedule, { verbose: values.verbose, datastore });
  out(r.ok ? `replay passed in ${r.elapsedMs} ms` : `replay FAILED:\n${r.failures.join('\n')}`);
  process.exitCode = r.ok ? 0 : 1;
} else {
  const steps = Number(values.steps);
  const maxSeeds = values.seed !== undefined ? 1 : values.seeds !== undefined ? Number(values.seeds) : Number.POSITIVE_INFINITY;
  const deadline = values.minutes !== undefined ? Date.now() + Number(values.minutes) * 60_000 : Number.POSITIVE_INFINITY;
  if (maxSeeds === Number.POSITIVE_INFINITY && deadline === Number.POSITIVE_INFINITY) {
    process.stderr.write('give --seeds N and/or --minutes M (or --seed X, or --replay FILE)\n');
    process.exit(64);
  }
  const first = values.seed !== undefined ? Number(values.seed) : Number(values['first-seed']);
  const started = Date.now();
  let passed = 0;
  const failed: number[] = [];
  let deliveries = 0;
  let reconnects = 0;
  let instances = 0;
  let leftStale = 0;
  let catchUp = NO_CATCH_UP;
  let seed = first;
  for (; seed < first + maxSeeds && Date.now() < deadline; seed++) {
    const schedule = generateSchedule(seed, { steps });
    const r = await runSchedule(schedule, { verbose: values.verbose, datastore });
    deliveries += r.stats.deliveries;
    reconnects += r.stats.reconnects;
    instances += r.stats.instances;
    leftStale += r.stats.leftStale;
    catchUp = addCounts(catchUp, r.stats.catchUp);
    const c = r.stats.catchUp;
    out(`seed ${seed}: ${r.ok ? 'ok' : 'FAILED'} in ${r.elapsedMs} ms (${schedule.replicas ?? 1} replicas${schedule.serverFlags ? ` ${schedule.serverFlags.join(' ')}` : ''}, ${r.stats.keys} keys, ${r.stats.deliveries} host deliveries, ${r.stats.reconnects} reconnects; `
      + `${c.resumes} resumes, ${c.digests}+${c.digestsFull} digest, ${c.snapshots + c.plain} snapshots${c.probes > 0 ? `, ${c.probes} probes` : ''}${r.stats.leftStale > 0 ? `, ${r.stats.leftStale} left stale` : ''})`);
    if (r.ok) {
      passed++;
      continue;
    }
    failed.push(seed);
    out(`seed ${seed} failures:\n${r.failures.map((f) => `  ${f}`).join('\n')}`);
    let final = schedule;
    if (!values['no-shrink']) {
      const shrunk = await shrinkSchedule(schedule, (s) => runSchedule(s, { datastore }), { budget: Number(values['shrink-budget']), log: out });
      final = shrunk.schedule;
      out(`seed ${seed} shrunk to ${final.steps.length} of ${schedule.steps.length} steps in ${shrunk.runs} runs; last failure:\n${shrunk.lastFailure.map((f) => `  ${f}`).join('\n')}`);
    }
    const json = JSON.stringify(final, null, 1);
    const file = values.out ?? `torture-seed-${seed}.json`;
    writeFileSync(file, json);
    out(`replay with: npm run torture -- --replay ${file}`);
    out(`keep it: copy ${file} to test/torture/regressions/<what-broke>.json and add <what-broke>.test.ts calling replayRegression() (see regressions/replay.ts)`);
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  out(`torture: ${passed + failed.length} seeds (${first}..${seed - 1}), ${passed} passed, ${failed.length} failed${failed.length > 0 ? ` (${failed.join(', ')})` : ''}; ${steps} steps each; ${minutes} min; ${deliveries} host deliveries, ${reconnects} client reconnects, ${instances} server instances`);
  out(`catch-up: ${catchUp.hellos} serverHellos: ${describeCounts(catchUp)}; ${leftStale} moves off a stale replica`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}
