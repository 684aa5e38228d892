import type { CatchUpPath, CatchUpReason } from '../protocol/index.ts';
import type { Breadcrumb } from '../snapshot/index.ts';

/**
 * How a session brings a client up to date after its hello (PROTOCOL.md §11): `resume` sends
 * only the deltas after the client's resume position, `digest` only the buckets whose digests
 * differ, `snapshot` everything. The wire field `serverHello.catchUp` names the path exactly
 * when the client offered resume or digest; `catchUpReason` says why a fallback was taken.
 */
export type { CatchUpPath };
export type CatchUpFallback = CatchUpReason;

/**
 * The `reason` label of `cattail_catchup_total`: `ok` for a resume, otherwise why the better
 * path was not taken. Two values exist only in metrics, because they are decided after the
 * serverHello has gone: `too-many-differ` (the digests differed in buckets holding more than
 * half the keys, so the full snapshot was sent instead) and `client-empty` (the client uploaded
 * digests of an empty map: a new agent, which needs everything anyway).
 */
export type CatchUpOutcome = 'ok' | CatchUpFallback | 'too-many-differ' | 'client-empty';

/**
 * Every (path, reason) pair a session can count, so each series starts at 0. `snapshot` with
 * `not-offered` is a client that asked for no catch-up at all (an old client, or a first
 * connection with nothing to offer); the alert on full snapshots leaves those out.
 */
export const CATCH_UP_OUTCOMES: Readonly<Record<CatchUpPath, readonly CatchUpOutcome[]>> = {
  resume: ['ok'],
  digest: ['not-offered', 'other-instance', 'expired', 'future', 'over-backlog', 'disabled'],
  snapshot: ['not-offered', 'other-instance', 'expired', 'future', 'over-backlog', 'disabled', 'too-many-differ', 'client-empty'],
};

/** What the path choice reads from the hello's capabilities (validated by the codec). */
export interface CatchUpOffer {
  readonly resume?: { readonly serverInstanceId: string; readonly seq: number } | undefined;
  readonly digest?: { readonly level: number } | undefined;
}

/** The part of the cache the choice needs (SnapshotCache satisfies it). */
export interface ResumeLookup {
  current(): Breadcrumb;
  resumeFrom(seq: number): { crumb: Breadcrumb } | { reason: 'expired' | 'future' | 'disabled' };
}

export type CatchUpChoice =
  | { readonly path: 'resume'; readonly crumb: Breadcrumb }
  | { readonly path: 'digest'; readonly level: number; readonly reason: CatchUpFallback }
  /** `reason` undefined: the client offered neither resume nor digest (serverHello then carries no catchUp). */
  | { readonly path: 'snapshot'; readonly reason: CatchUpFallback | undefined };

export interface CatchUpPolicy {
  readonly serverInstanceId: string;
  /** `--digest-catchup`. */
  readonly digestEnabled: boolean;
  /** `--max-backlog-bytes`: a resume whose missed deltas exceed it would be closed with 4010 at once. */
  readonly maxBacklogBytes: number;
}

/**
 * The path for one hello: resume when the client's position is on this instance, still
 * retained, not from the future and within the backlog bound; else digest when the client
 * offered it and the server has it on; else a full snapshot. Never a close: every refusal is a
 * fallback with its reason. Pure apart from the cache lookup (which prunes expired breadcrumbs).
 */
export function chooseCatchUp(offer: CatchUpOffer, cache: ResumeLookup, policy: CatchUpPolicy): CatchUpChoice {
  let reason: CatchUpFallback = 'not-offered';
  const resume = offer.resume;
  if (resume !== undefined) {
    if (resume.serverInstanceId !== policy.serverInstanceId) reason = 'other-instance';
    else {
      const found = cache.resumeFrom(resume.seq);
      if ('reason' in found) reason = found.reason;
      else if (cache.current().deltaBytesThrough - found.crumb.deltaBytesThrough > policy.maxBacklogBytes) reason = 'over-backlog';
      else return { path: 'resume', crumb: found.crumb };
    }
  }
  if (offer.digest !== undefined) {
    if (policy.digestEnabled) return { path: 'digest', level: offer.digest.level, reason };
    return { path: 'snapshot', reason: 'disabled' };
  }
  return { path: 'snapshot', reason: resume === undefined ? undefined : reason };
}
