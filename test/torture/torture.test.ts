/**
 * The short convergence torture run inside `npm test`: a few fixed seeds, each a schedule of
 * datastore churn, API faults, client disconnects, pauses, a lowered connection limit and
 * (usually) a server restart, over the real server and real clients. The long run is
 * `npm run torture -- --seeds N --minutes M`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSchedule } from './executor.ts';
import { clientSpec, generateSchedule, type Step } from './schedule.ts';

const SEEDS = [101, 202, 303];

for (const seed of SEEDS) {
  test(`seed ${seed}: every client converges to the model computed from the emulator's objects, with no contract violation`, async () => {
    const schedule = generateSchedule(seed, { steps: 40 });
    const r = await runSchedule(schedule);
    assert.ok(r.ok, `seed ${seed} failed (replay: npm run torture -- --seed ${seed}):\n${r.failures.join('\n')}`);
  });
}

test('schedules are a pure function of the seed and cover every kind and fault', () => {
  const a = generateSchedule(7, { steps: 300 });
  assert.deepEqual(generateSchedule(7, { steps: 300 }), a);
  const ops = new Set(a.steps.map((s) => s.op));
  for (const op of ['apply', 'delete', 'burst', 'wait', 'dropWatches', 'outage', 'disconnect', 'pauseHost', 'pauseSocket', 'limit', 'partition']) {
    assert.ok(ops.has(op as never), `no ${op} step in 300`);
  }
  const flat: Step[] = a.steps.flatMap((s): Step[] => (s.op === 'burst' ? [...s.steps] : [s]));
  const kinds = new Set(flat.map((s) => (s.op === 'apply' ? s.obj.kind : undefined)).filter((k) => k !== undefined));
  assert.ok(kinds.size >= 16, `only ${kinds.size} kinds applied`);
});

test('schedules cover replicas, clients with and without catch-up, pinned and roaming clients, replica kills and tiny retention', () => {
  const schedules = Array.from({ length: 40 }, (_, i) => generateSchedule(i + 1, { steps: 40 }));
  const ops = new Set(schedules.flatMap((s) => s.steps.map((x) => x.op)));
  for (const op of ['killReplica', 'switchReplica', 'churnReconnect', 'isolateReplica', 'restartServer']) assert.ok(ops.has(op as never), `no ${op} step in 40 schedules`);
  assert.ok(new Set(schedules.map((s) => s.replicas)).size === 3, 'schedules with 1, 2 and 3 replicas');
  const specs = schedules.flatMap((s) => s.clients.map(clientSpec));
  assert.ok(specs.some((c) => c.catchUp) && specs.some((c) => !c.catchUp), 'clients with and without catch-up');
  assert.ok(specs.some((c) => c.servers.length === 1) && specs.some((c) => c.servers.length === 3), 'pinned and roaming clients');
  assert.ok(schedules.some((s) => s.serverFlags?.includes('--resume-retention-ms')), 'a seed with a tiny resume retention');
});
