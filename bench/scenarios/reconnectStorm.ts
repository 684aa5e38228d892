/**
 * Scenario 4, reconnect storm: N agents hold a K-key snapshot; every connection is cut at once
 * (TCP terminated, no close handshake) and every agent reconnects immediately. Measured:
 * snapshot encodings during the storm, time until all are in sync again, server peak RSS.
 */
import { BenchServer } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { atMost, type ScenarioResult } from '../report.ts';
import { wallClockMs } from '../workload.ts';

const MB = 1024 * 1024;

export async function reconnectStorm(ctx: BenchContext): Promise<ScenarioResult> {
  const { keys, clients } = ctx.sizes.storm;
  ctx.log(`reconnect storm: ${keys} keys, ${clients} agents connect, are cut and reconnect`);
  const server = await BenchServer.start({ datastore: 'bench', pods: keys, nodes: Math.max(1, keys / 100), namespaces: 100, pin: ctx.pin });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses, ctx.pin);
  try {
    await server.waitInSync();
    await fleet.connect(clients, { url: server.url, verify: true, concurrency: 64 });
    const before = await server.counters();
    const rssBefore = (await server.usage()).rssBytes;
    await server.rssWatch(true);
    await server.eventLoopDelay(true);
    const t0 = wallClockMs();
    const r = await fleet.reconnect();
    const seconds = (r.lastInSyncAt - t0) / 1000;
    const peakRss = await server.rssWatch(false);
    const eld = await server.eventLoopDelay(true);
    const after = await server.counters();
    const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
    const verified = model.sha1 === digest.sha1 && digest.keys === keys;
    // Encodings since the server started: the first connection wave plus the storm.
    const encodings = after.snapshotsGenerated;
    const stormEncodings = after.snapshotsGenerated - before.snapshotsGenerated;
    return {
      scenario: 'storm',
      title: `4. reconnect storm (${keys} keys, ${clients} agents)`,
      figures: {
        keys, clients, seconds, encodings, stormEncodings, rssBeforeMiB: rssBefore / MB, peakRssMiB: peakRss / MB,
        aggregateMiBPerSec: r.snapshotBytes / seconds / MB, eventLoopDelayP99Ms: eld.p99Ms, eventLoopDelayMaxMs: eld.maxMs, verified,
      },
      targets: [atMost('snapshot encodings (first wave + storm)', encodings, 2, '', '≤ 2')],
      notes: [
        `all ${clients} agents back in sync after ${seconds.toFixed(2)} s; server RSS ${(rssBefore / MB).toFixed(0)} MiB before, peak ${(peakRss / MB).toFixed(0)} MiB`,
        `server event-loop delay during the storm: p99 ${eld.p99Ms.toFixed(1)} ms, max ${eld.maxMs.toFixed(1)} ms`,
        ...(verified ? [] : ['VERIFICATION FAILED: the verifying agent\'s state differs from the server\'s']),
      ],
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}
