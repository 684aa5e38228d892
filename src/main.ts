/**
 * Composition root: the only place that builds and wires Cattail's components. `startCattail`
 * is what tests and the CLI use; running this file starts the server from flags and CATTAIL_*
 * variables.
 */
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { syncerSpecs } from './calico/index.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Config, ConfigError, helpText, parseConfig, redactConfig } from './config/index.ts';
import { FileDatastore } from './datastore/file/index.ts';
import { KINDS } from './datastore/kinds.ts';
import type { KubeClient } from './datastore/kubernetes/index.ts';
import type { Datastore } from './datastore/types.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, initSyncerSeries, type Metrics } from './metrics.ts';
import { checkFileDir, describeStartupFailure } from './startupFailure.ts';
import {
  ConnectionLimitPoller, countReplicas, createTlsSettings, OpsServer, type Readiness, SyncServer, type SyncerChannel, type TlsSettings,
} from './server/index.ts';
import { CatchUpSource, SnapshotCache, SnapshotSource } from './snapshot/index.ts';
import { Syncer, ValidationFilter, type SyncerTypeSpec } from './syncer/index.ts';
import { VERSION } from './version.ts';

export interface CattailDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly registry?: Registry;
  readonly env?: NodeJS.ProcessEnv;
  /** Replaces the datastore the config names (tests drive an emulator this way). */
  readonly datastore?: Datastore;
  /** Replaces the syncer specs (tests only). */
  readonly specs?: Partial<Record<string, SyncerTypeSpec>>;
}

export interface Cattail {
  readonly config: Config;
  readonly syncAddress: AddressInfo;
  readonly opsAddress: AddressInfo;
  readonly server: SyncServer;
  readonly syncers: ReadonlyMap<string, Syncer>;
  readonly caches: ReadonlyMap<string, SnapshotCache>;
  readonly metrics: Metrics;
  readiness(): Readiness;
  status(): unknown;
  /** SIGTERM behaviour: readiness false, stop accepting, paced disconnection, then stop. */
  shutdownGracefully(): Promise<void>;
  /** Stops everything at once. Idempotent. */
  close(): Promise<void>;
}

export async function startCattail(config: Config, deps: CattailDeps): Promise<Cattail> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const registry = deps.registry ?? new Registry();
  const metrics = createMetrics(registry);
  const env = deps.env ?? process.env;
  if (deps.datastore === undefined) checkFileDir(config);
  // Loaded only when configured: @kubernetes/client-node costs about 0.35 s and 80 MB, which
  // --help and the file datastore should not pay.
  const kube = config.datastore === 'kubernetes' || config.connectionRebalancing === 'kubernetes'
    ? await import('./datastore/kubernetes/index.ts')
    : undefined;
  const kubeConfig = kube?.loadKubeConfig({ kubeconfigPath: config.kubeconfig === '' ? undefined : config.kubeconfig, env });
  const etcd = deps.datastore === undefined && config.datastore === 'etcdv3' ? await import('./datastore/etcd/index.ts') : undefined;
  const datastore: Datastore = deps.datastore ?? (etcd !== undefined
    ? new etcd.EtcdDatastore({
      endpoints: config.etcdEndpoints, caFile: config.etcdCaFile, certFile: config.etcdCertFile, keyFile: config.etcdKeyFile,
      username: config.etcdUsername, password: config.etcdPassword, logger, clock,
    })
    : config.datastore === 'file' || kube === undefined || kubeConfig === undefined
    ? new FileDatastore({
      dir: config.fileDir, logger, clock, metrics, debounceMs: config.fileDebounceMs,
      limits: {
        maxFileBytes: config.fileMaxFileBytes, maxDocuments: config.fileMaxDocuments, maxMapKeys: config.fileMaxMapKeys,
        maxDepth: config.fileMaxDepth, maxEntries: config.fileMaxEntries, maxSymlinkDepth: config.fileMaxSymlinkDepth,
        parseTimeoutMs: config.fileParseTimeoutMs, parserHeapBytes: config.fileParserHeapBytes, scanTimeoutMs: config.fileScanTimeoutMs,
      },
    })
    : new kube.KubernetesDatastore({ kubeConfig, logger, clock }));
  // The poller shares the datastore's connection pool when there is one.
  const kubeDatastore = kube !== undefined && datastore instanceof kube.KubernetesDatastore ? datastore : undefined;
  const ownKubeClient = kube !== undefined && kubeConfig !== undefined && kubeDatastore === undefined
    ? new kube.KubeClient({ kubeConfig, clock, requestTimeoutMs: 30_000 })
    : undefined;
  const kubeClient = kubeDatastore?.client ?? ownKubeClient;

  const specs = syncerSpecs(config.datastore === 'etcdv3' ? 'etcdv3' : 'kubernetes');
  const caches = new Map<string, SnapshotCache>();
  const channels = new Map<string, SyncerChannel>();
  const syncers = new Map<string, Syncer>();
  for (const name of config.syncerTypes) {
    initSyncerSeries(metrics, name);
    const spec = deps.specs?.[name] ?? specs[name];
    const cache = new SnapshotCache({
      syncerType: name, maxBatchSize: config.maxBatchSize, clock, metrics, logger,
      retention: { maxAgeMs: config.resumeRetentionMs, maxBytes: config.resumeRetentionBytes },
    });
    metrics.watchRetention(name, () => cache.retentionStats());
    const snapshots = new SnapshotSource(cache, { frameKVs: config.snapshotFrameKvs, reuseMs: config.snapshotReuseMs, clock, metrics });
    // Digest catch-up bases, shared like snapshots by the clients that join within the reuse window.
    const catchUp = new CatchUpSource(cache, { frameKVs: config.snapshotFrameKvs, reuseMs: config.snapshotReuseMs, clock });
    // Typha's output filter sits between the conversions and the cache: nothing invalid or
    // oversized is encoded, stored or sent.
    const filter = new ValidationFilter({ syncerType: name, sink: cache, logger, metrics, maxValueBytes: config.maxValueBytes });
    const syncer = new Syncer({ spec, datastore, sink: filter, clock, logger, metrics, staleUpstreamMs: config.staleUpstreamMs });
    caches.set(name, cache);
    channels.set(name, { cache, snapshots, catchUp });
    syncers.set(name, syncer);
    syncer.start();
  }

  const tls: TlsSettings | undefined = config.tlsCertFile === '' ? undefined : createTlsSettings({
    certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, caFile: config.tlsCaFile,
    allowedCommonNames: config.tlsClientCommonNames, allowedUriSans: config.tlsClientUriSans, logger,
  });
  const server = new SyncServer({ config, channels, clock, logger, metrics, serverVersion: VERSION, ...(tls !== undefined ? { tls } : {}) });
  const poller = config.connectionRebalancing !== 'kubernetes' ? undefined : createLimitPoller(config, kubeClient!, syncers, server, clock, logger, env);
  let shuttingDown = false;
  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (shuttingDown) reasons.push('shutting down');
    for (const [name, s] of syncers) {
      if (s.status !== 'in-sync') reasons.push(`syncer ${name} is ${s.status}${s.staleKinds().length > 0 ? ` (stale: ${s.staleKinds().join(', ')})` : ''}`);
    }
    for (const b of datastore.syncBlockers?.() ?? []) reasons.push(`datastore ${datastore.name}: ${b.source}: ${b.reason}`);
    return { ready: reasons.length === 0, reasons };
  };
  const status = () => ({
    version: VERSION,
    serverInstanceId: server.serverInstanceId,
    datastore: datastore.name,
    datastoreBlockers: datastore.syncBlockers?.() ?? [],
    maxConnections: server.maxConnections,
    syncers: Object.fromEntries([...syncers].map(([name, s]) => {
      const crumb = (caches.get(name) as SnapshotCache).current();
      return [name, { status: s.status, seq: crumb.seq, keys: crumb.kvs.size, staleKinds: s.staleKinds() }];
    })),
    sessions: server.sessions(),
  });
  const ops = new OpsServer({
    host: config.opsHost, port: config.opsPort, registry, metrics, clock, readiness, status, cacheMs: config.opsCacheMs, statusAccess: config.statusAccess,
  });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    shuttingDown = true;
    poller?.close();
    await server.close();
    await ops.close();
    for (const s of syncers.values()) s.close();
    for (const c of caches.values()) c.close();
    await datastore.close();
    ownKubeClient?.close();
  };

  try {
    const opsAddress = await ops.start();
    const syncAddress = await server.start();
    await datastore.start();
    poller?.start();
    return {
      config, syncAddress, opsAddress, server, syncers, caches, metrics, readiness, status, close,
      shutdownGracefully: async () => {
        shuttingDown = true;
        await server.shutdownGracefully();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Connection-limit autoscaling: replicas from the Service's EndpointSlices, nodes from the felix syncer. */
function createLimitPoller(
  config: Config, client: KubeClient, syncers: ReadonlyMap<string, Syncer>, server: SyncServer, clock: Clock, logger: Logger, env: NodeJS.ProcessEnv,
): ConnectionLimitPoller {
  const namespace = config.k8sNamespace !== '' ? config.k8sNamespace : env.POD_NAMESPACE ?? 'default';
  return new ConnectionLimitPoller({
    intervalMs: config.k8sPollIntervalMs,
    syncerTypes: config.syncerTypes.length,
    lower: config.maxConnectionsLowerLimit,
    upper: config.maxConnectionsUpperLimit,
    clock,
    logger,
    apply: (limit) => server.setMaxConnections(limit),
    lookupReplicas: async () => countReplicas(
      await client.getJson(`/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`, { labelSelector: `kubernetes.io/service-name=${config.k8sServiceName}` }),
      config.k8sPortName,
    ),
    lookupNodes: () => {
      const felix = syncers.get('felix');
      if (felix === undefined) throw new Error('the felix syncer type is not served, so nodes cannot be counted');
      if (!felix.everInSync) throw new Error('the felix syncer has not been in sync yet');
      return felix.objectCount(KINDS.nodes.id);
    },
  });
}

/** The command line: `cattail [options]`, as bin/cattail.js (which checks the Node version first) runs it. */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let config: Config;
  try {
    const parsed = parseConfig(argv, process.env);
    if (parsed.help) {
      process.stdout.write(parsed.show === 'version' ? `cattail ${VERSION}\n` : `${helpText()}\n`);
      return;
    }
    config = parsed.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cattail: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  logger.info({ version: VERSION, config: redactConfig(config) }, 'starting cattail');
  let app: Cattail;
  try {
    app = await startCattail(config, { logger });
  } catch (err) {
    const line = describeStartupFailure(err, config);
    if (line !== undefined) logger.fatal(`cannot start: ${line}`);
    else logger.fatal({ err }, 'start-up failed');
    process.exitCode = 1;
    return;
  }
  // Signal handlers first: whoever reads the ready line may send SIGTERM at once.
  let stopAnnouncing: () => void = () => undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    stopAnnouncing();
    const done = signal === 'SIGTERM' ? app.shutdownGracefully() : app.close();
    done.then(() => {
      logger.info('shut down cleanly');
      process.exit(0);
    }, (err: unknown) => {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  stopAnnouncing = announceWhenReady(app, logger);
}

const READY_POLL_MS = 100;
const STILL_WAITING_LOG_MS = 30_000;

/**
 * Logs "ready for agents" once every syncer type is in sync (what /readiness reports), never
 * before; until then, what it is waiting for, repeated every 30 s so a stuck start is visible.
 * Returns a function that stops watching.
 */
function announceWhenReady(app: Cattail, logger: Logger): () => void {
  const host = (a: AddressInfo) => (a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address);
  const sync = `ws://${host(app.syncAddress)}:${app.syncAddress.port}`;
  const where = { sync: `${sync}/sync`, ops: `http://${host(app.opsAddress)}:${app.opsAddress.port}` };
  const started = Date.now();
  let remindedAt = started;
  const first = app.readiness();
  if (!first.ready) logger.info({ ...where, waitingFor: first.reasons }, 'listening; waiting for every syncer type to be in sync with the datastore (readiness is false until then)');
  const check = () => {
    const r = app.readiness();
    if (r.ready) {
      clearInterval(timer);
      logger.info(where, `ready for agents: connect with  npm run -s client -- --server ${sync} --syncer felix --dump`);
    } else if (Date.now() - remindedAt >= STILL_WAITING_LOG_MS) {
      remindedAt = Date.now();
      logger.warn({ waitingFor: r.reasons, waitedMs: remindedAt - started }, 'still waiting for every syncer type to be in sync');
    }
  };
  const timer = setInterval(check, READY_POLL_MS);
  timer.unref();
  check();
  return () => clearInterval(timer);
}

if (import.meta.main) await runCli();
