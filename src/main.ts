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
import { KubeClient, KubernetesDatastore, loadKubeConfig } from './datastore/kubernetes/index.ts';
import type { Datastore } from './datastore/types.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, initSyncerSeries, type Metrics } from './metrics.ts';
import {
  ConnectionLimitPoller, countReplicas, createTlsSettings, OpsServer, type Readiness, SyncServer, type SyncerChannel, type TlsSettings,
} from './server/index.ts';
import { SnapshotCache, SnapshotSource } from './snapshot/index.ts';
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
  const kubeConfig = config.datastore === 'kubernetes' || config.connectionRebalancing === 'kubernetes'
    ? loadKubeConfig({ kubeconfigPath: config.kubeconfig === '' ? undefined : config.kubeconfig, env })
    : undefined;
  const datastore: Datastore = deps.datastore ?? (config.datastore === 'file'
    ? new FileDatastore({
      dir: config.fileDir, logger, clock, metrics, debounceMs: config.fileDebounceMs,
      limits: {
        maxFileBytes: config.fileMaxFileBytes, maxDocuments: config.fileMaxDocuments, maxMapKeys: config.fileMaxMapKeys,
        maxDepth: config.fileMaxDepth, maxEntries: config.fileMaxEntries, maxSymlinkDepth: config.fileMaxSymlinkDepth,
        parseTimeoutMs: config.fileParseTimeoutMs, parserHeapBytes: config.fileParserHeapBytes, scanTimeoutMs: config.fileScanTimeoutMs,
      },
    })
    : new KubernetesDatastore({ kubeConfig: kubeConfig!, logger, clock }));
  // The poller shares the datastore's connection pool when there is one.
  const ownKubeClient = kubeConfig !== undefined && !(datastore instanceof KubernetesDatastore)
    ? new KubeClient({ kubeConfig, clock, requestTimeoutMs: 30_000 })
    : undefined;
  const kubeClient = datastore instanceof KubernetesDatastore ? datastore.client : ownKubeClient;

  const specs = syncerSpecs();
  const caches = new Map<string, SnapshotCache>();
  const channels = new Map<string, SyncerChannel>();
  const syncers = new Map<string, Syncer>();
  for (const name of config.syncerTypes) {
    initSyncerSeries(metrics, name);
    const spec = deps.specs?.[name] ?? specs[name];
    const cache = new SnapshotCache({ syncerType: name, maxBatchSize: config.maxBatchSize, clock, metrics, logger });
    const snapshots = new SnapshotSource(cache, { frameKVs: config.snapshotFrameKvs, reuseMs: config.snapshotReuseMs, clock, metrics });
    // Typha's output filter sits between the conversions and the cache: nothing invalid or
    // oversized is encoded, stored or sent.
    const filter = new ValidationFilter({ syncerType: name, sink: cache, logger, metrics, maxValueBytes: config.maxValueBytes });
    const syncer = new Syncer({ spec, datastore, sink: filter, clock, logger, metrics, staleUpstreamMs: config.staleUpstreamMs });
    caches.set(name, cache);
    channels.set(name, { cache, snapshots });
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

async function runCli(): Promise<void> {
  let config: Config;
  try {
    const parsed = parseConfig(process.argv.slice(2), process.env);
    if (parsed.help) {
      process.stdout.write(helpText() + '\n');
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
    logger.fatal({ err }, 'start-up failed');
    process.exitCode = 1;
    return;
  }
  const host = (a: AddressInfo) => (a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address);
  logger.info(
    { sync: `ws://${host(app.syncAddress)}:${app.syncAddress.port}/sync`, ops: `http://${host(app.opsAddress)}:${app.opsAddress.port}` },
    `ready for agents: connect with  npm run client -- --server ws://${host(app.syncAddress)}:${app.syncAddress.port} --syncer felix --dump`,
  );
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
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
}

if (import.meta.main) await runCli();
