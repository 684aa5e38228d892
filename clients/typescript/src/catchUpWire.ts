import { CATCH_UP_PATHS, DIGESTS_PER_FRAME, encodeDigests, type ClientCapabilities, type DigestsMessage, type ScannedEntry, type WireKV } from '../../../src/protocol/index.ts';
import type { KvHash } from './heldDigests.ts';
import type { ResumeOffer } from './resumePosition.ts';

/**
 * The client's side of catch-up on the wire (docs/PROTOCOL.md §11), as pure functions: what a
 * hello offers, whether a serverHello's choice fits the offer, the `digests` messages, and the
 * hashes of a frame's entries. The session (connection.ts) sequences them.
 */

/** What a session offers in its hello beyond compression. */
export interface CatchUpOffer {
  /** The client's resume position, if it has one. */
  readonly resume: ResumeOffer | undefined;
  /** The digest level the client uploads at if the server asks; undefined: no digest offer. */
  readonly digestLevel: number | undefined;
}

/** The hello's capabilities: a probe asks for nothing but the status; otherwise compression and the catch-up offer. */
export function helloCapabilities(compression: readonly string[] | undefined, offer: CatchUpOffer | 'probe' | undefined): ClientCapabilities {
  if (offer === 'probe') return { probe: true };
  const resume = offer?.resume;
  const level = offer?.digestLevel;
  return {
    ...(compression === undefined ? {} : { compression }),
    ...(resume === undefined ? {} : { resume: { serverInstanceId: resume.serverInstanceId, seq: resume.seq } }),
    ...(level === undefined ? {} : { digest: { level } }),
  };
}

/**
 * Why a serverHello's `catchUp` does not fit what the hello offered (a path not offered, resume
 * on an instance the client has no position on), or undefined when it fits. Nil always fits: a
 * server that predates catch-up, or chose not to say, sends a full snapshot.
 */
export function catchUpProblem(offer: CatchUpOffer | undefined, catchUp: string | null, serverInstanceId: string): string | undefined {
  if (catchUp === null) return undefined;
  if (!(CATCH_UP_PATHS as readonly string[]).includes(catchUp)) return `serverHello.catchUp ${JSON.stringify(catchUp)} is not a catch-up path`;
  if (offer === undefined || (offer.resume === undefined && offer.digestLevel === undefined)) {
    return `server chose catch-up ${JSON.stringify(catchUp)}, which this client did not offer`;
  }
  if (catchUp === 'resume' && offer.resume?.serverInstanceId !== serverInstanceId) {
    return `server ${JSON.stringify(serverInstanceId)} chose resume, but this client offered no position on it`;
  }
  if (catchUp === 'digest' && offer.digestLevel === undefined) return 'server chose digest catch-up, which this client did not offer';
  return undefined;
}

/** The `digests` messages for a fold at `level` (2 uint32 per bucket): offsets 0, 4096, …, at most DIGESTS_PER_FRAME buckets each. */
export function digestsMessages(digests: Uint32Array, level: number): DigestsMessage[] {
  const buckets = 2 ** level;
  const out: DigestsMessage[] = [];
  for (let offset = 0; offset < buckets; offset += DIGESTS_PER_FRAME) {
    const count = Math.min(DIGESTS_PER_FRAME, buckets - offset);
    out.push({ type: 'digests', level, offset, digests: encodeDigests(digests, offset, count) });
  }
  return out;
}

/**
 * Each entry's bucket and KV hash, from the frame's plain bytes (§11: the key and value elements
 * exactly as received). The scan and the decoder read the same bytes, so the keys must agree;
 * a disagreement is a bug on one side. Throws.
 */
export function hashesOf(scan: (plain: Uint8Array) => readonly ScannedEntry[], plain: Uint8Array, kvs: readonly WireKV[]): readonly KvHash[] {
  const scanned = scan(plain);
  if (scanned.length !== kvs.length) throw new Error(`the scan found ${scanned.length} entries, the decoder ${kvs.length}`);
  for (let i = 0; i < kvs.length; i++) {
    if (scanned[i]?.key !== kvs[i]?.[0]) throw new Error(`the scan and the decoder disagree on entry ${i}'s key`);
  }
  return scanned;
}
