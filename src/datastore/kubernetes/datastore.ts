import type { KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { KindInfo } from '../kinds.ts';
import type { Datastore, KindListener } from '../types.ts';
import { KubeClient, type Query } from './kubeClient.ts';
import { ListWatch, type ListWatchTuning } from './listWatch.ts';

export interface KubernetesDatastoreOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  clock?: Clock;
  /** Uniform random in [0, 1) for jitter and watch timeouts; injected for deterministic tests. */
  random?: () => number;
  /** Items per list page (`limit`). Default 500, client-go's page size. */
  pageSize?: number;
  /** Server-side watch timeout range. Default 5–10 min, randomized per watch as client-go does. */
  watchTimeoutMinMs?: number;
  watchTimeoutMaxMs?: number;
  /** Idle watchdog margin beyond the watch timeout. Default 30 s. */
  watchIdleMarginMs?: number;
  /** Retry backoff. Default 1 s doubling to 30 s, jittered. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Non-streaming request timeout (one list page, one GET). Default 60 s. */
  requestTimeoutMs?: number;
  /** Watches ending sooner than this with no event are paced by backoff. Default 1 s. */
  minWatchMs?: number;
}

export const KUBERNETES_DEFAULTS = {
  pageSize: 500,
  watchTimeoutMinMs: 5 * 60_000,
  watchTimeoutMaxMs: 10 * 60_000,
  // Bookmarks arrive about once a minute and the server ends a watch at its timeout, so a
  // watch this far past its timeout without a byte is a dead connection, not a quiet kind.
  watchIdleMarginMs: 30_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  requestTimeoutMs: 60_000,
  minWatchMs: 1_000,
} as const;

/**
 * The production datastore: one list/watch loop per subscribed kind against the Kubernetes API
 * server, all sharing one KubeClient (one keep-alive connection pool, one set of credentials).
 *
 * Subscribe every listener before `start()`: a loop that is already running has delivered its
 * `replaced` and would have nothing consistent to give a late subscriber. A kind first
 * subscribed after `start()` gets its own loop, started at once.
 */
export class KubernetesDatastore implements Datastore {
  readonly name = 'kubernetes';
  /** Shared with other components that read the API (the connection-limit poller). */
  readonly client: KubeClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly tuning: ListWatchTuning;
  private readonly loops = new Map<string, ListWatch>();
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(options: KubernetesDatastoreOptions) {
    this.logger = options.logger.child({ datastore: 'kubernetes' });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const d = KUBERNETES_DEFAULTS;
    this.tuning = {
      pageSize: options.pageSize ?? d.pageSize,
      watchTimeoutMinMs: options.watchTimeoutMinMs ?? d.watchTimeoutMinMs,
      watchTimeoutMaxMs: options.watchTimeoutMaxMs ?? options.watchTimeoutMinMs ?? d.watchTimeoutMaxMs,
      watchIdleMarginMs: options.watchIdleMarginMs ?? d.watchIdleMarginMs,
      backoffInitialMs: options.backoffInitialMs ?? d.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? d.backoffMaxMs,
      minWatchMs: options.minWatchMs ?? d.minWatchMs,
    };
    validateTuning(this.tuning);
    this.client = new KubeClient({
      kubeConfig: options.kubeConfig,
      clock: this.clock,
      requestTimeoutMs: options.requestTimeoutMs ?? d.requestTimeoutMs,
    });
  }

  subscribe(kind: KindInfo, listener: KindListener): void {
    if (this.closing) throw new Error('datastore is closed');
    let loop = this.loops.get(kind.id);
    if (!loop) {
      loop = new ListWatch({
        kind,
        client: this.client,
        logger: this.logger,
        clock: this.clock,
        random: this.random,
        tuning: this.tuning,
      });
      this.loops.set(kind.id, loop);
    }
    loop.addListener(listener);
    if (this.started) loop.start();
  }

  async start(): Promise<void> {
    if (this.closing) throw new Error('datastore is closed');
    if (this.started) return;
    this.started = true;
    this.logger.info({ server: this.client.server, kinds: [...this.loops.keys()] }, 'starting list/watch');
    for (const loop of this.loops.values()) loop.start();
  }

  /** Same credentials and connection pool as the watches; for occasional reads only. */
  getJson<T = unknown>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.client.getJson<T>(path, query, signal);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.loops.values()].map((loop) => loop.close()));
      this.client.close();
      this.logger.info('stopped');
    })();
    return this.closing;
  }
}

function validateTuning(t: ListWatchTuning): void {
  const problems: string[] = [];
  if (!(t.pageSize >= 1)) problems.push('pageSize must be at least 1');
  if (!(t.watchTimeoutMinMs >= 1000)) problems.push('watchTimeoutMinMs must be at least 1000 (the server counts whole seconds)');
  if (!(t.watchTimeoutMaxMs >= t.watchTimeoutMinMs)) problems.push('watchTimeoutMaxMs must be at least watchTimeoutMinMs');
  if (!(t.watchIdleMarginMs >= 0)) problems.push('watchIdleMarginMs must not be negative');
  if (!(t.backoffInitialMs > 0)) problems.push('backoffInitialMs must be positive');
  if (!(t.backoffMaxMs >= t.backoffInitialMs)) problems.push('backoffMaxMs must be at least backoffInitialMs');
  if (problems.length > 0) throw new Error(`invalid Kubernetes datastore options: ${problems.join('; ')}`);
}
