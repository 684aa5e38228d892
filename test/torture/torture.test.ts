/**
 * The short convergence torture run inside `npm test`: a few fixed seeds, each a schedule of
 * datastore churn, API faults, client disconnects, pauses, a lowered connection limit, server
 * restarts and replica kills, over real server replicas and real clients with and without
 * catch-up; and one hand-written schedule that must take every catch-up path. The long run is
 * `npm run torture -- --seeds N --minutes M`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSchedule } from './executor.ts';
import { clientSpec, type ClientSpec, generateSchedule, type Schedule, type Step } from './schedule.ts';

/**
 * 303: three replicas, a tiny resume retention, roaming clients cut during bursts; 6: replica
 * kill and isolation with digests off; 8: two replicas, three kills and a restart.
 */
const SEEDS = [303, 6, 8];

for (const seed of SEEDS) {
  test(`seed ${seed}: every client converges to the model computed from the emulator's objects, with no contract violation`, async () => {
    const schedule = generateSchedule(seed, { steps: 40 });
    const r = await runSchedule(schedule);
    assert.ok(r.ok, `seed ${seed} failed (replay: npm run torture -- --seed ${seed}):\n${r.failures.join('\n')}`);
  });
}

test('a killed replica\'s clients catch up by digests on the others, a partitioned client pinned to its replica resumes, one offering nothing takes full snapshots, one on a replica that lost its datastore leaves it, and every map ends exact', async () => {
  const bursts = generateSchedule(11, { steps: 300 }).steps.filter((s) => s.op === 'burst');
  const burst = (i: number): Step => bursts[i % bursts.length]!;
  const roaming = (syncerType: string, catchUp = true): ClientSpec => ({ syncerType, catchUp, servers: [0, 1, 2] });
  const schedule: Schedule = {
    seed: 0, gapMs: 30, replicas: 3,
    clients: [roaming('felix'), roaming('bgp'), { syncerType: 'felix', catchUp: true, servers: [1] }, roaming('felix', false), { syncerType: 'tunnel-ip-allocation', catchUp: true, servers: [2, 0, 1] }],
    steps: [
      // Client 4 is on replica 2 (its first): replica 2 goes stale, client 4 probes another and moves (digests).
      { op: 'wait', ms: 1000 }, { op: 'isolateReplica', replica: 2, ms: 6000 }, burst(0),
      // Clients 0, 1 and 3 are on replica 0 (the first they list): 0 and 1 move by digests, 3 takes a snapshot.
      { op: 'killReplica', replica: 0, downMs: 300 }, burst(1), { op: 'wait', ms: 1500 },
      // Client 2 has only replica 1: it comes back to it and resumes the deltas it missed.
      { op: 'partition', client: 2, ms: 500 }, burst(2), { op: 'wait', ms: 3500 },
      { op: 'churnReconnect', steps: bursts[3]!.op === 'burst' ? bursts[3]!.steps : [] }, { op: 'wait', ms: 500 },
    ],
  };
  const r = await runSchedule(schedule);
  assert.ok(r.ok, `failed:\n${r.failures.join('\n')}`);
  const c = r.stats.catchUp;
  assert.ok(c.digests + c.digestsFull >= 2, `digest catch-ups: ${JSON.stringify(c)}`);
  assert.ok(c.resumes >= 1, `resumes: ${JSON.stringify(c)}`);
  assert.ok(c.plain >= 2, `full snapshots to the client offering nothing: ${JSON.stringify(c)}`);
  assert.ok(c.probes >= 1 && r.stats.leftStale >= 1, `probes ${c.probes}, moves off a stale replica ${r.stats.leftStale}`);
});

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
  const schedules = Array.from({ length: 25 }, (_, i) => generateSchedule(i + 1, { steps: 40 }));
  const ops = new Set(schedules.flatMap((s) => s.steps.map((x) => x.op)));
  for (const op of ['killReplica', 'switchReplica', 'churnReconnect', 'isolateReplica', 'restartServer']) assert.ok(ops.has(op as never), `no ${op} step in 25 schedules`);
  assert.ok(new Set(schedules.map((s) => s.replicas)).size === 3, 'schedules with 1, 2 and 3 replicas');
  const specs = schedules.flatMap((s) => s.clients.map(clientSpec));
  assert.ok(specs.some((c) => c.catchUp) && specs.some((c) => !c.catchUp), 'clients with and without catch-up');
  assert.ok(specs.some((c) => c.servers.length === 1) && specs.some((c) => c.servers.length === 3), 'pinned and roaming clients');
  assert.ok(schedules.some((s) => s.serverFlags?.includes('--resume-retention-ms')), 'a seed with a tiny resume retention');
});
