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

/**
 * About this many keys' frames are built at once for one session's replaced buckets (about 1 MB
 * of WorkloadEndpoints). The frames are per client, so a digest catch-up that replaces nearly
 * half of a 100,000-key model would otherwise hold some 20 MB per session for as long as the
 * client takes to read them.
 */
const KEYS_PER_GROUP = 2000;

/**
 * `bitmap` cut into consecutive groups of whole bytes (8 buckets), in bucket order, each holding
 * about KEYS_PER_GROUP of the `replacedKeys` (at most 64 groups, each an 8 KiB copy at level 16);
 * groups with no bit set are left out. One group, the bitmap itself, when the replaced keys are few.
 */
export function replacedGroups(bitmap: Buffer, replacedKeys: number): Buffer[] {
  const groups = Math.min(64, bitmap.length, Math.ceil(replacedKeys / KEYS_PER_GROUP));
  if (groups <= 1) return [bitmap];
  const per = Math.ceil(bitmap.length / groups);
  const out: Buffer[] = [];
  for (let at = 0; at < bitmap.length; at += per) {
    const end = Math.min(bitmap.length, at + per);
    if (bitmap.subarray(at, end).every((b) => b === 0)) continue;
    const part = Buffer.alloc(bitmap.length);
    bitmap.copy(part, at, at, end);
    out.push(part);
  }
  return out;
}
