/**
 * Parent side of the failover scenario's agents: several agent processes (agentProcess.ts), each
 * holding agents of one kind (catch-up on, or off), so that the two kinds compete for the CPU as
 * separate processes rather than inside one event loop. Requests go to every process and the
 * answers are merged.
 */
import path from 'node:path';
import { type CpuPinning, spawnPinned } from '../cpuPinning.ts';
import { ChildHandle } from '../ipc.ts';
import type { AgentSpec, PhaseRecord } from './agent.ts';
import type { AgentSummary, PhaseProgress } from './agentProcess.ts';

const ENTRY = path.join(import.meta.dirname, 'agentProcess.ts');

export interface AgentGroup {
  readonly catchUp: boolean;
  readonly specs: readonly AgentSpec[];
}

export class AgentFleet {
  readonly #children: ChildHandle[];
  readonly #specs: ReadonlyArray<readonly AgentSpec[]>;

  /** One process per entry of `perProcess` (every spec of an entry runs in that process). */
  constructor(perProcess: ReadonlyArray<readonly AgentSpec[]>, pin?: CpuPinning) {
    this.#specs = perProcess;
    this.#children = perProcess.map(() => spawnPinned(pin, 'agents', () => new ChildHandle(ENTRY)));
  }

  get pids(): number[] {
    return this.#children.map((c) => c.pid);
  }

  get processCount(): number {
    return this.#children.length;
  }

  /** Starts every agent, `concurrency` connecting at a time per process; resolves when all have been in sync once. */
  async start(concurrency: number, timeoutMs: number): Promise<void> {
    await withTimeout(Promise.all(this.#children.map((c, i) => c.request('start', { specs: this.#specs[i], concurrency }))), timeoutMs, 'agents did not all reach in-sync');
  }

  async setLive(live: readonly number[]): Promise<void> {
    await Promise.all(this.#children.map((c) => c.request('setLive', { live })));
  }

  async beginPhase(replicas: readonly number[]): Promise<void> {
    await Promise.all(this.#children.map((c) => c.request('beginPhase', { replicas })));
  }

  async setTargets(targets: ReadonlyMap<number, number>): Promise<void> {
    await Promise.all(this.#children.map((c) => c.request('setTargets', { targets: [...targets] })));
  }

  /** Process indexes of one group: the first half of the processes hold the catch-up agents. */
  group(catchUp: boolean): number[] {
    const half = this.#children.length / 2;
    return this.#children.map((_, i) => i).filter((i) => (i < half) === catchUp);
  }

  /** Agents of the processes `which` do not reconnect after a loss until `release`. */
  async hold(which: readonly number[]): Promise<void> {
    await Promise.all(which.map((i) => (this.#children[i] as ChildHandle).request('hold')));
  }

  async release(which: readonly number[]): Promise<void> {
    await Promise.all(which.map((i) => (this.#children[i] as ChildHandle).request('release')));
  }

  /**
   * For the processes `which`: resolves when, in each, every agent that lost its connection has
   * caught up, once at least `minLost(specs)` of its agents lost one (or at the timeout).
   */
  async awaitCaughtUp(which: readonly number[], minLost: (specs: readonly AgentSpec[]) => number, timeoutMs: number): Promise<boolean> {
    const r = await Promise.all(which.map((i) => (this.#children[i] as ChildHandle).request<PhaseProgress & { complete: boolean }>('awaitCaughtUp', {
      minLost: minLost(this.#specs[i] as readonly AgentSpec[]), timeoutMs,
    })));
    return r.every((x) => x.complete);
  }

  async progress(): Promise<PhaseProgress> {
    const r = await Promise.all(this.#children.map((c) => c.request<PhaseProgress>('progress')));
    return { lost: r.reduce((s, p) => s + p.lost, 0), caughtUp: r.reduce((s, p) => s + p.caughtUp, 0), synced: r.reduce((s, p) => s + p.synced, 0) };
  }

  async records(): Promise<PhaseRecord[]> {
    return (await Promise.all(this.#children.map((c) => c.request<PhaseRecord[]>('records')))).flat();
  }

  /** Observers' marks: replica index → flat [seq, cumulative delta bytes, ...] since the phase began. */
  async marks(): Promise<Map<number, number[]>> {
    const all = (await Promise.all(this.#children.map((c) => c.request<Array<[number, number[]]>>('marks')))).flat();
    return new Map(all);
  }

  async summaries(): Promise<AgentSummary[]> {
    return (await Promise.all(this.#children.map((c) => c.request<AgentSummary[]>('summaries')))).flat();
  }

  async hashes(): Promise<{ computed: number; reused: number; frameHits: number; frameMisses: number }> {
    type H = { computed: number; reused: number; frameHits: number; frameMisses: number };
    const r = await Promise.all(this.#children.map((c) => c.request<H>('hashes')));
    const sum = (k: keyof H) => r.reduce((s, h) => s + h[k], 0);
    return { computed: sum('computed'), reused: sum('reused'), frameHits: sum('frameHits'), frameMisses: sum('frameMisses') };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.stop()));
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
