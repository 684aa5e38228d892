/**
 * Parent side of the agents: `processes` client processes sharing `count` connections of one
 * kind, with the results of every request merged across them. The agents count the bytes they
 * receive, so a scenario can set its delivery rate beside the machine's byte rate.
 */
import path from 'node:path';
import type { ClientProcessOptions, ConnectArgs, ConnectResult } from './clientProcess.ts';
import { type CpuPinning, spawnPinned } from './cpuPinning.ts';
import { ChildHandle } from './ipc.ts';
import { LatencyHistogram } from './latencyHistogram.ts';

const ENTRY = path.join(import.meta.dirname, 'clientProcess.ts');

export class ClientFleet {
  readonly #children: ChildHandle[];
  readonly #kind: ClientProcessOptions['kind'];

  /** With `pin`, every agent process runs on `pin.agents`. */
  constructor(kind: ClientProcessOptions['kind'], processes: number, pin?: CpuPinning) {
    this.#kind = kind;
    this.#children = Array.from({ length: processes }, (_, index) => spawnPinned(pin, 'agents', () =>
      new ChildHandle(ENTRY, [JSON.stringify({ kind, index } satisfies ClientProcessOptions)])));
  }

  get kind(): ClientProcessOptions['kind'] {
    return this.#kind;
  }

  /** Connects `count` agents spread evenly; with `verify`, exactly one of them (in process 0) verifies. */
  async connect(count: number, args: Omit<ConnectArgs, 'count'>): Promise<ConnectResult> {
    const shares = this.#shares(count);
    const results = await Promise.all(this.#children.map((c, i) =>
      c.request<ConnectResult>('connect', { ...args, count: shares[i], verify: args.verify === true && i === 0 })));
    return {
      lastInSyncAt: Math.max(...results.map((r) => r.lastInSyncAt)),
      countingLastInSyncAt: Math.max(...results.map((r) => r.countingLastInSyncAt ?? 0)),
      snapshotBytes: results.reduce((s, r) => s + r.snapshotBytes, 0),
      snapshotPlainBytes: results.reduce((s, r) => s + r.snapshotPlainBytes, 0),
      snapshotKVs: results.reduce((s, r) => s + r.snapshotKVs, 0),
    };
  }

  async reset(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.request('reset')));
  }

  /** Wall-clock time at which every agent had received `count` updates since the last reset. */
  async awaitUpdates(count: number, timeoutMs: number): Promise<{ doneAt: number; complete: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const all = Promise.all(this.#children.map((c) => c.request<number>('awaitUpdates', { count })));
    const r = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (r === undefined) return { doneAt: NaN, complete: false };
    return { doneAt: Math.max(...r), complete: true };
  }

  async received(): Promise<number> {
    const r = await Promise.all(this.#children.map((c) => c.request<number>('received')));
    return r.reduce((s, n) => s + n, 0);
  }

  /** User + system CPU seconds every agent process has used so far. */
  async cpuSeconds(): Promise<number> {
    const r = await Promise.all(this.#children.map((c) => c.request<number>('cpuMicros')));
    return r.reduce((s, n) => s + n, 0) / 1e6;
  }

  /** Bytes the agents received since the last reset (Cattail: WebSocket message payloads; Redis, etcd: socket bytes). */
  async bytesReceived(): Promise<number> {
    const r = await Promise.all(this.#children.map((c) => c.request<number>('bytesReceived')));
    return r.reduce((s, n) => s + n, 0);
  }

  async latency(): Promise<LatencyHistogram> {
    const h = new LatencyHistogram();
    for (const part of await Promise.all(this.#children.map((c) => c.request<{ counts: number[]; maxMs: number }>('latency')))) h.merge(part);
    return h;
  }

  /** The verifying agent's model digest. */
  async digest(): Promise<{ keys: number; sha1: string }> {
    return (this.#children[0] as ChildHandle).request('digest');
  }

  async reconnect(): Promise<ConnectResult> {
    const results = await Promise.all(this.#children.map((c) => c.request<ConnectResult>('reconnect', {})));
    return {
      lastInSyncAt: Math.max(...results.map((r) => r.lastInSyncAt)),
      countingLastInSyncAt: Math.max(...results.map((r) => r.countingLastInSyncAt ?? 0)),
      snapshotBytes: results.reduce((s, r) => s + r.snapshotBytes, 0),
      snapshotPlainBytes: results.reduce((s, r) => s + r.snapshotPlainBytes, 0),
      snapshotKVs: results.reduce((s, r) => s + r.snapshotKVs, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map(async (c) => {
      await c.request('closeAll').catch(() => {});
      await c.stop();
    }));
  }

  #shares(count: number): number[] {
    const n = this.#children.length;
    return Array.from({ length: n }, (_, i) => Math.floor(count / n) + (i < count % n ? 1 : 0));
  }
}
