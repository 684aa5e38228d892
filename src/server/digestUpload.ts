import { CloseCode, DIGEST_BYTES, DIGESTS_PER_FRAME, ProtocolError } from '../protocol/index.ts';
import type { CatchUpFallback } from './catchUpPlan.ts';

/** What a `digests` message carries (decoded and shape-checked by the codec). */
export interface DigestsChunk {
  readonly level: number;
  readonly offset: number;
  readonly digests: Uint8Array;
}

/**
 * One client's upload of bucket digests (PROTOCOL.md §11, digest path): `ceil(2^level / 4096)`
 * messages, offsets 0, 4096, 8192, ... in order, each exactly 8 bytes per bucket. Any deviation
 * is a 4001 naming it. The digests are gathered into one array of 2 uint32 per bucket (hi, lo),
 * the form `CatchUpBase.compare` takes.
 *
 * Memory: the array is allocated on the first message, not at hello (a client that never sends
 * costs nothing until its 4004), and is the session's only until the last message, when the
 * session compares and drops it: at most 512 KiB at level 16, for milliseconds.
 */
export class DigestUpload {
  readonly level: number;
  /** Why the session is on the digest path rather than resuming (counted once the catch-up ends). */
  readonly reason: CatchUpFallback;
  #next = 0;
  #digests: Uint32Array | undefined;

  constructor(level: number, reason: CatchUpFallback = 'not-offered') {
    this.level = level;
    this.reason = reason;
  }

  /** Buckets at this level. */
  get buckets(): number {
    return 2 ** this.level;
  }

  /** Takes one message; the whole upload once it was the last, else undefined. Throws ProtocolError (4001). */
  accept(chunk: DigestsChunk): Uint32Array | undefined {
    if (chunk.level !== this.level) {
      throw new ProtocolError(CloseCode.badFrame, `digests.level ${chunk.level} is not the level ${this.level} offered in hello.capabilities.digest`);
    }
    if (chunk.offset !== this.#next) throw new ProtocolError(CloseCode.badFrame, `digests.offset ${chunk.offset} is not the next expected offset ${this.#next}`);
    const n = Math.min(DIGESTS_PER_FRAME, this.buckets - this.#next);
    if (chunk.digests.length !== DIGEST_BYTES * n) {
      throw new ProtocolError(CloseCode.badFrame, `digests.digests must be ${DIGEST_BYTES * n} bytes (${n} buckets from offset ${this.#next}), not ${chunk.digests.length}`);
    }
    const out = (this.#digests ??= new Uint32Array(2 * this.buckets));
    const bin = chunk.digests;
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    const base = 2 * this.#next;
    for (let i = 0; i < 2 * n; i++) out[base + i] = view.getUint32(4 * i);
    this.#next += n;
    if (this.#next < this.buckets) return undefined;
    this.#digests = undefined;
    return out;
  }
}

/** True when every digest is zero: the client holds nothing (or, with probability 2^-64 per bucket, cancelling content). */
export function allZero(digests: Uint32Array): boolean {
  for (let i = 0; i < digests.length; i++) if (digests[i] !== 0) return false;
  return true;
}
