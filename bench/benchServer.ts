/**
 * Parent side of the Cattail server process: starts it (optionally under `--cpu-prof`, optionally
 * pinned to the server's CPUs) and wraps its IPC commands in typed methods.
 */
import path from 'node:path';
import { type CpuPinning, spawnPinned } from './cpuPinning.ts';
import { ChildHandle } from './ipc.ts';
import { LatencyHistogram } from './latencyHistogram.ts';
import { SyscallCounter, type SyscallCounts } from './syscallCount.ts';
import type { EventLoopDelay, ServerProcessOptions, ServerUsage } from './serverProcess.ts';

const ENTRY = path.join(import.meta.dirname, 'serverProcess.ts');

export interface ServerCounters {
  readonly snapshotsGenerated: number;
  readonly snapshotsReused: number;
  readonly updatesTotal: number;
  readonly connectionsActive: number;
  readonly connectionsStreaming: number;
  readonly snapshotRawBytes: number;
  readonly graceUsed: number;
  /** The felix cache's newest breadcrumb sequence number (breadcrumbs minted so far). */
  readonly breadcrumbSeq: number;
}

export interface BenchServerOptions extends ServerProcessOptions {
  /** Directory for a V8 CPU profile of the whole server process life; none when undefined. */
  readonly cpuProfileDir?: string;
  readonly profileName?: string;
  /** `--pin`: the server process runs on `pin.server`. */
  readonly pin?: CpuPinning;
}

export class BenchServer {
  readonly #child: ChildHandle;
  url = '';

  private constructor(child: ChildHandle) {
    this.#child = child;
  }

  static async start(opts: BenchServerOptions): Promise<BenchServer> {
    const execArgv = ['--expose-gc'];
    if (opts.cpuProfileDir !== undefined) execArgv.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfileDir, '--cpu-prof-name', `${opts.profileName ?? 'server'}.cpuprofile`);
    const { cpuProfileDir: _d, profileName: _n, pin, ...serverOpts } = opts;
    const server = new BenchServer(spawnPinned(pin, 'server', () => new ChildHandle(ENTRY, [JSON.stringify(serverOpts)], { execArgv })));
    server.url = (await server.#child.request<{ url: string }>('address')).url;
    return server;
  }

  get pid(): number {
    return this.#child.pid;
  }

  async waitInSync(timeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await this.#child.request<boolean>('inSync'))) {
      if (performance.now() > deadline) throw new Error('server did not reach in-sync');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  burst(count: number, keys: number): Promise<{ firstStampMs: number; lastStampMs: number }> {
    return this.#child.request('burst', { count, keys });
  }

  paced(ratePerSec: number, durationMs: number, keys: number): Promise<{ emitted: number }> {
    return this.#child.request('paced', { ratePerSec, durationMs, keys });
  }

  usage(): Promise<ServerUsage> {
    return this.#child.request('usage');
  }

  gc(): Promise<void> {
    return this.#child.request('gc');
  }

  eventLoopDelay(reset = false): Promise<EventLoopDelay> {
    return this.#child.request('eventLoopDelay', { reset });
  }

  /** Starts sampling RSS (on) or stops and returns the peak (off). */
  rssWatch(on: boolean): Promise<number> {
    return this.#child.request('rssWatch', { on });
  }

  /**
   * Update entered the cache → frame handed to the socket, per session (needs `sendStamps`):
   * `clean` for sockets with nothing queued, `backedUp` for sockets whose agent lagged
   * (sendStamps.ts); `reset` clears them after reading.
   */
  async serverLatency(reset = false): Promise<{ clean: LatencyHistogram; backedUp: LatencyHistogram }> {
    type Json = { counts: number[]; maxMs: number };
    const r = await this.#child.request<{ clean: Json; backedUp: Json }>('serverLatency', { reset });
    const clean = new LatencyHistogram();
    clean.merge(r.clean);
    const backedUp = new LatencyHistogram();
    backedUp.merge(r.backedUp);
    return { clean, backedUp };
  }

  /** Starts counting the server's syscalls (`--strace`); the returned function stops and reads the counts. */
  async traceSyscalls(): Promise<() => Promise<SyscallCounts>> {
    const counter = await SyscallCounter.attach(this.pid);
    return () => counter.stop();
  }

  counters(): Promise<ServerCounters> {
    return this.#child.request('counters');
  }

  model(): Promise<{ keys: number; sha1: string; encodedBytes: number }> {
    return this.#child.request('model');
  }

  stop(): Promise<void> {
    return this.#child.stop(60_000);
  }
}

/** Server CPU seconds between two usage readings. */
export function cpuSeconds(before: ServerUsage, after: ServerUsage): number {
  return (after.cpuUserMicros + after.cpuSystemMicros - before.cpuUserMicros - before.cpuSystemMicros) / 1e6;
}
