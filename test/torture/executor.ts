/**
 * Runs one torture schedule against the real thing: the Kubernetes API emulator, a real Cattail
 * (composition root, Kubernetes datastore with fast timings, short server bounds) and one real
 * SyncClient per entry of `schedule.clients`, each behind its own TCP proxy. After the last step
 * the world is made quiet (faults off, clients resumed) and the run passes when every syncer is
 * in sync with the model computed from the emulator's objects, every client's host holds exactly
 * that model, and no host saw a contract violation on the way.
 */
import { syncerSpecs } from '../../src/calico/index.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { SyncClient, type SyncerType } from '../../clients/typescript/src/index.ts';
import { type Harness, startCattail } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import { diffModels, expectedModel } from '../support/expectedModel.ts';
import { EtcdWorld } from './etcdWorld.ts';
import { loadTemplates } from './objects.ts';
import { TortureProxy } from './proxy.ts';
import { RecordingHost } from './recorder.ts';
import { type DatastoreStep, describeStep, refKind, type Schedule, type Step } from './schedule.ts';

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

export interface RunResult {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly elapsedMs: number;
  readonly stats: { readonly deliveries: number; readonly reconnects: number; readonly keys: number };
}

interface Agent {
  readonly syncerType: SyncerType;
  readonly proxy: TortureProxy;
  host: RecordingHost;
  client: SyncClient;
  generation: number;
  readonly retired: RecordingHost[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSchedule(schedule: Schedule, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const failures: string[] = [];
  const specs = syncerSpecs() as Record<string, SyncerTypeSpec>;
  const api = new K8sEmulator();
  await api.start();
  for (const list of loadTemplates().values()) for (const t of list) api.apply(t);
  const etcd = options.datastore === 'etcd' ? await EtcdWorld.start() : undefined;
  await etcd?.mirror(api);
  const flags = etcd ? [...TORTURE_FLAGS, '--datastore', 'etcdv3'] : TORTURE_FLAGS;

  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void | Promise<void>): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      void fn();
    }, ms);
    timers.add(t);
  };
  const newDatastore = () => etcd?.datastore() ?? new KubernetesDatastore({
    kubeConfig: api.kubeConfig(), logger: silentLogger(),
    watchTimeoutMinMs: 2_000, watchTimeoutMaxMs: 4_000, watchIdleMarginMs: 1_000,
    backoffInitialMs: 20, backoffMaxMs: 250, minWatchMs: 0, requestTimeoutMs: 2_000,
  });
  let app: Harness = await startCattail({ datastore: newDatastore(), flags });
  const syncPort = () => app.app.syncAddress.port;
  let defaultLimit = app.app.server.maxConnections;

  const agents: Agent[] = [];
  const newClient = (agent: Omit<Agent, 'client' | 'host'> & Partial<Agent>, index: number): void => {
    agent.generation++;
    const host = new RecordingHost(`client ${index} (${agent.syncerType}) #${agent.generation}`);
    agent.proxy.onServerMessage = (m) => host.onWire(m);
    agent.proxy.onUndecodable = (reason) => host.wireUndecodable(reason);
    const client = new SyncClient({
      servers: [agent.proxy.url], shuffleServers: false, syncerType: agent.syncerType, hostname: `torture-${index}`,
      handler: host, connectTimeoutMs: 2_000, handshakeTimeoutMs: 3_000, readTimeoutMs: 4_000, writeTimeoutMs: 4_000,
      backoff: { initialDelayMs: 20, maxDelayMs: 300 }, random: Math.random,
      // Half the agents negotiate zstd, half take plain frames from the same cache.
      compression: index % 2 === 0,
    });
    client.on('error', () => {});
    client.start();
    agent.host = host;
    agent.client = client;
  };
  for (const [i, syncerType] of schedule.clients.entries()) {
    const proxy = new TortureProxy(syncPort());
    await proxy.start();
    const agent = { syncerType, proxy, generation: 0, retired: [] } as unknown as Agent;
    newClient(agent, i);
    agents.push(agent);
  }
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

  let restarting: Promise<void> | undefined;
  const runStep = async (step: Step): Promise<void> => {
    if (options.verbose) process.stderr.write(`  step ${describeStep(step)}\n`);
    if (etcd) {
      switch (step.op) {
        case 'apply': case 'delete': case 'rename': applyDatastore(step); await etcd.mirror(api); return;
        case 'burst': for (const s of step.steps) applyDatastore(s); await etcd.mirror(api); return;
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
      case 'burst': for (const s of step.steps) applyDatastore(s); return;
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
      case 'disconnect': agentAt(step.client)?.proxy.cut(); return;
      case 'partition': {
        const a = agentAt(step.client);
        a?.proxy.block(true);
        a?.proxy.cut();
        later(step.ms, () => a?.proxy.block(false));
        return;
      }
      case 'pauseHost': {
        const a = agentAt(step.client);
        const host = a?.host;
        host?.pause();
        later(step.ms, () => host?.resume());
        return;
      }
      case 'pauseSocket': {
        const a = agentAt(step.client);
        a?.proxy.pause(true);
        later(step.ms, () => a?.proxy.pause(false));
        return;
      }
      case 'restartClient': {
        const i = step.client % agents.length;
        const a = agents[i]!;
        a.host.resume();
        await a.client.close();
        a.retired.push(a.host);
        newClient(a, i);
        return;
      }
      case 'limit':
        app.app.server.setMaxConnections(step.max);
        later(step.ms, () => { app.app.server.setMaxConnections(defaultLimit); });
        return;
      case 'restartServer': {
        restarting = (async () => {
          // Clients keep reconnecting into the closing server (503 refusals, then resets: the
          // crash test/fuzz/regressions/refusedUpgradeReset.test.ts keeps fixed).
          await app.close();
          await sleep(step.downMs);
          app = await startCattail({ datastore: newDatastore(), flags });
          defaultLimit = app.app.server.maxConnections;
          for (const a of agents) a.proxy.retarget(syncPort());
        })();
        await restarting;
        restarting = undefined;
        return;
      }
    }
  };

  let converged = false;
  let expectedKeys = 0;
  try {
    for (const step of schedule.steps) {
      await runStep(step);
      if (schedule.gapMs > 0) await sleep(schedule.gapMs);
    }

    // Quiet: every fault off, every client free to catch up.
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await api.outage(false);
    api.stallWatches(false);
    etcd?.open();
    app.app.server.setMaxConnections(defaultLimit);
    for (const a of agents) {
      a.proxy.block(false);
      a.proxy.pause(false);
      a.host.resume();
    }

    const expected = new Map<string, Map<string, unknown>>();
    if (etcd) for (const [type, model] of await etcd.expected([...new Set(schedule.clients)] as SyncerType[])) expected.set(type, model);
    else {
      for (const type of new Set(schedule.clients)) {
        expected.set(type, expectedModel(specs[type]!, (kind) => api.objects(kind)));
      }
    }
    for (const m of expected.values()) expectedKeys += m.size;
    const deadline = Date.now() + (options.convergeTimeoutMs ?? 20_000);
    const serverDiff = (): string[] => {
      const out: string[] = [];
      for (const [type, want] of expected) {
        const syncer = app.app.syncers.get(type);
        if (syncer?.status !== 'in-sync') out.push(`server ${type} syncer is ${syncer?.status}`);
        else out.push(...diffModels(app.model(type), want).map((d) => `server ${type}: ${d}`));
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
    while (Date.now() < deadline) {
      last = serverDiff();
      if (last.length === 0) {
        last = clientDiff();
        if (last.length === 0) break;
      }
      await sleep(50);
    }
    if (last.length > 0) failures.push('did not converge once quiet:', ...last.slice(0, 12).map((l) => `  ${l}`));
    else converged = true;
    for (const a of agents) {
      for (const h of [...a.retired, a.host]) failures.push(...h.violations);
      if (converged && diffModels(a.client.state, a.host.held).length > 0) failures.push(`${a.host.name}: client.state differs from what the host was given`);
    }
  } catch (err) {
    failures.push(`executor error: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await restarting?.catch(() => {});
    for (const a of agents) a.host.resume();
    await Promise.all(agents.map((a) => a.client.close()));
    await Promise.all(agents.map((a) => a.proxy.close()));
    await app.close();
    await api.outage(false);
    await api.stop();
    await etcd?.stop();
  }
  let deliveries = 0;
  let reconnects = 0;
  for (const a of agents) {
    deliveries += a.host.deliveries;
    reconnects += a.client.stats.disconnects;
  }
  return { ok: failures.length === 0, failures, elapsedMs: Math.round(performance.now() - started), stats: { deliveries, reconnects, keys: expectedKeys } };
}
