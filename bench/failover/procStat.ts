/**
 * CPU time of another process from /proc/<pid>/stat (Linux): user + system, in seconds. Read by
 * the orchestrator, so it measures a replica without asking it (and works just as well for a
 * replica busy serving snapshots).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime: USER_HZ, 100 on every Linux architecture Node runs on. */
const USER_HZ = 100;

export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}
