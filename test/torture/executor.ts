/**
 * Runs one torture schedule against the real thing: the Kubernetes API emulator, one or more
 * real Cattail replicas over it (composition root, Kubernetes datastore with fast timings, short
 * server bounds; replicas.ts), and one real SyncClient per entry of `schedule.clients`, with or
 * without catch-up, reaching each replica through its own TCP proxy (agents.ts). After the last
 * step the world is made quiet (faults off, every replica up, clients resumed) and the run passes
 * when every replica's syncers are in sync with the model computed from the emulator's objects,
 * every client's host holds exactly that model, and no host saw a contract violation on the way.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { syncerSpecs } from '../../src/calico/index.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import type { SyncerType } from '../../clients/typescript/src/index.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import { diffModels, expectedModel } from '../support/expectedModel.ts';
import { Agent } from './agents.ts';
import { addCounts, type CatchUpCounts, NO_CATCH_UP } from './catchUpTally.ts';
import { EtcdWorld } from './etcdWorld.ts';
import { loadTemplates } from './objects.ts';
import { ReplicaSet } from './replicas.ts';
import { clientSpec, type DatastoreStep, describeStep, refKind, type Schedule, type Step } from './schedule.ts';

/** Server bounds short enough that every timeout and limit is reached within a run. */
export const TORTURE_FLAGS = [
  '--syncer-types', 'felix,bgp,tunnel-ip-allocation,node-status',
  '--stale-upstream-ms', '1500',
  '--max-fall-behind-ms', '3000',
  '--new-client-grace-period-ms', '1000',
  '--send-high-water-mark-bytes', '16384',
  '--ping-interval-ms', '500',
  '--pong-timeout-ms', '5000',
  '--handshake-timeout-ms', '3000',
  '--connection-drop-interval-ms', '100',
  // Small batches and frames: many breadcrumbs, multi-frame snapshots, coalesced deltas.
  '--max-batch-size', '10',
  '--max-message-kvs', '10',
  '--snapshot-frame-kvs', '25',
] as const;

export interface RunOptions {
  /** How long the quiet world may take to converge before the run fails. */
  readonly convergeTimeoutMs?: number;
  /** Print each step as it runs. */
  readonly verbose?: boolean;
  /**
   * `etcd`: Cattail reads a real etcd that mirrors the emulator's objects in Calico's etcd
   * layout (see etcdWorld.ts); the emulator's faults become faults of the path to etcd.
   */
  readonly datastore?: 'kubernetes' | 'etcd';
}

export interface RunStats {
  readonly deliveries: number;
  readonly reconnects: number;
  readonly keys: number;
  /** Server instances that ran (replicas × their restarts and kills). */
  readonly instances: number;
  /** How the connections caught up, from their serverHellos. */
  readonly catchUp: CatchUpCounts;
  /** Times a client left a stale replica for an in-sync one (from the clients' stats). */
  readonly leftStale: number;
}

export interface RunResult {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly elapsedMs: number;
  readonly stats: RunStats;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A KubeConfig for the emulator, reached on `port` (a replica's own proxy in front of it). */
function kubeConfigVia(api: K8sEmulator, port: number): KubeConfig {
  const direct = api.kubeConfig();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'emulator', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: direct.users, contexts: direct.contexts, currentContext: direct.currentContext,
  });
  return kc;
}

export async function runSchedule(schedule: Schedule, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const failures: string[] = [];
  const specs = syncerSpecs() as Record<string, SyncerTypeSpec>;
  const clients = schedule.clients.map(clientSpec);
  const api = new K8sEmulator();
  await api.start();
  for (const list of loadTemplates().values()) for (const t of list) api.apply(t);
  const etcd = options.datastore === 'etcd' ? await EtcdWorld.start() : undefined;
  await etcd?.mirror(api);
  const flags = [...TORTURE_FLAGS, ...(schedule.serverFlags ?? []), ...(etcd ? ['--datastore', 'etcdv3'] : [])];

  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void | Promise<void>): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      void fn();
    }, ms);
    timers.add(t);
  };
  const agents: Agent[] = [];
  const replicas = await ReplicaSet.start({
    count: Math.max(1, schedule.replicas ?? 1), flags,
    datastorePort: etcd?.port ?? Number(new URL(api.url).port),
    newDatastore: (port) => etcd?.datastore(port) ?? new KubernetesDatastore({
      kubeConfig: kubeConfigVia(api, port), logger: silentLogger(),
      watchTimeoutMinMs: 2_000, watchTimeoutMaxMs: 4_000, watchIdleMarginMs: 1_000,
      backoffInitialMs: 20, backoffMaxMs: 250, minWatchMs: 0, requestTimeoutMs: 2_000,
    }),
    // A replica back from a kill or restart: its proxies lead to the new instance.
    onUp: (r, port) => {
      for (const a of agents) {
        a.proxies[r]!.retarget(port);
        a.proxies[r]!.block(false, 'replica down');
      }
    },
  });
  const ports = Array.from({ length: replicas.count }, (_, r) => replicas.port(r));
  for (const [i, spec] of clients.entries()) agents.push(await Agent.start(i, spec, ports));
  const agentAt = (i: number): Agent | undefined => agents[i % Math.max(1, agents.length)];

  const applyDatastore = (step: DatastoreStep): void => {
    if (step.op === 'apply') {
      api.apply(step.obj);
      return;
    }
    const info = refKind(step);
    const ref = { apiVersion: info.group === '' ? info.version : `${info.group}/${info.version}`, kind: info.kind, metadata: { name: step.name, ...(step.namespace !== undefined ? { namespace: step.namespace } : {}) } };
    const existing = api.get(ref);
    if (existing === undefined) return;
    api.delete(ref);
    if (step.op === 'rename') {
      const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...metadata } = existing.metadata;
      api.apply({ ...existing, metadata: { ...metadata, name: step.to } });
    }
  };
  const writeBurst = async (steps: readonly DatastoreStep[]): Promise<void> => {
    for (const s of steps) applyDatastore(s);
    await etcd?.mirror(api);
  };

  const runStep = async (step: Step): Promise<void> => {
    if (options.verbose) process.stderr.write(`  step ${describeStep(step)}\n`);
    if (etcd) {
      switch (step.op) {
        case 'apply': case 'delete': case 'rename': applyDatastore(step); await etcd.mirror(api); return;
        case 'burst': await writeBurst(step.steps); return;
        case 'dropWatches': case 'expireWatches': case 'failNext': etcd.cut(); return;
        case 'compact': await etcd.compact(); return;
        case 'outage': case 'stall':
          etcd.block();
          later(step.ms, () => etcd.open());
          return;
        default: break;
      }
    }
    switch (step.op) {
      case 'apply': case 'delete': case 'rename': applyDatastore(step); return;
      case 'burst': await writeBurst(step.steps); return;
      case 'wait': await sleep(step.ms); return;
      case 'dropWatches': api.dropWatches({ abrupt: step.abrupt }); return;
      case 'expireWatches': api.expireWatches(); return;
      case 'compact': api.compact(); return;
      case 'failNext': api.failNext(step.n, step.status, { verb: step.verb }); return;
      case 'outage':
        await api.outage(true, step.mode);
        later(step.ms, () => api.outage(false));
        return;
      case 'stall':
        api.stallWatches(true);
        later(step.ms, () => api.stallWatches(false));
        return;
      case 'disconnect': agentAt(step.client)?.cut(); return;
      case 'partition': {
        const a = agentAt(step.client);
        a?.block(true);
        a?.cut();
        later(step.ms, () => a?.block(false));
        return;
      }
      case 'pauseHost': {
        const host = agentAt(step.client)?.host;
        host?.pause();
        later(step.ms, () => host?.resume());
        return;
      }
      case 'pauseSocket': {
        const a = agentAt(step.client);
        a?.pause(true);
        later(step.ms, () => a?.pause(false));
        return;
      }
      case 'restartClient': await agentAt(step.client)?.restart(); return;
      case 'limit':
        replicas.setLimit(step.max);
        later(step.ms, () => replicas.setLimit(undefined));
        return;
      case 'restartServer':
        // Clients keep reconnecting into the closing server (503 refusals, then resets: the
        // crash test/fuzz/regressions/refusedUpgradeReset.test.ts keeps fixed).
        await replicas.cycle((step.replica ?? 0) % replicas.count, step.downMs);
        return;
      case 'killReplica': {
        const r = step.replica % replicas.count;
        if (!replicas.isUp(r)) return;
        // No goodbye: the clients' connections end with no close frame and new ones are
        // refused at once, as from a dead process, before the server itself is stopped.
        for (const a of agents) {
          a.proxies[r]!.block(true, 'replica down');
          a.proxies[r]!.cut();
        }
        void replicas.cycle(r, step.downMs);
        return;
      }
      case 'switchReplica': {
        const a = agentAt(step.client);
        const r = a?.connectedReplica();
        if (a === undefined || r === undefined) return;
        const proxy = a.proxies[r]!;
        proxy.block(true, 'switch');
        proxy.cut();
        later(step.ms, () => proxy.block(false, 'switch'));
        return;
      }
      case 'churnReconnect':
        for (const a of agents) a.cut();
        await writeBurst(step.steps);
        return;
      case 'isolateReplica':
        replicas.isolate(step.replica, step.ms, later);
        return;
    }
  };

  let converged = false;
  let expectedKeys = 0;
  try {
    for (const step of schedule.steps) {
      await runStep(step);
      if (schedule.gapMs > 0) await sleep(schedule.gapMs);
    }

    // Quiet: every fault off, every replica up, every client free to catch up.
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await replicas.settled();
    await api.outage(false);
    api.stallWatches(false);
    etcd?.open();
    replicas.reconnectAll();
    replicas.setLimit(undefined);
    for (const a of agents) {
      for (const reason of ['partition', 'switch']) a.block(false, reason);
      a.pause(false);
      a.host.resume();
    }

    const expected = new Map<string, Map<string, unknown>>();
    const types = [...new Set(clients.map((c) => c.syncerType))];
    if (etcd) for (const [type, model] of await etcd.expected(types as SyncerType[])) expected.set(type, model);
    else for (const type of types) expected.set(type, expectedModel(specs[type]!, (kind) => api.objects(kind)));
    for (const m of expected.values()) expectedKeys += m.size;
    const quietAt = Date.now();
    const deadline = quietAt + (options.convergeTimeoutMs ?? 20_000);
    const serverDiff = (): string[] => {
      const out: string[] = [];
      for (const [r, app] of replicas.running().entries()) {
        for (const [type, want] of expected) {
          const syncer = app.app.syncers.get(type);
          if (syncer?.status !== 'in-sync') {
            const stale = syncer?.staleKinds() ?? [];
            out.push(`replica ${r}: ${type} syncer is ${syncer?.status}${stale.length > 0 ? ` (stale: ${stale.join(', ')})` : ''}`);
          }
          else out.push(...diffModels(app.model(type), want).map((d) => `replica ${r} ${type}: ${d}`));
        }
      }
      return out;
    };
    const clientDiff = (): string[] => {
      const out: string[] = [];
      for (const a of agents) {
        const want = expected.get(a.syncerType)!;
        if (a.host.status !== 'in-sync') out.push(`${a.host.name}: status ${a.host.status}`);
        else out.push(...diffModels(a.host.held, want).map((d) => `${a.host.name}: ${d}`));
      }
      return out;
    };
    let last: string[] = [];
    let nextReport = Date.now() + 2_000;
    while (Date.now() < deadline) {
      last = serverDiff();
      if (options.verbose && Date.now() >= nextReport) {
        nextReport += 2_000;
        const now = last.length > 0 ? last : clientDiff();
        process.stderr.write(`  quiet +${Date.now() - quietAt} ms: ${now.length === 0 ? 'converged' : now.slice(0, 6).join('; ')}\n`);
      }
      if (last.length === 0) {
        last = clientDiff();
        if (last.length === 0) break;
      }
      await sleep(50);
    }
    if (last.length > 0) {
      const blockers = replicas.running().flatMap((app, r) => app.app.readiness().reasons.filter((x) => x.startsWith('datastore')).map((x) => `replica ${r}: ${x}`));
      failures.push('did not converge once quiet:', ...[...last, ...blockers].slice(0, 16).map((l) => `  ${l}`));
    } else converged = true;
    if (options.verbose) process.stderr.write(`  quiet: ${converged ? 'converged' : 'did not converge'} after ${Date.now() - quietAt} ms\n`);
    for (const a of agents) {
      for (const h of [...a.retired, a.host]) failures.push(...h.violations);
      if (converged && diffModels(a.client.state, a.host.held).length > 0) failures.push(`${a.host.name}: client.state differs from what the host was given`);
    }
  } catch (err) {
    failures.push(`executor error: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await Promise.all(agents.map((a) => a.close()));
    await replicas.close();
    await api.outage(false);
    await api.stop();
    await etcd?.stop();
  }
  let deliveries = 0;
  let reconnects = 0;
  let catchUp = NO_CATCH_UP;
  let leftStale = 0;
  for (const a of agents) {
    leftStale += a.leftStale;
    deliveries += a.host.deliveries + a.retired.reduce((n, h) => n + h.deliveries, 0);
    reconnects += a.client.stats.disconnects;
    catchUp = addCounts(catchUp, a.tally.counts);
  }
  return {
    ok: failures.length === 0, failures, elapsedMs: Math.round(performance.now() - started),
    stats: { deliveries, reconnects, keys: expectedKeys, instances: replicas.instances, catchUp, leftStale },
  };
}
