/**
 * Scenario 5, idle cost: (a) server memory per idle connection — N agents connected to a small
 * store and then quiet, server memory after a full GC before and after they connect; (b) store
 * memory at K WorkloadEndpoint keys, in an isolated process, against the encoded data size.
 *
 * The target figure is over the first N connections, so it also carries the one-time growth
 * they cause (code compiled for the connection path, the young generation growing to its cap,
 * allocator pages kept after the connect burst). A second N connections, measured the same way,
 * give the marginal retained cost of one more connection, reported as a note beside it.
 */
import path from 'node:path';
import { BenchServer } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { ChildHandle } from '../ipc.ts';
import { atMost, type ScenarioResult } from '../report.ts';
import type { StoreMemory } from '../storeMemoryProcess.ts';

const KIB = 1024;
/** Idle agents are given time for pings, timers and lazily allocated buffers to settle. */
const SETTLE_MS = 2000;

export async function idleCost(ctx: BenchContext): Promise<ScenarioResult> {
  const { connections, storeKeys } = ctx.sizes.idle;
  ctx.log(`idle cost: ${connections} idle connections; store memory at ${storeKeys} keys`);
  const server = await BenchServer.start({ datastore: 'bench', pods: 100 });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses);
  let perConn: { retained: number; rss: number };
  let marginalRetained: number;
  try {
    await server.waitInSync();
    // One connection first, so per-process one-time costs (the shared snapshot, lazily loaded code) are not counted per connection.
    await fleet.connect(1, { url: server.url });
    await server.gc();
    const before = await server.usage();
    await fleet.connect(connections, { url: server.url });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await server.gc();
    const after = await server.usage();
    perConn = {
      retained: (after.heapUsedBytes + after.externalBytes - before.heapUsedBytes - before.externalBytes) / connections,
      rss: (after.rssBytes - before.rssBytes) / connections,
    };
    await fleet.connect(connections, { url: server.url });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await server.gc();
    const second = await server.usage();
    marginalRetained = (second.heapUsedBytes + second.externalBytes - after.heapUsedBytes - after.externalBytes) / connections;
  } finally {
    await fleet.stop();
    await server.stop();
  }
  const storeProc = new ChildHandle(path.join(import.meta.dirname, '..', 'storeMemoryProcess.ts'), [], { execArgv: ['--expose-gc'] });
  let store: StoreMemory;
  try {
    store = await storeProc.request<StoreMemory>('measure', { keys: storeKeys });
  } finally {
    await storeProc.stop();
  }
  const storeRatio = store.heldBytes / store.encodedBytes;
  return {
    scenario: 'idle',
    title: `5. idle cost (${connections} connections, ${store.keys} keys)`,
    figures: {
      connections, retainedBytesPerConnection: perConn.retained, rssBytesPerConnection: perConn.rss, marginalRetainedBytesPerConnection: marginalRetained,
      storeKeys: store.keys, storeHeldBytes: store.heldBytes, storeEncodedBytes: store.encodedBytes, storeRatio,
    },
    targets: [
      atMost('server memory per idle connection (heap + external)', perConn.retained / KIB, 16, 'KiB', '≤ 16 KiB'),
      atMost('server RSS per idle connection', perConn.rss / KIB, 16, 'KiB', '≤ 16 KiB'),
      atMost('store memory / encoded data', storeRatio, 2, '×', '≤ 2×'),
    ],
    notes: [
      `per idle connection: ${(perConn.retained / KIB).toFixed(1)} KiB retained (heap + external after GC), ${(perConn.rss / KIB).toFixed(1)} KiB RSS`,
      `marginal: a second ${connections} idle connections retain ${(marginalRetained / KIB).toFixed(1)} KiB each (without the one-time growth of the first ${connections})`,
      `store: ${(store.heldBytes / 1024 ** 2).toFixed(1)} MiB held for ${store.keys} keys whose encoded size is ${(store.encodedBytes / 1024 ** 2).toFixed(1)} MiB`,
    ],
  };
}
