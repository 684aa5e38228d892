/**
 * Scenario 2, paced latency: the datastore changes R keys per second for D seconds with N
 * agents connected; every KV's latency is receipt time minus the stamp the datastore put in it
 * when it made the change.
 *
 * The server's share is measured inside the server process (sendStamps.ts): for each session,
 * update entered the cache → frame handed to the socket. What is left of an agent's figure is
 * the kernel, the loopback and the agent process waiting for a CPU, which `--pin` and
 * `--agent-processes` move. With `--profile` the server runs under the V8 profiler; with
 * `--strace` its syscalls are counted over the paced stream (that run's latencies are not
 * comparable with an untraced one).
 */
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { atMost, type ScenarioResult } from '../report.ts';
import { wallClockMs } from '../workload.ts';

export async function pacedLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const { clients, ratePerSec, durationMs } = ctx.sizes.paced;
  ctx.log(`paced latency: ${ratePerSec} updates/s for ${durationMs / 1000} s to ${clients} agents`);
  const server = await BenchServer.start({ datastore: 'bench', pods: 0, sendStamps: true, pin: ctx.pin, cpuProfileDir: ctx.profileDir, profileName: 'paced-latency' });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses, ctx.pin);
  try {
    await server.waitInSync();
    await fleet.connect(clients, { url: server.url, verify: true, latency: true });
    await fleet.reset();
    await server.serverLatency(true);
    const seqBefore = (await server.counters()).breadcrumbSeq;
    const stopTrace = ctx.strace ? await server.traceSyscalls() : undefined;
    const before = await server.usage();
    const agentCpu0 = await fleet.cpuSeconds();
    const t0 = wallClockMs();
    const { emitted } = await server.paced(ratePerSec, durationMs, 5_000);
    const done = await fleet.awaitUpdates(emitted, 60_000);
    const after = await server.usage();
    const agentCpu = (await fleet.cpuSeconds()) - agentCpu0;
    // From the first change to the last delivery: longer than the paced window when anyone lagged.
    const wallSeconds = ((done.complete ? done.doneAt : wallClockMs()) - t0) / 1000;
    const serverCpu = cpuSeconds(before, after);
    const syscalls = await stopTrace?.();
    const breadcrumbs = (await server.counters()).breadcrumbSeq - seqBefore;
    const [h, { clean: s, backedUp }] = await Promise.all([fleet.latency(), server.serverLatency()]);
    const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
    const verified = model.sha1 === digest.sha1;
    const p50 = h.quantile(0.5);
    const p99 = h.quantile(0.99);
    const figures: Record<string, number | string | boolean> = {
      clients, ratePerSec, durationMs, emitted, samples: h.count, p50Ms: p50, p90Ms: h.quantile(0.9), p99Ms: p99, p999Ms: h.quantile(0.999), maxMs: h.maxMs,
      serverSamples: s.count, serverBackedUpSamples: backedUp.count, serverBackedUpP99Ms: backedUp.quantile(0.99), serverP50Ms: s.quantile(0.5), serverP90Ms: s.quantile(0.9), serverP99Ms: s.quantile(0.99), serverP999Ms: s.quantile(0.999), serverMaxMs: s.maxMs,
      wallSeconds, serverCpuPercent: (100 * serverCpu) / wallSeconds, agentCpuPercent: (100 * agentCpu) / wallSeconds, breadcrumbs,
      serverCpuMicrosPerSend: (serverCpu * 1e6) / (clients * breadcrumbs),
      serverCpuMicrosPerDelivery: (serverCpu * 1e6) / h.count, agentCpuMicrosPerDelivery: (agentCpu * 1e6) / h.count, kvsPerBreadcrumb: emitted / breadcrumbs,
      agentProcesses: ctx.sizes.clientProcesses, pinned: ctx.pin !== undefined, complete: done.complete, verified,
    };
    const notes = [
      `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${h.maxMs.toFixed(1)} ms over ${h.count} deliveries`,
      `server's share (update entered the cache → frame handed to a socket with nothing queued): p50 ${s.quantile(0.5).toFixed(2)} ms, p99 ${s.quantile(0.99).toFixed(2)} ms, max ${s.maxMs.toFixed(1)} ms over ${s.count} sampled sends; ${backedUp.count} more sampled sends found their socket backed up by a lagging agent (p99 ${backedUp.quantile(0.99).toFixed(1)} ms)`,
      `${breadcrumbs} breadcrumbs (${(emitted / breadcrumbs).toFixed(2)} KVs each); over ${wallSeconds.toFixed(1)} s from first change to last delivery the server used ${serverCpu.toFixed(1)} CPU s (${(figures.serverCpuMicrosPerSend as number).toFixed(1)} µs per session per breadcrumb, ${(figures.serverCpuMicrosPerDelivery as number).toFixed(2)} µs per delivery) and the agents ${agentCpu.toFixed(1)} CPU s (${(figures.agentCpuMicrosPerDelivery as number).toFixed(2)} µs per delivery)`,
      ...(verified ? [] : ['VERIFICATION FAILED: the verifying agent\'s final state differs from the server\'s']),
    ];
    if (syscalls !== undefined) {
      const writev = syscalls.calls.writev ?? 0;
      figures.syscalls = syscalls.total;
      figures.syscallsPerDelivery = syscalls.total / h.count;
      figures.writevPerSessionPerBreadcrumb = writev / (clients * breadcrumbs);
      notes.push(`--strace (latencies of this run are inflated by tracing): ${writev} writev for ${clients} sessions × ${breadcrumbs} breadcrumbs (${(writev / (clients * breadcrumbs)).toFixed(3)} per session per breadcrumb), ${syscalls.total} syscalls, ${(syscalls.total / h.count).toFixed(3)} per delivery`);
    }
    return {
      scenario: 'latency',
      title: `2. paced latency (${ratePerSec}/s × ${durationMs / 1000} s, ${clients} agents)`,
      figures,
      targets: [atMost('p99 change → receipt', p99, 20, 'ms', '≤ 20 ms')],
      notes,
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}
