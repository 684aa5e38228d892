/**
 * Child-process entry: a share of the failover scenario's agents (agent.ts), all sharing one
 * KeyTable, driven over IPC by the scenario: start them, begin a phase, give the targets, wait
 * until every agent that lost its connection has caught up, then read their records and the
 * summaries the run verifies against the datastore.
 */
import { type Agent as AgentType, Agent, type AgentSpec, type PhaseRecord } from './agent.ts';
import { serveIpc } from '../ipc.ts';
import { FrameCache } from './frameCache.ts';
import { KeyTable } from './keyTable.ts';

/** Distinct frames kept parsed per process: a few snapshots' worth (46 MiB each at 100,000 WEPs). */
const FRAME_CACHE_BYTES = 384 * 1024 * 1024;

export interface AgentSummary {
  readonly hostname: string;
  readonly catchUp: boolean;
  readonly replica: number;
  readonly keys: number;
  readonly tableSha256: string;
  readonly violations: readonly string[];
}

export interface PhaseProgress {
  readonly lost: number;
  readonly caughtUp: number;
  /** Agents that have been in sync at least once (the first sync). */
  readonly synced: number;
}

function main(): void {
  const table = new KeyTable();
  const frames = new FrameCache(table, FRAME_CACHE_BYTES);
  const agents: AgentType[] = [];
  let firstInSync = 0;
  let onAllInSync: (() => void) | undefined;
  let onPhaseChange: (() => void) | undefined;
  const hooks = {
    onFirstInSync: () => {
      firstInSync++;
      if (firstInSync === agents.length) onAllInSync?.();
    },
    onCaughtUp: () => onPhaseChange?.(),
  };
  const progress = (): PhaseProgress => {
    let lost = 0;
    let caughtUp = 0;
    for (const a of agents) {
      if (a.phase?.lost === true) lost++;
      if ((a.phase?.caughtUpAt ?? 0) > 0) caughtUp++;
    }
    return { lost, caughtUp, synced: firstInSync };
  };

  serveIpc({
    /** Starts every agent (at most `concurrency` connecting at a time); resolves when all have been in sync once. */
    start: async (a: { specs: AgentSpec[]; concurrency: number }) => {
      const fresh = a.specs.map((spec) => new Agent(spec, table, frames, hooks));
      agents.push(...fresh);
      const all = new Promise<void>((resolve) => {
        onAllInSync = resolve;
      });
      let next = 0;
      const startNext = () => {
        if (next < fresh.length) (fresh[next++] as AgentType).start();
      };
      // Paced start: the next agent connects when one reaches in-sync, `concurrency` in flight.
      const inner = hooks.onFirstInSync;
      hooks.onFirstInSync = () => {
        inner();
        startNext();
      };
      for (let i = 0; i < a.concurrency; i++) startNext();
      await all;
      hooks.onFirstInSync = inner;
      return agents.length;
    },
    hold: () => {
      for (const ag of agents) if (ag.spec.observer !== true) ag.hold(true);
    },
    release: () => {
      for (const ag of agents) ag.release();
    },
    setLive: (a: { live: number[] }) => {
      for (const ag of agents) ag.setLive(a.live);
    },
    beginPhase: (a: { replicas: number[] }) => {
      for (const ag of agents) ag.beginPhase(a.replicas);
    },
    setTargets: (a: { targets: Array<[number, number]> }) => {
      const m = new Map(a.targets);
      for (const ag of agents) ag.setTargets(m);
    },
    progress,
    /** Resolves when every agent that lost its connection has caught up and at least `minLost` lost one, or at the timeout. */
    awaitCaughtUp: (a: { minLost: number; timeoutMs: number }) => new Promise<PhaseProgress & { complete: boolean }>((resolve) => {
      const timer = setTimeout(() => done(false), a.timeoutMs);
      const check = () => {
        const p = progress();
        if (p.lost >= a.minLost && p.caughtUp === p.lost) done(true);
      };
      const poll = setInterval(check, 100);
      function done(complete: boolean): void {
        clearTimeout(timer);
        clearInterval(poll);
        onPhaseChange = undefined;
        resolve({ ...progress(), complete });
      }
      onPhaseChange = check;
      check();
    }),
    records: (): PhaseRecord[] => agents.flatMap((ag) => (ag.phase === undefined ? [] : [ag.phase])),
    /** Observers' delta marks since the phase began: replica index → flat [seq, cumulative bytes, ...]. */
    marks: (): Array<[number, number[]]> => agents.filter((ag) => ag.spec.observer === true).map((ag) => [ag.replica, ag.marks]),
    summaries: (): AgentSummary[] => agents.filter((ag) => ag.spec.observer !== true).map((ag) => ({
      hostname: ag.spec.hostname, catchUp: ag.spec.catchUp, replica: ag.replica, ...ag.held.summary(), violations: ag.violations,
    })),
    hashes: () => ({ computed: table.hashesComputed, reused: table.hashesReused, keys: table.size, frameHits: frames.hits, frameMisses: frames.misses }),
    exit: () => {
      for (const ag of agents) ag.stop();
    },
  });
}

if (import.meta.main) main();
