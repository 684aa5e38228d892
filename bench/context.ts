import type { CpuPinning } from './cpuPinning.ts';

/** What every scenario receives from the runner: its sizes, where to put files, and a logger. */
export interface Sizes {
  readonly clientProcesses: number;
  readonly delta: { readonly clients: number; readonly updates: number; readonly keys: number; readonly peerTimeoutMs: number };
  readonly paced: { readonly clients: number; readonly ratePerSec: number; readonly durationMs: number };
  readonly snapshot: { readonly keys: number; readonly clients: number; readonly rawBytes: number };
  readonly storm: { readonly keys: number; readonly clients: number };
  readonly idle: { readonly connections: number; readonly storeKeys: number };
  readonly datastore: { readonly agents: number; readonly pods: number; readonly changes: number };
}

export const DEFAULT_SIZES: Sizes = {
  clientProcesses: 4,
  delta: { clients: 500, updates: 20_000, keys: 5_000, peerTimeoutMs: 60_000 },
  paced: { clients: 500, ratePerSec: 1_000, durationMs: 30_000 },
  snapshot: { keys: 100_000, clients: 100, rawBytes: 2 * 1024 ** 3 },
  storm: { keys: 100_000, clients: 500 },
  idle: { connections: 1_000, storeKeys: 100_000 },
  datastore: { agents: 500, pods: 1_000, changes: 100 },
};

export const QUICK_SIZES: Sizes = {
  clientProcesses: 2,
  delta: { clients: 50, updates: 2_000, keys: 500, peerTimeoutMs: 20_000 },
  paced: { clients: 50, ratePerSec: 1_000, durationMs: 3_000 },
  snapshot: { keys: 10_000, clients: 20, rawBytes: 256 * 1024 ** 2 },
  storm: { keys: 10_000, clients: 50 },
  idle: { connections: 200, storeKeys: 10_000 },
  datastore: { agents: 20, pods: 200, changes: 20 },
};

export interface BenchContext {
  readonly sizes: Sizes;
  /** `--quick`: the sizes are QUICK_SIZES (scenarios with sizes of their own pick their small ones). */
  readonly quick: boolean;
  /** Directory for CPU profiles, when profiling was asked for. */
  readonly profileDir: string | undefined;
  /** `--pin`: server role and agent role on separate CPUs (cpuPinning.ts); undefined = shared. */
  readonly pin: CpuPinning | undefined;
  /** `--peers`: which peers the delta fan-out compares against (default both). */
  readonly peers: ReadonlySet<'redis' | 'etcd'>;
  /** `--strace`: count the server's syscalls over a scenario's measured part (slows the server: not a rate run). */
  readonly strace: boolean;
  log(message: string): void;
}
