/**
 * The torture run's datastore when it runs with `--datastore etcd`: a real etcd, fed by
 * mirroring the emulator's objects into Calico's etcd layout after every datastore step (so the
 * schedules and their shrinking stay the same), seen by Cattail through a TCP proxy that the
 * datastore faults act on. The expected model is computed from etcd's keys.
 */
import { EtcdClient, EtcdDatastore } from '../../src/datastore/etcd/index.ts';
import { ALL_KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SyncerType } from '../../src/syncer/types.ts';
import { expectedFromEtcd, waitEtcdReady } from '../support/etcdE2e.ts';
import { toEtcdLayout } from '../support/etcdLayout.ts';
import { EtcdCluster } from '../support/etcdProcess.ts';
import type { K8sEmulator } from '../support/k8sEmulator.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

export class EtcdWorld {
  readonly #etcd: EtcdCluster;
  readonly #client: EtcdClient;
  readonly #proxy: TcpProxy;
  readonly #port: number;
  #mirrored = new Map<string, string>();

  private constructor(etcd: EtcdCluster, client: EtcdClient, proxy: TcpProxy, port: number) {
    this.#etcd = etcd;
    this.#client = client;
    this.#proxy = proxy;
    this.#port = port;
  }

  static async start(): Promise<EtcdWorld> {
    const etcd = await EtcdCluster.start();
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
    await waitEtcdReady(client);
    const proxy = new TcpProxy(etcd.members[0]!.spec.clientPort);
    return new EtcdWorld(etcd, client, proxy, await proxy.listen());
  }

  /** The port of the proxy in front of etcd (the one the datastore faults act on). */
  get port(): number {
    return this.#port;
  }

  /** A datastore with fast timings, through the proxy (or through another proxy in front of it, on `port`). */
  datastore(port = this.#port): EtcdDatastore {
    return new EtcdDatastore({
      endpoints: [`http://127.0.0.1:${port}`], logger: silentLogger(),
      backoffInitialMs: 20, backoffMaxMs: 250, watchIdleMs: 1_000, probeTimeoutMs: 1_000, requestTimeoutMs: 2_000,
    });
  }

  /** Makes etcd hold the etcd layout of the emulator's current objects (puts and deletes the differences). */
  async mirror(api: K8sEmulator): Promise<void> {
    const objects: RawObject[] = ALL_KINDS.flatMap((k) => api.objects(k));
    const next = toEtcdLayout(objects);
    const ops: Promise<unknown>[] = [];
    for (const [k, v] of next) if (this.#mirrored.get(k) !== v) ops.push(this.#client.put(k, v));
    for (const k of this.#mirrored.keys()) if (!next.has(k)) ops.push(this.#client.delete(k));
    await Promise.all(ops);
    this.#mirrored = next;
  }

  /** Cuts every connection from Cattail (watches resume from their last revision). */
  cut(): void {
    this.#proxy.block();
    this.#proxy.open();
  }

  block(): void {
    this.#proxy.block();
  }

  open(): void {
    this.#proxy.open();
  }

  /** Compacts etcd's history up to now: every watch that resumes later must relist. */
  async compact(): Promise<void> {
    const { revision } = await this.#client.range('/calico/', { countOnly: true });
    try {
      await this.#client.compact(revision);
    } catch (err) {
      // Two compactions with no write between them name the same revision; etcd refuses the
      // second ("required revision has been compacted"), and the history is compacted all the same.
      if (!/required revision has been compacted/.test((err as Error).message)) throw err;
    }
  }

  expected(types: readonly SyncerType[]): Promise<Map<SyncerType, Map<string, unknown>>> {
    return expectedFromEtcd(this.#client, types);
  }

  async stop(): Promise<void> {
    await this.#proxy.close();
    this.#client.close();
    await this.#etcd.stop();
  }
}
