/**
 * Scenario 3, snapshot fan-out: a store of K WorkloadEndpoint keys (real Pod → WEP conversion),
 * N agents connect at once. Measured: time until every agent holds the snapshot and is in sync,
 * aggregate snapshot MB/s against one raw ws stream measured in the same run, snapshot
 * encodings (shared snapshots built), bytes per agent, and the server's event-loop delay while
 * it serves the storm.
 */
import os from 'node:os';
import { BenchServer, cpuSeconds } from '../benchServer.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { measureRawStream } from '../rawStream.ts';
import { atLeast, atMost, type ScenarioResult } from '../report.ts';
import { wallClockMs } from '../workload.ts';

const MB = 1024 * 1024;

export const snapshotFanout = (ctx: BenchContext): Promise<ScenarioResult> => fanout(ctx, false);

/**
 * The same with every agent offering zstd (PROTOCOL.md §7.1): the aggregate rate is reported in
 * bytes received and in model (decompressed MessagePack) bytes; the server compresses each
 * shared frame once.
 */
export const snapshotFanoutZstd = (ctx: BenchContext): Promise<ScenarioResult> => fanout(ctx, true);

async function fanout(ctx: BenchContext, compression: boolean): Promise<ScenarioResult> {
  const { keys, clients, rawBytes } = ctx.sizes.snapshot;
  ctx.log(`snapshot fan-out: raw ws stream limit over ${rawBytes / MB} MiB`);
  const raw = await measureRawStream(rawBytes, ctx.pin);
  ctx.log(`snapshot fan-out: ${keys} keys, ${clients} agents at once (raw limit ${(raw.bytesPerSec / MB).toFixed(0)} MiB/s)`);
  const server = await BenchServer.start({ datastore: 'bench', pods: keys, nodes: Math.max(1, keys / 100), namespaces: 100, cpuProfileDir: ctx.profileDir, profileName: compression ? 'snapshot-fanout-zstd' : 'snapshot-fanout', pin: ctx.pin });
  const fleet = new ClientFleet('cattail', ctx.sizes.clientProcesses, ctx.pin);
  try {
    await server.waitInSync();
    const before = await server.counters();
    await server.eventLoopDelay(true);
    const serverBefore = await server.usage();
    const agentCpu0 = await fleet.cpuSeconds();
    const t0 = wallClockMs();
    const r = await fleet.connect(clients, { url: server.url, verify: true, concurrency: clients, compression });
    const seconds = (r.lastInSyncAt - t0) / 1000;
    const serverCpu = cpuSeconds(serverBefore, await server.usage());
    const agentCpu = (await fleet.cpuSeconds()) - agentCpu0;
    const countingSeconds = ((r.countingLastInSyncAt ?? r.lastInSyncAt) - t0) / 1000;
    const eld = await server.eventLoopDelay(true);
    const after = await server.counters();
    const [model, digest] = await Promise.all([server.model(), fleet.digest()]);
    const verified = model.sha1 === digest.sha1 && digest.keys === keys;
    const encodings = after.snapshotsGenerated - before.snapshotsGenerated;
    const rate = r.snapshotBytes / seconds;
    const modelRate = r.snapshotPlainBytes / seconds;
    return {
      scenario: compression ? 'snapshot-zstd' : 'snapshot',
      title: `3. snapshot fan-out (${keys} keys, ${clients} agents${compression ? ', zstd' : ''})`,
      figures: {
        keys, clients, seconds, countingSeconds, agentProcesses: ctx.sizes.clientProcesses, pinned: ctx.pin !== undefined, aggregateMiBPerSec: rate / MB, aggregateModelMiBPerSec: modelRate / MB, rawMiBPerSec: raw.bytesPerSec / MB, encodings,
        serverCpuSeconds: serverCpu, agentCpuSeconds: agentCpu, bytesPerClient: r.snapshotBytes / clients, storeEncodedBytes: model.encodedBytes,
        eventLoopDelayP50Ms: eld.p50Ms, eventLoopDelayP99Ms: eld.p99Ms, eventLoopDelayMaxMs: eld.maxMs, verified,
      },
      targets: [
        compression
          ? atLeast('aggregate model-byte rate vs raw ws stream', modelRate / raw.bytesPerSec, 0.5, '×', '≥ 0.5×')
          : atLeast('aggregate rate vs raw ws stream', rate / raw.bytesPerSec, 0.5, '×', '≥ 0.5×'),
        atMost('snapshot encodings', encodings, 1, '', '1'),
      ],
      notes: [
        ...(compression ? [`zstd: ${(r.snapshotPlainBytes / r.snapshotBytes).toFixed(2)}:1 on the wire; ${(modelRate / MB).toFixed(0)} MiB/s of model bytes aggregate (${(modelRate / raw.bytesPerSec).toFixed(2)}× the raw stream)`] : []),
        `${clients} agents in sync after ${seconds.toFixed(2)} s: ${(rate / MB).toFixed(0)} MiB/s aggregate vs ${(raw.bytesPerSec / MB).toFixed(0)} MiB/s raw; ${(r.snapshotBytes / clients / MB).toFixed(1)} MiB per agent`,
        `CPU over the fan-out: server ${serverCpu.toFixed(1)} s, agents ${agentCpu.toFixed(1)} s, in ${seconds.toFixed(1)} s of wall clock on ${os.cpus().length} CPUs`,
        `the ${clients - 1} counting agents were in sync after ${countingSeconds.toFixed(2)} s (the verifying agent, which decodes every entry, after ${seconds.toFixed(2)} s)`,
        `server event-loop delay during the storm: p50 ${eld.p50Ms.toFixed(1)} ms, p99 ${eld.p99Ms.toFixed(1)} ms, max ${eld.maxMs.toFixed(1)} ms`,
        ...(verified ? [] : ['VERIFICATION FAILED: the verifying agent\'s snapshot differs from the server\'s']),
      ],
    };
  } finally {
    await fleet.stop();
    await server.stop();
  }
}
