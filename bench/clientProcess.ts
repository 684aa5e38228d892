/**
 * Child-process entry: a share of the bench's agents, all of one kind — Cattail protocol
 * connections, Redis subscribers or etcd watchers — driven over IPC. The orchestrator asks it
 * to connect, to report when every connection has received a number of updates, to cut and
 * reconnect (Cattail), and for latency histograms and the verifying connection's digest.
 * Options arrive as JSON in argv[2].
 */
import { CattailConnection } from './cattailConnection.ts';
import { DirectAgent } from './directAgent.ts';
import { serveIpc } from './ipc.ts';
import { LatencyHistogram } from './latencyHistogram.ts';
import { EtcdWatcher } from './peers/etcdWatcher.ts';
import { RedisSubscriber } from './peers/redisSubscriber.ts';
import { wallClockMs } from './workload.ts';

export interface ClientProcessOptions {
  readonly kind: 'cattail' | 'redis' | 'etcd' | 'kube';
  /** This process's index in the fleet; connection hostnames derive from it. */
  readonly index: number;
}

export interface ConnectArgs {
  readonly count: number;
  /** Cattail: sync URL; Redis / etcd: port. */
  readonly url?: string;
  readonly port?: number;
  /** Direct Kubernetes agents: the kubeconfig to use. */
  readonly kubeconfig?: string;
  /** Redis channel or etcd key prefix. */
  readonly topic?: string;
  /** The first connection of this process decodes everything and keeps the model. */
  readonly verify?: boolean;
  readonly latency?: boolean;
  /** Connections opened concurrently (Cattail). */
  readonly concurrency?: number;
  /** Cattail: offer zstd compression. */
  readonly compression?: boolean;
}

export interface ConnectResult {
  readonly lastInSyncAt: number;
  /** The last in-sync time among connections that only count (the verifying one decodes everything and may finish last). */
  readonly countingLastInSyncAt?: number;
  readonly snapshotBytes: number;
  /** The snapshot bytes decompressed: the same as snapshotBytes without compression. */
  readonly snapshotPlainBytes: number;
  readonly snapshotKVs: number;
}

interface Counted {
  readonly count: () => number;
  /** Bytes read from the socket so far (0 where the agent does not count them). */
  readonly bytes: () => number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as ClientProcessOptions;
  const conns: CattailConnection[] = [];
  const peers: Array<RedisSubscriber | EtcdWatcher | DirectAgent> = [];
  const counted: Counted[] = [];
  const baseline = new Map<Counted, number>();
  const bytesBaseline = new Map<Counted, number>();
  const histogram = new LatencyHistogram();
  let target = Infinity;
  let pending = new Set<Counted>();
  let onAllDone: ((at: number) => void) | undefined;
  let syncWaiters = 0;
  let onAllSynced: (() => void) | undefined;

  const progress = (c: Counted) => {
    if (!pending.has(c) || c.count() - (baseline.get(c) ?? 0) < target) return;
    pending.delete(c);
    if (pending.size === 0) onAllDone?.(wallClockMs());
  };
  const synced = () => {
    if (--syncWaiters === 0) onAllSynced?.();
  };
  const syncBarrier = (n: number) => {
    syncWaiters = n;
    return new Promise<void>((resolve) => {
      onAllSynced = resolve;
    });
  };

  const countedOf = new Map<CattailConnection, Counted>();
  let verifier: CattailConnection | undefined;
  const openCattail = async (a: ConnectArgs): Promise<ConnectResult> => {
    if (a.count === 0) return { lastInSyncAt: 0, snapshotBytes: 0, snapshotPlainBytes: 0, snapshotKVs: 0 };
    const allSynced = syncBarrier(a.count);
    const fresh: CattailConnection[] = [];
    for (let i = 0; i < a.count; i++) {
      const conn = new CattailConnection({
        url: a.url as string, hostname: `bench-${opts.index}-${conns.length + i}`, verify: a.verify === true && conns.length + i === 0,
        compression: a.compression === true,
        latency: a.latency === true ? histogram : undefined,
        onDeltas: () => progress(countedOf.get(conn) as Counted),
        onInSync: synced,
      });
      fresh.push(conn);
      if (a.verify === true && conns.length + i === 0) verifier = conn;
    }
    for (const conn of fresh) {
      const c: Counted = { count: () => conn.deltaKVs, bytes: () => conn.bytes };
      countedOf.set(conn, c);
      conns.push(conn);
      counted.push(c);
    }
    await openAll(fresh, a.concurrency ?? 32);
    await allSynced;
    return summary(fresh);
  };

  serveIpc({
    connect: async (a: ConnectArgs): Promise<ConnectResult> => {
      if (opts.kind === 'cattail') return openCattail(a);
      if (opts.kind === 'kube') {
        const agents = Array.from({ length: a.count }, () => {
          const box: { agent?: DirectAgent } = {};
          const entry: Counted = { count: () => box.agent?.events ?? 0, bytes: () => 0 };
          box.agent = new DirectAgent(a.kubeconfig as string, () => progress(entry));
          counted.push(entry);
          peers.push(box.agent);
          return box.agent;
        });
        await Promise.all(agents.map((g) => g.start()));
        return { lastInSyncAt: wallClockMs(), snapshotBytes: 0, snapshotPlainBytes: 0, snapshotKVs: 0 };
      }
      for (let i = 0; i < a.count; i++) {
        const c: { peer?: RedisSubscriber | EtcdWatcher } = {};
        const entry: Counted = {
          count: () => (c.peer instanceof RedisSubscriber ? c.peer.messages : c.peer instanceof EtcdWatcher ? c.peer.events : 0),
          bytes: () => c.peer?.bytes ?? 0,
        };
        const onUpdate = () => progress(entry);
        c.peer = opts.kind === 'redis'
          ? await RedisSubscriber.connect(a.port as number, a.topic as string, onUpdate)
          : await EtcdWatcher.watch(a.port as number, a.topic as string, onUpdate);
        peers.push(c.peer);
        counted.push(entry);
      }
      return { lastInSyncAt: wallClockMs(), snapshotBytes: 0, snapshotPlainBytes: 0, snapshotKVs: 0 };
    },
    /** Zeroes the update counts and the latency histogram. */
    reset: () => {
      for (const c of counted) {
        baseline.set(c, c.count());
        bytesBaseline.set(c, c.bytes());
      }
      histogram.clear();
    },
    /** Resolves with the wall-clock time at which every connection had received `count` updates since the reset. */
    awaitUpdates: (a: { count: number }) => new Promise<number>((resolve) => {
      target = a.count;
      pending = new Set(counted);
      onAllDone = resolve;
      for (const c of [...pending]) progress(c);
      if (counted.length === 0) resolve(wallClockMs());
    }),
    received: () => counted.reduce((s, c) => s + c.count() - (baseline.get(c) ?? 0), 0),
    /** This process's user + system CPU time so far, microseconds (system time includes its share of loopback receive work). */
    cpuMicros: () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    /** Bytes read from the sockets since the reset, every connection together. */
    bytesReceived: () => counted.reduce((s, c) => s + c.bytes() - (bytesBaseline.get(c) ?? 0), 0),
    latency: () => histogram.toJSON(),
    digest: () => conns.find((c) => c.model.size > 0)?.digest() ?? { keys: 0, sha1: '' },
    /** Cuts every connection at once and reconnects them all; resolves when all are in sync again. */
    reconnect: async (a: { concurrency?: number }): Promise<ConnectResult> => {
      for (const c of conns) c.cut();
      if (conns.length === 0) return { lastInSyncAt: 0, snapshotBytes: 0, snapshotPlainBytes: 0, snapshotKVs: 0 };
      const allSynced = syncBarrier(conns.length);
      await openAll(conns, a.concurrency ?? 500);
      await allSynced;
      return summary(conns);
    },
    closeAll: () => {
      for (const c of conns) c.close();
      return Promise.all(peers.map((p) => p.close()));
    },
  });

  function summary(list: readonly CattailConnection[]): ConnectResult {
    return {
      lastInSyncAt: Math.max(...list.map((c) => c.inSyncAt)),
      countingLastInSyncAt: Math.max(0, ...list.filter((c) => c !== verifier).map((c) => c.inSyncAt)),
      snapshotBytes: list.reduce((s, c) => s + c.snapshotBytes, 0),
      snapshotPlainBytes: list.reduce((s, c) => s + c.snapshotPlainBytes, 0),
      snapshotKVs: list.reduce((s, c) => s + c.snapshotKVs, 0),
    };
  }
}

/** Opens connections with at most `concurrency` upgrades in flight. */
async function openAll(list: readonly CattailConnection[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < list.length) await (list[next++] as CattailConnection).open();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
}

if (import.meta.main) await main();
