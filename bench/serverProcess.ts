/**
 * Child-process entry: runs the real Cattail (composition root, real listeners on 127.0.0.1)
 * and answers the orchestrator over IPC: its own CPU time, memory, event-loop delay and
 * metrics, a digest of its model for the verifying client, and (with the bench datastore)
 * commands to emit delta bursts or a paced stream. Options arrive as JSON in argv[2].
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { parseConfig } from '../src/config/index.ts';
import { createLogger } from '../src/logger.ts';
import { type Cattail, startCattail } from '../src/main.ts';
import { Codec } from '../src/protocol/index.ts';
import { BenchDatastore } from './benchDatastore.ts';
import { benchSyncerSpec } from './benchSyncer.ts';
import { serveIpc } from './ipc.ts';
import { modelDigest } from './modelDigest.ts';
import { SendStamps } from './sendStamps.ts';

export interface ServerProcessOptions {
  readonly datastore: 'bench' | 'kubernetes';
  readonly pods?: number;
  readonly nodes?: number;
  readonly namespaces?: number;
  readonly kubeconfig?: string;
  /** Extra Cattail flags. */
  readonly flags?: readonly string[];
  /** Record the server's share of latency (sendStamps.ts), read with the `serverLatency` command. */
  readonly sendStamps?: boolean;
}

export interface ServerUsage {
  readonly cpuUserMicros: number;
  readonly cpuSystemMicros: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  readonly maxRssBytes: number;
}

export interface EventLoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export interface ModelDigest {
  readonly keys: number;
  readonly sha1: string;
  readonly encodedBytes: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as ServerProcessOptions;
  const flags = ['--sync-host', '127.0.0.1', '--sync-port', '0', '--ops-host', '127.0.0.1', '--ops-port', '0', '--syncer-types', 'felix', '--log-level', 'error',
    // Every bench client connects from 127.0.0.1, one source.
    '--max-connections-per-source', '0'];
  if (opts.datastore === 'kubernetes') flags.push('--datastore', 'kubernetes', '--kubeconfig', opts.kubeconfig ?? '');
  const parsed = parseConfig([...flags, ...(opts.flags ?? [])], {});
  if (parsed.help) throw new Error('unexpected --help');
  const datastore = opts.datastore === 'bench'
    ? new BenchDatastore({ pods: opts.pods ?? 0, nodes: opts.nodes ?? 100, namespaces: opts.namespaces ?? 50 })
    : undefined;
  const app: Cattail = await startCattail(parsed.config, {
    logger: createLogger('error'),
    registry: new Registry(),
    ...(datastore !== undefined ? { datastore, specs: { felix: benchSyncerSpec() } } : {}),
  });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  let rssPeak = 0;
  let rssTimer: NodeJS.Timeout | undefined;
  const codec = new Codec();
  const sendStamps = new SendStamps();
  if (opts.sendStamps === true) sendStamps.install();
  const cache = () => {
    const c = app.caches.get('felix');
    if (c === undefined) throw new Error('felix not served');
    return c;
  };
  const counter = async (m: { get(): Promise<{ values: { value: number }[] }> | { values: { value: number }[] } }) =>
    (await m.get()).values.reduce((s, v) => s + v.value, 0);

  serveIpc({
    address: () => ({ port: app.syncAddress.port, url: `ws://127.0.0.1:${app.syncAddress.port}/sync` }),
    inSync: () => app.syncers.get('felix')?.status === 'in-sync' && cache().current().status === 'in-sync',
    burst: (a: { count: number; keys: number }) => requireBench(datastore).burst(a.count, a.keys),
    paced: (a: { ratePerSec: number; durationMs: number; keys: number }) => requireBench(datastore).paced(a.ratePerSec, a.durationMs, a.keys),
    usage: (): ServerUsage => {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      return {
        cpuUserMicros: cpu.user, cpuSystemMicros: cpu.system, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed,
        externalBytes: mem.external, arrayBuffersBytes: mem.arrayBuffers, maxRssBytes: process.resourceUsage().maxRSS * 1024,
      };
    },
    gc: () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error('start the server process with --expose-gc');
      gc();
      gc();
    },
    eventLoopDelay: (a: { reset?: boolean }): EventLoopDelay => {
      const r = { p50Ms: eld.percentile(50) / 1e6, p99Ms: eld.percentile(99) / 1e6, maxMs: eld.max / 1e6, meanMs: eld.mean / 1e6 };
      if (a.reset === true) eld.reset();
      return r;
    },
    rssWatch: (a: { on: boolean }) => {
      clearInterval(rssTimer);
      if (!a.on) return rssPeak;
      rssPeak = process.memoryUsage.rss();
      rssTimer = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      }, 20);
      return rssPeak;
    },
    /** The server-side latency histograms (update entered the cache → frame handed to the socket; sendStamps.ts), optionally cleared. */
    serverLatency: (a: { reset?: boolean }) => {
      const copy = (h: { counts: number[]; maxMs: number }) => ({ counts: [...h.counts], maxMs: h.maxMs });
      const r = { clean: copy(sendStamps.histogram.toJSON()), backedUp: copy(sendStamps.backedUp.toJSON()) };
      if (a.reset === true) sendStamps.clear();
      return r;
    },
    counters: async () => ({
      snapshotsGenerated: await counter(app.metrics.snapshotsGenerated),
      snapshotsReused: await counter(app.metrics.snapshotsReused),
      updatesTotal: await counter(app.metrics.updatesTotal),
      connectionsActive: await counter(app.metrics.connectionsActive),
      connectionsStreaming: await counter(app.metrics.connectionsStreaming),
      snapshotRawBytes: await counter(app.metrics.snapshotRawBytes),
      graceUsed: await counter(app.metrics.graceUsed),
      breadcrumbSeq: cache().current().seq,
    }),
    model: (): ModelDigest => {
      const kvs = cache().current().kvs;
      let encodedBytes = 0;
      const entries: Array<readonly [string, unknown]> = [];
      for (const [key, kv] of kvs.entries()) {
        encodedBytes += kv.bytes.length;
        entries.push([key, codec.decodeAny(kv.bytes.subarray(kv.valueStart, kv.valueEnd))]);
      }
      return { ...modelDigest(entries), encodedBytes };
    },
    exit: async () => {
      clearInterval(rssTimer);
      await app.close();
    },
  });
}

function requireBench(ds: BenchDatastore | undefined): BenchDatastore {
  if (ds === undefined) throw new Error('this server runs the kubernetes datastore; it cannot emit bench deltas');
  return ds;
}

if (import.meta.main) await main();
