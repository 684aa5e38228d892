/**
 * Scenario 2, paced latency: the datastore changes R keys per second for D seconds with N
 * agents connected; every KV's latency is receipt time minus the stamp the datastore put in it
 * when it made the change.
 */
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { atMost, type ScenarioResult } from '../report.ts';

export async function pacedLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const { clients, ratePerSec, durationMs } = ctx.sizes.paced;
  ctx.log(`paced latency: ${ratePerSec} updates/s for ${durationMs / 1000} s to ${clients} agents`);
  const server = await BenchServer.start({ datastore: 'bench', pods: 0 });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses);
  try {
    await server.waitInSync();
    await fleet.connect(clients, { url: server.url, verify: true, latency: true });
    await fleet.reset();
    const before = await server.usage();
    const { emitted } = await server.paced(ratePerSec, durationMs, 5_000);
    const done = await fleet.awaitUpdates(emitted, 60_000);
    const after = await server.usage();
    const h = await fleet.latency();
    const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
    const verified = model.sha1 === digest.sha1;
    const p50 = h.quantile(0.5);
    const p99 = h.quantile(0.99);
    return {
      scenario: 'latency',
      title: `2. paced latency (${ratePerSec}/s × ${durationMs / 1000} s, ${clients} agents)`,
      figures: {
        clients, ratePerSec, durationMs, emitted, samples: h.count, p50Ms: p50, p90Ms: h.quantile(0.9), p99Ms: p99, p999Ms: h.quantile(0.999), maxMs: h.maxMs,
        serverCpuPercent: (100 * cpuSeconds(before, after)) / (durationMs / 1000), complete: done.complete, verified,
      },
      targets: [atMost('p99 change → receipt', p99, 20, 'ms', '≤ 20 ms')],
      notes: [`p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${h.maxMs.toFixed(1)} ms over ${h.count} deliveries`,
        ...(verified ? [] : ['VERIFICATION FAILED: the verifying agent\'s final state differs from the server\'s'])],
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}
