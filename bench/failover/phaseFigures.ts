/**
 * What a measured phase's agent records add up to, per group (catch-up on or off), and the
 * delta bytes an agent missed during a cut, read from an observer's marks.
 */
import type { CatchUpPath, PhaseRecord } from './agent.ts';

export interface GroupFigures {
  readonly agents: number;
  readonly caughtUp: number;
  readonly paths: string;
  readonly reasons: string;
  readonly bytesMedian: number;
  readonly bytesMax: number;
  readonly bytesTotal: number;
  /** From the phase's event (kill, or end of the cut) until the last agent of the group caught up, less any time it was held (see groupFigures). */
  readonly secondsToAll: number;
  readonly secondsMedian: number;
  /** kvs entries before snapshotEnd (snapshot or replaced buckets), median. */
  readonly entriesMedian: number;
  readonly replacedHeldMedian: number;
  readonly pendingDeletedTotal: number;
  readonly digestBytesSentMedian: number;
  readonly attemptsMax: number;
  /** Agents that caught up without having seen a delta mark (their "caught up" is only in-sync). */
  readonly withoutMarks: number;
  /** Median ms from the event until the agent saw its connection end (0 when it ended before). */
  readonly toLossMs: number;
  /** Medians, in ms, on the connection that caught up: loss or release (the later) → open, open → serverHello, → snapshotEnd, → in-sync, → caught up. */
  readonly toOpenMs: number;
  readonly openToHelloMs: number;
  readonly helloToEndMs: number;
  readonly endToInSyncMs: number;
  readonly inSyncToCaughtUpMs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${k}:${n}`).join(' ');
}

/**
 * `event` is when the phase's event happened (the kill, or the end of the cut), `released` when
 * this group was let reconnect (the event itself for the first group). An agent's time is the
 * time it took to notice the loss after the event (a killed process's sockets close only once
 * the kernel has torn it down) plus the time from its release to caught up: the wait while the
 * other group caught up is left out, the detection of the loss is not.
 */
export function groupFigures(records: readonly PhaseRecord[], event: number, released: number): GroupFigures {
  const done = records.filter((r) => r.caughtUpAt > 0);
  const bytes = done.map((r) => r.bytes);
  const seconds = done.map((r) => (Math.max(0, r.lostAt - event) + r.caughtUpAt - Math.max(released, r.lostAt)) / 1000);
  return {
    agents: records.length,
    caughtUp: done.length,
    paths: tally(records.map((r) => r.path satisfies CatchUpPath)),
    reasons: tally(records.map((r) => r.reason === '' ? '-' : r.reason)),
    bytesMedian: median(bytes),
    bytesMax: bytes.length === 0 ? NaN : Math.max(...bytes),
    bytesTotal: bytes.reduce((s, b) => s + b, 0),
    secondsToAll: done.length < records.length || seconds.length === 0 ? NaN : Math.max(...seconds),
    secondsMedian: median(seconds),
    entriesMedian: median(done.map((r) => r.catchUpEntries)),
    replacedHeldMedian: median(done.map((r) => r.replacedHeld)),
    pendingDeletedTotal: done.reduce((s, r) => s + r.pendingDeleted, 0),
    digestBytesSentMedian: median(done.map((r) => r.digestBytesSent)),
    attemptsMax: Math.max(0, ...records.map((r) => r.attempts)),
    withoutMarks: done.filter((r) => !r.marksSeen).length,
    toOpenMs: median(done.map((r) => r.openAt - Math.max(released, r.lostAt))),
    toLossMs: median(done.map((r) => Math.max(0, r.lostAt - event))),
    openToHelloMs: median(done.map((r) => r.helloAt - r.openAt)),
    helloToEndMs: median(done.map((r) => r.snapshotEndAt - r.helloAt)),
    endToInSyncMs: median(done.map((r) => r.inSyncAt - r.snapshotEndAt)),
    inSyncToCaughtUpMs: median(done.map((r) => r.caughtUpAt - r.inSyncAt)),
  };
}

/**
 * Delta bytes an online observer on the same replica received between the agent's resume
 * position and the mark it caught up at: the observer's cumulative bytes at the first mark at or
 * after `to`, minus those at the last mark at or before `from` (0 when `from` precedes every mark
 * of the phase). `marks` is flat: [seq, cumulative bytes, ...], seq ascending.
 */
export function missedBytes(marks: readonly number[], from: number, to: number): number | undefined {
  let fromBytes = 0;
  let toBytes: number | undefined;
  for (let i = 0; i < marks.length; i += 2) {
    const seq = marks[i] as number;
    const cum = marks[i + 1] as number;
    if (seq <= from) fromBytes = cum;
    if (seq >= to) {
      toBytes = cum;
      break;
    }
  }
  return toBytes === undefined ? undefined : toBytes - fromBytes;
}
