/**
 * Heavy-churn retention check: `node test/soak/heavyChurn.ts [--seconds 60] [--mib-per-second 2.7]
 * [--clients 1] [--no-ack 0]`.
 *
 * The reproduction of "unbounded memory in a steady fleet": the real server on an in-process
 * datastore, `--clients` protocol clients that stay connected for the whole run (plus `--no-ack`
 * that take their snapshot and never acknowledge it), and churn of about `--mib-per-second` of
 * encoded values over a fixed pool of 200 names, so the store size is constant and any growth is
 * retained history. Prints RSS, heap used and external memory (after a forced GC) every 10 s and
 * at start and end. Exit code 1 if external memory grew by more than `--max-growth-mib` (64).
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' }, 'mib-per-second': { type: 'string', default: '2.7' },
    clients: { type: 'string', default: '1' }, 'no-ack': { type: 'string', default: '0' }, 'max-growth-mib': { type: 'string', default: '64' },
  },
});
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const blobSpec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_kind, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};
const POOL = 200;
const VALUE_BYTES = 8 * 1024;
const TICK_MS = 20;
const perTick = Math.max(1, Math.round((Number(values['mib-per-second']) * MiB * TICK_MS) / 1000 / VALUE_BYTES));
const ds = new MemoryDatastore();
const write = (i: number) => ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `b-${i % POOL}` }, spec: { blob: `${i}:`.padEnd(VALUE_BYTES, 'x') } });
for (let i = 0; i < POOL; i++) write(i);
const h = await startCattail({ datastore: ds, specs: { felix: blobSpec }, flags: ['--syncer-types', 'felix'] });
await eventually(() => h.app.readiness().ready, 'ready');
const clients: TestClient[] = [];
for (let i = 0; i < Number(values.clients); i++) clients.push(await TestClient.connect(h.syncUrl, { hostname: `steady-${i}` }));
for (let i = 0; i < Number(values['no-ack']); i++) clients.push(await TestClient.connect(h.syncUrl, { hostname: `no-ack-${i}`, noAck: true }));
await eventually(() => clients.every((c) => c.snapshotDone), 'snapshots', 60_000);

const measure = () => {
  // The test client records every message; drop them so only the server's retention is measured.
  for (const c of clients) c.messages.length = 0;
  gc();
  const m = process.memoryUsage();
  // `external` already includes `arrayBuffers` (the encoded deltas and frames live there).
  return { rss: m.rss / MiB, heap: m.heapUsed / MiB, external: m.external / MiB };
};
const fmt = (m: ReturnType<typeof measure>) => `rss ${m.rss.toFixed(0)} MiB, heap ${m.heap.toFixed(0)} MiB, external ${m.external.toFixed(0)} MiB`;
const start = measure();
out(`start: ${fmt(start)}; churn ${perTick} × ${VALUE_BYTES / 1024} KiB every ${TICK_MS} ms`);
let n = POOL;
const churn = setInterval(() => { for (let k = 0; k < perTick; k++) write(n++); }, TICK_MS);
const began = Date.now();
const seconds = Number(values.seconds);
while (Date.now() - began < seconds * 1000) {
  await sleep(Math.min(10_000, seconds * 1000 - (Date.now() - began)));
  out(`${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s: ${fmt(measure())}, sessions ${h.app.server.sessionCount()}`);
}
clearInterval(churn);
const end = measure();
const mib = ((n - POOL) * VALUE_BYTES) / MiB;
out(`end: ${fmt(end)}; ${n - POOL} writes (${mib.toFixed(0)} MiB, ${(mib / seconds).toFixed(1)} MiB/s), sessions ${h.app.server.sessionCount()}, closes ${clients.filter((c) => c.closed !== undefined).map((c) => c.closed!.code).join(',') || 'none'}`);
const growth = end.external - start.external;
out(`external growth ${growth.toFixed(0)} MiB, rss growth ${(end.rss - start.rss).toFixed(0)} MiB, heap growth ${(end.heap - start.heap).toFixed(0)} MiB`);
for (const c of clients) c.ws.terminate();
await h.close();
process.exit(growth > Number(values['max-growth-mib']) ? 1 : 0);
