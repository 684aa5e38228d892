/**
 * `--strace`: counts a process's system calls over a stretch of a scenario with `strace -c -f -p`
 * (Debian's strace, installed with apt-get when missing). Tracing stops every syscall of the
 * traced process, so a traced run measures calls, never rates; scenarios report the counts beside
 * their deliveries (syscalls per delivery, `writev` per session per breadcrumb).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSystemTools } from '../test/support/systemPackages.ts';

export interface SyscallCounts {
  /** Calls by syscall name. */
  readonly calls: Readonly<Record<string, number>>;
  readonly total: number;
  /** Time strace attributes to each syscall, seconds (kernel time inside the call, inflated by tracing). */
  readonly seconds: Readonly<Record<string, number>>;
}

export class SyscallCounter {
  readonly #proc: ChildProcess;
  readonly #file: string;
  readonly #exited: Promise<void>;

  private constructor(proc: ChildProcess, file: string) {
    this.#proc = proc;
    this.#file = file;
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  /** Attaches to `pid` and every thread of it; resolves once strace says it is attached. */
  static async attach(pid: number): Promise<SyscallCounter> {
    const missing = ensureSystemTools([{ command: 'strace', aptPackage: 'strace' }]);
    if (missing.length > 0) throw new Error(missing.join('; '));
    const file = path.join(tmpdir(), `cattail-bench-strace-${pid}-${Date.now()}.txt`);
    const proc = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    const counter = new SyscallCounter(proc, file);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      proc.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
        if (/attached/.test(err)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching: ${err.trim()}`)));
    });
    return counter;
  }

  /** Detaches (SIGINT, as ^C does) and returns the summary strace wrote. */
  async stop(): Promise<SyscallCounts> {
    this.#proc.kill('SIGINT');
    await this.#exited;
    const text = await readFile(this.#file, 'utf8');
    await rm(this.#file, { force: true });
    return parseStraceSummary(text);
  }
}

/**
 * Reads `strace -c`'s table: `% time, seconds, usecs/call, calls, errors, syscall`, where the
 * errors column is blank for calls that never failed.
 */
export function parseStraceSummary(text: string): SyscallCounts {
  const calls: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t.length < 5 || !/^[\d.]+$/.test(t[0] as string) || !/^\d+$/.test(t[3] as string)) continue;
    const name = t[t.length - 1] as string;
    if (name === 'total') total = Number(t[3]);
    else {
      calls[name] = Number(t[3]);
      seconds[name] = Number(t[1]);
    }
  }
  return { calls, total, seconds };
}
