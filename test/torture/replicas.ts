/**
 * The torture run's server side: several Cattail replicas over one datastore (the emulator, or
 * the real etcd of `--datastore etcd`), each watching it on its own through its own TCP proxy,
 * so one replica can lose its datastore while the others keep theirs. A replica is stopped
 * gracefully (`restart`) or like a SIGKILL (`kill`: the caller cuts its clients first, with no
 * close frame), and comes back as a new instance on a new port; `onUp` tells the caller where.
 */
import type { Datastore } from '../../src/datastore/types.ts';
import { type Harness, startCattail } from '../support/harness.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

export interface ReplicaSetOptions {
  readonly count: number;
  readonly flags: readonly string[];
  /** The port replicas reach the datastore on (each through its own proxy). */
  readonly datastorePort: number;
  /** A new datastore connected to 127.0.0.1:`port`. */
  readonly newDatastore: (port: number) => Datastore;
  /** A replica started (again) and listens on `port`. */
  readonly onUp: (replica: number, port: number) => void;
}

interface Replica {
  app: Harness | undefined;
  readonly upstream: TcpProxy;
  readonly upstreamPort: number;
  defaultLimit: number;
  /** While it is down or coming back: settles once it is up again. */
  transition: Promise<void> | undefined;
  /** Bumped on every isolation, so an older isolation's end does not end a newer one. */
  isolation: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ReplicaSet {
  readonly #options: ReplicaSetOptions;
  readonly #replicas: Replica[] = [];
  /** Connection limit set by a `limit` step (applied to replicas that start meanwhile too). */
  #limit: number | undefined;
  readonly #instanceIds = new Set<string>();

  private constructor(options: ReplicaSetOptions) {
    this.#options = options;
  }

  static async start(options: ReplicaSetOptions): Promise<ReplicaSet> {
    const set = new ReplicaSet(options);
    for (let i = 0; i < options.count; i++) {
      const upstream = new TcpProxy(options.datastorePort);
      const upstreamPort = await upstream.listen();
      set.#replicas.push({ app: undefined, upstream, upstreamPort, defaultLimit: 0, transition: undefined, isolation: 0 });
    }
    await Promise.all(set.#replicas.map((_, i) => set.#startReplica(i)));
    return set;
  }

  get count(): number {
    return this.#replicas.length;
  }

  /** How many server instances ran in all (each start is a new instance id). */
  get instances(): number {
    return this.#instanceIds.size;
  }

  /** The running replicas' harnesses (a replica being restarted is left out). */
  running(): Harness[] {
    return this.#replicas.flatMap((r) => (r.app !== undefined && r.transition === undefined ? [r.app] : []));
  }

  port(i: number): number {
    const app = this.#replicas[i]!.app;
    if (app === undefined) throw new Error(`replica ${i} is down`);
    return app.app.syncAddress.port;
  }

  isUp(i: number): boolean {
    const r = this.#replicas[i % this.count]!;
    return r.app !== undefined && r.transition === undefined;
  }

  /**
   * Stops replica `i` (graceful: its sessions get close frames; else the caller has already cut
   * them) and starts a new instance `downMs` later. Resolves once it is up again. A replica
   * already on its way back is left alone.
   */
  cycle(i: number, downMs: number): Promise<void> {
    const r = this.#replicas[i % this.count]!;
    if (r.transition !== undefined) return r.transition;
    r.transition = (async () => {
      const app = r.app;
      r.app = undefined;
      await app?.close();
      await sleep(downMs);
      await this.#startReplica(i % this.count);
    })().finally(() => { r.transition = undefined; });
    return r.transition;
  }

  /** Replica `i` cannot reach its datastore for `ms` (every connection through its proxy cut). */
  isolate(i: number, ms: number, later: (ms: number, fn: () => void) => void): void {
    const r = this.#replicas[i % this.count]!;
    const mine = ++r.isolation;
    r.upstream.block();
    later(ms, () => {
      if (r.isolation === mine) r.upstream.open();
    });
  }

  /** Every replica reaches its datastore again. */
  reconnectAll(): void {
    for (const r of this.#replicas) {
      r.isolation++;
      r.upstream.open();
    }
  }

  /** Settles once no replica is down or restarting. */
  async settled(): Promise<void> {
    for (;;) {
      const pending = this.#replicas.map((r) => r.transition).filter((t) => t !== undefined);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** Lowers (or with `undefined` restores) every replica's connection limit. */
  setLimit(max: number | undefined): void {
    this.#limit = max;
    for (const r of this.#replicas) r.app?.app.server.setMaxConnections(max ?? r.defaultLimit);
  }

  async close(): Promise<void> {
    await this.settled().catch(() => {});
    await Promise.all(this.#replicas.map(async (r) => {
      const app = r.app;
      r.app = undefined;
      await app?.close();
      await r.upstream.close();
    }));
  }

  async #startReplica(i: number): Promise<void> {
    const r = this.#replicas[i]!;
    const app = await startCattail({ datastore: this.#options.newDatastore(r.upstreamPort), flags: this.#options.flags });
    r.app = app;
    r.defaultLimit = app.app.server.maxConnections;
    if (this.#limit !== undefined) app.app.server.setMaxConnections(this.#limit);
    this.#instanceIds.add(app.app.server.serverInstanceId);
    this.#options.onUp(i, app.app.syncAddress.port);
  }
}
