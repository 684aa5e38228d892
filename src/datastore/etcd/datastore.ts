import { systemClock, type Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { KindInfo } from '../kinds.ts';
import type { Datastore, KindListener } from '../types.ts';
import { EtcdClient } from './etcdClient.ts';
import { layoutOf } from './layout.ts';
import { PrefixWatch, type PrefixWatchTuning } from './prefixWatch.ts';

export interface EtcdDatastoreOptions {
  /** Client URLs of the etcd members (`http://` or `https://`). */
  endpoints: readonly string[];
  /** PEM files for HTTPS: the CA of etcd's server certificate, our client certificate and key. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** etcd auth: user and password (see EtcdClientOptions). */
  username?: string;
  password?: string;
  logger: Logger;
  clock?: Clock;
  /** Uniform random in [0, 1) for backoff jitter. */
  random?: () => number;
  pageSize?: number;
  watchIdleMs?: number;
  probeTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** One unary request (a range page). Default 10 s, libcalico-go's etcd client timeout. */
  requestTimeoutMs?: number;
}

export const ETCD_DEFAULTS = {
  pageSize: 500,
  // A quiet prefix costs one count-only range per interval; a member that stopped answering is
  // noticed within interval + probe timeout, well inside the 60 s stale bound.
  watchIdleMs: 20_000,
  probeTimeoutMs: 10_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  requestTimeoutMs: 10_000,
} as const;

/**
 * The etcd v3 datastore: one list/watch loop per subscribed kind's key prefix, all sharing one
 * client (one keep-alive pool per endpoint, one set of TLS credentials, one current endpoint).
 * Subscribe before `start()`, as with the Kubernetes datastore.
 */
export class EtcdDatastore implements Datastore {
  readonly name = 'etcdv3';
  readonly client: EtcdClient;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #tuning: PrefixWatchTuning;
  readonly #loops = new Map<string, PrefixWatch>();
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: EtcdDatastoreOptions) {
    this.#logger = options.logger.child({ datastore: 'etcdv3' });
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    const d = ETCD_DEFAULTS;
    this.#tuning = {
      pageSize: options.pageSize ?? d.pageSize,
      watchIdleMs: options.watchIdleMs ?? d.watchIdleMs,
      probeTimeoutMs: options.probeTimeoutMs ?? d.probeTimeoutMs,
      backoffInitialMs: options.backoffInitialMs ?? d.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? d.backoffMaxMs,
    };
    const t = this.#tuning;
    const problems: string[] = [];
    if (!(t.pageSize >= 1)) problems.push('pageSize must be at least 1');
    if (!(t.watchIdleMs > 0) || !(t.probeTimeoutMs > 0)) problems.push('watchIdleMs and probeTimeoutMs must be positive');
    if (!(t.backoffInitialMs > 0) || !(t.backoffMaxMs >= t.backoffInitialMs)) problems.push('backoff must be positive, max at least initial');
    if (problems.length > 0) throw new Error(`invalid etcd datastore options: ${problems.join('; ')}`);
    this.client = new EtcdClient({
      endpoints: options.endpoints,
      ...(options.caFile ? { caFile: options.caFile } : {}),
      ...(options.certFile ? { certFile: options.certFile } : {}),
      ...(options.keyFile ? { keyFile: options.keyFile } : {}),
      ...(options.username ? { username: options.username, password: options.password ?? '' } : {}),
      requestTimeoutMs: options.requestTimeoutMs ?? d.requestTimeoutMs,
    });
  }

  subscribe(kind: KindInfo, listener: KindListener): void {
    if (this.#closing) throw new Error('datastore is closed');
    let loop = this.#loops.get(kind.id);
    if (!loop) {
      const layout = layoutOf(kind);
      if (layout === undefined) throw new Error(`kind ${kind.id} is not stored in etcd (Calico's etcd mode does not read it)`);
      loop = new PrefixWatch({ kind, layout, client: this.client, logger: this.#logger, clock: this.#clock, random: this.#random, tuning: this.#tuning });
      this.#loops.set(kind.id, loop);
    }
    loop.addListener(listener);
    if (this.#started) loop.start();
  }

  async start(): Promise<void> {
    if (this.#closing) throw new Error('datastore is closed');
    if (this.#started) return;
    this.#started = true;
    this.#logger.info({ endpoints: this.client.endpoints.map((u) => u.origin), kinds: [...this.#loops.keys()] }, 'starting etcd list/watch');
    for (const loop of this.#loops.values()) loop.start();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#loops.values()].map((loop) => loop.close()));
      this.client.close();
      this.#logger.info('stopped');
    })();
    return this.#closing;
  }
}
