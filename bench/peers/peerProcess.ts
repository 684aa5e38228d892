/**
 * A peer daemon (redis-server, etcd) started by the bench on 127.0.0.1: spawned from its Debian
 * package's binary (installed with apt-get when missing), polled until it answers, measured by
 * its CPU time from /proc, and stopped (with its temporary data directory removed) afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSystemTools } from '../../test/support/systemPackages.ts';
import { type CpuPinning, spawnPinned } from '../cpuPinning.ts';

export interface PeerSpec {
  readonly name: string;
  readonly binary: string;
  readonly aptPackage: string;
  args(dataDir: string, port: number, extraPort: number): string[];
  /** Resolves true once the daemon answers on its port. */
  ready(port: number): Promise<boolean>;
}

/** Makes sure the binary exists, installing its package if possible; returns why not otherwise. */
export function ensureInstalled(spec: PeerSpec): string | undefined {
  if (existsSync(spec.binary)) return undefined;
  const problems = ensureSystemTools([{ command: path.basename(spec.binary), aptPackage: spec.aptPackage }]);
  if (existsSync(spec.binary)) return undefined;
  return problems[0] ?? `${spec.binary} is missing after installing ${spec.aptPackage}`;
}

export class PeerProcess {
  readonly port: number;
  readonly #proc: ChildProcess;
  readonly #dataDir: string;
  /** Kills the daemon if the bench itself exits without stopping it. */
  readonly #killOnExit = () => this.#proc.kill('SIGKILL');

  private constructor(proc: ChildProcess, port: number, dataDir: string) {
    this.#proc = proc;
    this.port = port;
    this.#dataDir = dataDir;
    process.once('exit', this.#killOnExit);
  }

  /**
   * Data lives on /dev/shm when present, so disk syncs do not dominate a fan-out measurement.
   * With `pin` the daemon runs on the server's CPUs: it plays the server's part, and its
   * subscribers the agents'.
   */
  static async start(spec: PeerSpec, port: number, extraPort: number, pin?: CpuPinning): Promise<PeerProcess> {
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const dataDir = await mkdtemp(path.join(base, `cattail-bench-${spec.name}-`));
    const proc = spawnPinned(pin, 'server', () => spawn(spec.binary, spec.args(dataDir, port, extraPort), { stdio: 'ignore' }));
    const peer = new PeerProcess(proc, port, dataDir);
    const deadline = performance.now() + 20_000;
    while (!(await spec.ready(port).catch(() => false))) {
      if (proc.exitCode !== null || performance.now() > deadline) {
        await peer.stop();
        throw new Error(`${spec.name} did not start on 127.0.0.1:${port}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return peer;
  }

  get pid(): number {
    return this.#proc.pid ?? -1;
  }

  /** User + system CPU seconds the daemon has used so far (from /proc/<pid>/stat). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / clockTicksPerSecond();
  }

  /** Resident memory of the daemon, bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m === null ? NaN : Number(m[1]) * 1024;
  }

  async stop(): Promise<void> {
    process.off('exit', this.#killOnExit);
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
      this.#proc.kill('SIGTERM');
      const t = setTimeout(() => this.#proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await rm(this.#dataDir, { recursive: true, force: true });
  }
}

function clockTicksPerSecond(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}
