/**
 * `--pin`: the server role (the Cattail server process, redis-server, etcd, the raw stream's
 * sender) on one CPU and the agent role (agent processes, peer subscribers, the raw stream's
 * receiver, the orchestrator itself) on the other, so a figure can be split into what the server
 * costs and what agents competing for its core cost. Affinity is set with util-linux `taskset`
 * on every thread of a process (`-a`); threads a process creates later inherit it from the
 * thread that creates them, and a forked child inherits it from its parent.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU lists as `taskset -c` takes them, e.g. `0` and `1`. */
export interface CpuPinning {
  readonly server: string;
  readonly agents: string;
}

/** The split on a 2-CPU machine. */
export const TWO_CORE_PINNING: CpuPinning = { server: '0', agents: '1' };

/** Pins every thread of `pid` to `cpus`; throws with taskset's message if it refuses. */
export function pinProcess(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`taskset is missing (util-linux): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`taskset -a -cp ${cpus} ${pid} failed: ${r.stderr.trim()}`);
}

/** The distinct `Cpus_allowed_list` values of `pid`'s threads (one value when it is pinned as a whole). */
export function affinityOf(pid: number): string[] {
  const lists = new Set<string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
    if (m !== null) lists.add(m[1] as string);
  }
  return [...lists];
}

/** Which side of the split a process belongs to. */
export type CpuRole = 'server' | 'agents';

/**
 * Runs `spawn` (a synchronous fork or spawn) with this process's affinity set to `role`'s CPUs,
 * so the child is born pinned, with no window in which a thread of it could escape, then puts
 * this process back on the agents' CPUs (the orchestrator's side under `--pin`). Without a
 * pinning it just runs `spawn`.
 */
export function spawnPinned<T>(pin: CpuPinning | undefined, role: CpuRole, spawn: () => T): T {
  if (pin === undefined) return spawn();
  pinProcess(process.pid, pin[role]);
  try {
    return spawn();
  } finally {
    pinProcess(process.pid, pin.agents);
  }
}
