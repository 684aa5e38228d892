/**
 * The failover scenario's server side, each part in its own process: the Kubernetes API
 * emulator with the pods and the churn (emulatorProcess.ts), N Cattail replicas watching it
 * (replicaProcess.ts), and the proxies the agents connect through (proxyProcess.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type CpuPinning, spawnPinned } from '../cpuPinning.ts';
import { ChildHandle } from '../ipc.ts';
import { withTimeout } from './agentFleet.ts';
import type { ChurnCounts, EmulatorOptions } from './emulatorProcess.ts';
import { cpuSecondsOf } from './procStat.ts';
import type { ReplicaModel, ReplicaOptions } from './replicaProcess.ts';

const DIR = import.meta.dirname;

export interface Replica {
  readonly child: ChildHandle;
  /** Direct URL (observers) and the URL through the proxy (agents). */
  readonly url: string;
  readonly proxiedUrl: string;
  readonly instanceId: string;
  alive: boolean;
}

export interface ClusterOptions extends EmulatorOptions {
  readonly replicas: number;
  /** Extra Cattail flags for every replica. */
  readonly flags: readonly string[];
  readonly pin: CpuPinning | undefined;
}

export class FailoverCluster {
  readonly emulator: ChildHandle;
  readonly replicas: Replica[];
  readonly #proxy: ChildHandle;
  readonly #dir: string;

  private constructor(emulator: ChildHandle, replicas: Replica[], proxy: ChildHandle, dir: string) {
    this.emulator = emulator;
    this.replicas = replicas;
    this.#proxy = proxy;
    this.#dir = dir;
  }

  static async start(opts: ClusterOptions, log: (m: string) => void): Promise<FailoverCluster> {
    const { replicas: n, flags, pin, ...emulatorOpts } = opts;
    const emulator = new ChildHandle(path.join(DIR, 'emulatorProcess.ts'), [JSON.stringify(emulatorOpts satisfies EmulatorOptions)]);
    const dir = await mkdtemp(path.join(tmpdir(), 'cattail-bench-failover-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, await emulator.request<string>('kubeconfig'));
    log(`failover: emulator holds ${opts.pods} pods; starting ${n} replicas`);
    const children = Array.from({ length: n }, () => spawnPinned(pin, 'server', () =>
      new ChildHandle(path.join(DIR, 'replicaProcess.ts'), [JSON.stringify({ kubeconfig, flags } satisfies ReplicaOptions)])));
    const addresses = await Promise.all(children.map((c) => c.request<{ url: string; port: number; instanceId: string }>('address')));
    const proxy = new ChildHandle(path.join(DIR, 'proxyProcess.ts'), [JSON.stringify(addresses.map((a) => a.port))]);
    const ports = await proxy.request<number[]>('ports');
    const replicas = children.map((child, i) => ({
      child, url: (addresses[i] as { url: string }).url, proxiedUrl: `ws://127.0.0.1:${ports[i] as number}/sync`,
      instanceId: (addresses[i] as { instanceId: string }).instanceId, alive: true,
    }));
    return new FailoverCluster(emulator, replicas, proxy, dir);
  }

  get alive(): number[] {
    return this.replicas.flatMap((r, i) => (r.alive ? [i] : []));
  }

  async waitInSync(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (const r of this.replicas.filter((x) => x.alive)) {
      while (!(await r.child.request<boolean>('inSync'))) {
        if (performance.now() > deadline) throw new Error('a replica did not reach in-sync');
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }

  /** Newest breadcrumb of every live replica. */
  async seqs(): Promise<Map<number, number>> {
    const alive = this.alive;
    const seqs = await Promise.all(alive.map((i) => (this.replicas[i] as Replica).child.request<number>('seq')));
    return new Map(alive.map((i, k) => [i, seqs[k] as number]));
  }

  /** CPU seconds (user + system) the replicas `which` have used, together. */
  cpuSeconds(which: readonly number[]): number {
    return which.reduce((s, i) => s + cpuSecondsOf((this.replicas[i] as Replica).child.pid), 0);
  }

  /** CPU seconds so far by role: every replica (dead ones at 0), the emulator, the proxies. */
  cpuByRole(): { replicas: number; emulator: number; proxy: number } {
    const of = (pid: number) => {
      try {
        return cpuSecondsOf(pid);
      } catch {
        return 0;
      }
    };
    return { replicas: this.replicas.reduce((s, r) => s + (r.alive ? of(r.child.pid) : 0), 0), emulator: of(this.emulator.pid), proxy: of(this.#proxy.pid) };
  }

  kill(i: number): void {
    const r = this.replicas[i] as Replica;
    r.alive = false;
    r.child.child.kill('SIGKILL');
  }

  model(i: number): Promise<ReplicaModel> {
    return withTimeout((this.replicas[i] as Replica).child.request<ReplicaModel>('model'), 120_000, 'replica model');
  }

  metrics(i: number): Promise<Record<string, number>> {
    return (this.replicas[i] as Replica).child.request('metrics');
  }

  churn(ratePerSec: number): Promise<void> {
    return this.emulator.request('churn', { ratePerSec });
  }

  stopChurn(): Promise<ChurnCounts> {
    return this.emulator.request('stopChurn');
  }

  expected(): Promise<{ keys: number; sha1: string }> {
    return withTimeout(this.emulator.request('expected'), 120_000, 'expected model');
  }

  block(): Promise<void> {
    return this.#proxy.request('block');
  }

  open(): Promise<void> {
    return this.#proxy.request('open');
  }

  async stop(): Promise<void> {
    await this.#proxy.stop();
    await Promise.all(this.replicas.filter((r) => r.alive).map((r) => r.child.stop(30_000)));
    await this.emulator.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
