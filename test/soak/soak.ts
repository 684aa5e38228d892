/**
 * Soak: `npm run soak -- [--mode churn|steady] [--minutes 60] [--clients 50] [--rate 20]
 * [--sample-seconds 30] [--max-rss-growth-mib 32] [--max-heap-growth-mib 32] [--max-external-growth-mib 8]`.
 *
 * One process runs the Kubernetes API emulator, a real Cattail on the Kubernetes datastore and
 * `--clients` SyncClients (felix, with a few bgp), and applies paced churn for the duration:
 * `--rate` pod/policy/namespace writes per second over a fixed pool of names (so the data size
 * is stable and any growth is a leak), watch drops every minute and history compaction every
 * 30 s. In `churn` mode a client's connection is also cut every 2 s and a client restarted every
 * 30 s; in `steady` mode no client is ever cut or restarted (the normal fleet: agents connected
 * for days), which is where history pinned by anything but a live session's needs shows up.
 * Every sample prints RSS, heap used, external memory, event-loop delay (p99 and max since the
 * last sample), active handles, sessions and the snapshot cache size. At the end the churn stops,
 * and every client must hold exactly the model computed from the emulator's objects; exit code 1
 * if not, if a steady client reconnected, or if RSS, heap or external memory trends upward: for
 * each, the lowest sample of the last quarter of the run minus the lowest of the second quarter
 * (the first quarter is warm-up; lows, because heap and external memory are a GC sawtooth) must
 * stay within its `--max-*-growth-mib`. External memory holds the encoded store, the shared
 * snapshot and the deltas still wanted by some session, so it must stay flat within a few MiB;
 * heap and RSS swing with the GC and the allocator, hence their wider bounds. The name pools are filled before the server starts, so the data
 * size is stable and growth means a leak.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { syncerSpecs, validateOutput } from '../../src/calico/index.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { SyncClient, type SyncerType } from '../../clients/typescript/src/index.ts';
import { startCattail } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import { diffModels, expectedModel } from '../support/expectedModel.ts';
import { loadTemplates, kindOf, vary } from '../torture/objects.ts';
import { Prng } from '../torture/prng.ts';
import { TortureProxy } from '../torture/proxy.ts';
import { RecordingHost } from '../torture/recorder.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'churn' },
    minutes: { type: 'string', default: '60' }, clients: { type: 'string', default: '50' }, rate: { type: 'string', default: '20' },
    'sample-seconds': { type: 'string', default: '30' }, seed: { type: 'string', default: '1' }, 'max-rss-growth-mib': { type: 'string', default: '32' }, 'max-heap-growth-mib': { type: 'string', default: '32' },
    'max-external-growth-mib': { type: 'string', default: '8' },
  },
});
if (values.mode !== 'churn' && values.mode !== 'steady') throw new Error(`--mode must be churn or steady, not ${values.mode}`);
const steady = values.mode === 'steady';
const minutes = Number(values.minutes);
const nClients = Number(values.clients);
const rate = Number(values.rate);
const sampleMs = Number(values['sample-seconds']) * 1000;
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

const rng = new Prng(Number(values.seed));
// Churn only over kinds whose keys a fixed name pool bounds.
const CHURN = ['pods', 'namespaces', 'serviceaccounts', 'networkpolicies.crd.projectcalico.org', 'globalnetworksets.crd.projectcalico.org', 'networkpolicies.networking.k8s.io'];
function churnOnce(): void {
  const template = rng.pick(templates.get(rng.pick(CHURN))!);
  const obj = vary(rng, kindOf(template), template);
  if (rng.chance(0.2)) api.delete(obj);
  else api.apply(obj);
}
const api = new K8sEmulator();
await api.start();
const templates = loadTemplates();
for (const list of templates.values()) for (const t of list) api.apply(t);

// Warm-up: fill the churn kinds' name pools first, so the data size is (nearly) stable for the
// whole run and heap growth between samples means a leak, not more data.
for (let i = 0; i < 20_000; i++) churnOnce();
api.compact();

const h = await startCattail({
  datastore: new KubernetesDatastore({ kubeConfig: api.kubeConfig(), logger: silentLogger(), backoffInitialMs: 50, backoffMaxMs: 1000 }),
  flags: ['--syncer-types', 'felix,bgp', '--ping-interval-ms', '2000', '--pong-timeout-ms', '10000'],
});

interface Agent { readonly type: SyncerType; readonly proxy: TortureProxy; host: RecordingHost; client: SyncClient }
const agents: Agent[] = [];
const startClient = (a: Omit<Agent, 'host' | 'client'> & Partial<Agent>, i: number): void => {
  const host = new RecordingHost(`soak client ${i}`);
  a.proxy.onServerMessage = (m) => host.onWire(m);
  const client = new SyncClient({
    servers: [a.proxy.url], syncerType: a.type, hostname: `soak-${i}`, handler: host,
    backoff: { initialDelayMs: 50, maxDelayMs: 1000 },
  });
  client.on('error', () => {});
  client.start();
  a.host = host;
  a.client = client;
};
for (let i = 0; i < nClients; i++) {
  const proxy = new TortureProxy(h.app.syncAddress.port);
  await proxy.start();
  const a = { type: i % 10 === 9 ? 'bgp' : 'felix', proxy } as Agent;
  startClient(a, i);
  agents.push(a);
}

let writes = 0;
const churn = setInterval(() => { churnOnce(); writes++; }, 1000 / rate);
let reconnects = 0;
let restarts = 0;
const cutter = steady ? undefined : setInterval(() => { rng.pick(agents).proxy.cut(); reconnects++; }, 2000);
const restarter = steady ? undefined : setInterval(() => {
  const i = rng.int(0, agents.length - 1);
  const a = agents[i]!;
  void a.client.close().then(() => startClient(a, i));
  restarts++;
}, 30_000);
const compactor = setInterval(() => api.compact(), 30_000);
const dropper = setInterval(() => api.dropWatches(), 60_000);

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const started = Date.now();
const samples: { t: number; rss: number; heap: number; external: number; p99: number; max: number; handles: number }[] = [];
out(`soak mode ${values.mode}: ${nClients} clients, ${rate} writes/s for ${minutes} min`);
out('   min   rss MiB  heap MiB  ext MiB  loop p99 ms  loop max ms  handles  sessions  cache keys  writes  reconnects');
const sample = () => {
  const m = process.memoryUsage();
  const s = {
    t: (Date.now() - started) / 60_000, rss: m.rss / MiB, heap: m.heapUsed / MiB, external: m.external / MiB,
    p99: loop.percentile(99) / 1e6, max: loop.max / 1e6, handles: process.getActiveResourcesInfo().length,
  };
  loop.reset();
  samples.push(s);
  const keys = h.app.caches.get('felix')!.current().kvs.size;
  out(`${s.t.toFixed(1).padStart(6)}  ${s.rss.toFixed(0).padStart(8)}  ${s.heap.toFixed(0).padStart(8)}  ${s.external.toFixed(0).padStart(7)}  ${s.p99.toFixed(1).padStart(11)}  ${s.max.toFixed(1).padStart(11)}  ${String(s.handles).padStart(7)}  ${String(h.app.server.sessionCount()).padStart(8)}  ${String(keys).padStart(10)}  ${String(writes).padStart(6)}  ${String(reconnects + restarts).padStart(10)}`);
};
await sleep(Math.min(sampleMs, 5000));
sample();
while (Date.now() - started < minutes * 60_000) {
  await sleep(Math.min(sampleMs, minutes * 60_000 - (Date.now() - started)));
  sample();
}

for (const t of [churn, cutter, restarter, compactor, dropper]) if (t !== undefined) clearInterval(t);
const accepted = (await h.app.metrics.connectionsAccepted.get()).values.reduce((sum, v) => sum + v.value, 0);
const specs = syncerSpecs() as Record<string, SyncerTypeSpec>;
// The expected model, less the values Typha's output filter nulls (the server publishes those as
// deletions; docs/DATA-MODEL.md).
const filtered = (model: Map<string, unknown>) => new Map([...model].filter(([key, value]) => validateOutput(key, value as never) === undefined));
const expected = new Map(['felix', 'bgp'].map((t) => [t, filtered(expectedModel(specs[t]!, (k) => api.objects(k)))]));
const deadline = Date.now() + 60_000;
let pending = agents;
while (Date.now() < deadline) {
  pending = agents.filter((a) => a.host.status !== 'in-sync' || diffModels(a.host.held, expected.get(a.type)!).length > 0);
  if (pending.length === 0) break;
  await sleep(200);
}
const violations = agents.flatMap((a) => a.host.violations);
const first = samples[0]!;
const last = samples[samples.length - 1]!;
type Series = 'rss' | 'heap' | 'external';
const quarter = (q: number) => samples.slice(Math.floor((samples.length * q) / 4), Math.max(Math.floor((samples.length * (q + 1)) / 4), Math.floor((samples.length * q) / 4) + 1));
const low = (xs: typeof samples, k: Series) => Math.min(...xs.map((s) => s[k]));
const tolerance: Record<Series, number> = {
  rss: Number(values['max-rss-growth-mib']), heap: Number(values['max-heap-growth-mib']), external: Number(values['max-external-growth-mib']),
};
const trend = (k: Series) => low(quarter(3), k) - low(quarter(1), k);
out(`soak (${values.mode}): ${minutes} min, ${nClients} clients, ${writes} writes (${rate}/s), ${reconnects} connection cuts, ${restarts} client restarts, ${accepted} connections accepted`);
for (const [k, name] of [['rss', 'RSS'], ['heap', 'heap used'], ['external', 'external']] as const) {
  out(`  ${name}: ${first[k].toFixed(0)} → ${last[k].toFixed(0)} MiB (max ${Math.max(...samples.map((s) => s[k])).toFixed(0)}); lows by quarter ${[0, 1, 2, 3].map((q) => low(quarter(q), k).toFixed(0)).join(' / ')} MiB; ` +
    `late-run trend (last-quarter low minus second-quarter low) ${trend(k) >= 0 ? '+' : ''}${trend(k).toFixed(1)} MiB (tolerance ${tolerance[k]})`);
}
out(`  loop delay p99 max ${Math.max(...samples.map((s) => s.p99)).toFixed(1)} ms, loop delay max ${Math.max(...samples.map((s) => s.max)).toFixed(1)} ms, handles ${first.handles} → ${last.handles}`);
out(`  converged: ${agents.length - pending.length}/${agents.length} clients hold exactly the model; contract violations: ${violations.length}`);
for (const v of violations.slice(0, 10)) out(`  ${v}`);
for (const a of pending.slice(0, 3)) out(`  not converged (${a.type}, status ${a.host.status}): ${diffModels(a.host.held, expected.get(a.type)!, 3).join('; ')}`);
const flat = (['rss', 'heap', 'external'] as const).every((k) => trend(k) <= tolerance[k]);
// Steady: every client kept the one connection it opened.
const kept = !steady || accepted === nClients;
if (!kept) out(`  steady clients reconnected: ${accepted} connections accepted for ${nClients} clients`);
const ok = pending.length === 0 && violations.length === 0 && flat && kept;
await Promise.all(agents.map((a) => a.client.close()));
await Promise.all(agents.map((a) => a.proxy.close()));
await h.close();
await api.stop();
loop.disable();
out(ok ? 'soak passed' : 'soak FAILED');
process.exit(ok ? 0 : 1);
