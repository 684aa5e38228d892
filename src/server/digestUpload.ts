import { CloseCode, DIGEST_BYTES, DIGESTS_PER_FRAME, ProtocolError } from '../protocol/index.ts';
import type { CatchUpBase, CatchUpComparison } from '../snapshot/index.ts';
import type { CatchUpFallback } from './catchUpPlan.ts';

/** What a `digests` message carries (decoded and shape-checked by the codec). */
export interface DigestsChunk {
  readonly level: number;
  readonly offset: number;
  readonly digests: Uint8Array;
}

/** The end of an upload: the base compared with, what differs, and whether the client held nothing. */
export interface DigestVerdict {
  readonly base: CatchUpBase;
  readonly diff: CatchUpComparison;
  /** Every digest the client sent was zero: it holds nothing (a new agent). */
  readonly clientEmpty: boolean;
}

/**
 * One client's upload of bucket digests (PROTOCOL.md §11, digest path): `ceil(2^level / 4096)`
 * messages, offsets 0, 4096, 8192, ... in order, each exactly 8 bytes per bucket. Any deviation
 * is a 4001 naming it.
 *
 * Memory: the upload keeps no copy of the client's digests. The catch-up base is taken at the
 * first message (not the last, as the protocol text has it: the client's digests describe its
 * own map, so the outcome is the same, with a base older by the upload's milliseconds) and each
 * message is compared with the base's digests as it arrives, leaving one bit per bucket (8 KiB at
 * level 16). Gathering the digests instead held 512 KiB per connection for as long as a client
 * took to send its last message, up to the 10 s budget: a few hundred connections that stall
 * after their first message would pin hundreds of MiB. At the end `CatchUpBase.replace` turns those
 * bits into the verdict (the keys they hold, or the full-snapshot fallback).
 */
export class DigestUpload {
  readonly level: number;
  /** Why the session is on the digest path rather than resuming (counted once the catch-up ends). */
  readonly reason: CatchUpFallback;
  #next = 0;
  #base: CatchUpBase | undefined;
  #baseDigests: Uint32Array | undefined;
  /** Bit i set: bucket i's digest from the client differs from the base's. */
  #differs: Uint8Array | undefined;
  #nonZero = false;

  constructor(level: number, reason: CatchUpFallback = 'not-offered') {
    this.level = level;
    this.reason = reason;
  }

  /** Buckets at this level. */
  get buckets(): number {
    return 2 ** this.level;
  }

  /** The base taken at the first message (undefined before it). */
  get base(): CatchUpBase | undefined {
    return this.#base;
  }

  /**
   * Takes one message (`acquire` is called once, at the first, for the base to compare with).
   * The verdict once it was the last, else undefined. Throws ProtocolError (4001).
   */
  accept(chunk: DigestsChunk, acquire: () => CatchUpBase): DigestVerdict | undefined {
    if (chunk.level !== this.level) {
      throw new ProtocolError(CloseCode.badFrame, `digests.level ${chunk.level} is not the level ${this.level} offered in hello.capabilities.digest`);
    }
    if (chunk.offset !== this.#next) throw new ProtocolError(CloseCode.badFrame, `digests.offset ${chunk.offset} is not the next expected offset ${this.#next}`);
    const n = Math.min(DIGESTS_PER_FRAME, this.buckets - this.#next);
    if (chunk.digests.length !== DIGEST_BYTES * n) {
      throw new ProtocolError(CloseCode.badFrame, `digests.digests must be ${DIGEST_BYTES * n} bytes (${n} buckets from offset ${this.#next}), not ${chunk.digests.length}`);
    }
    if (this.#base === undefined) {
      this.#base = acquire();
      this.#baseDigests = this.#base.digests(this.level);
      this.#differs = new Uint8Array(Math.ceil(this.buckets / 8));
    }
    const theirs = this.#baseDigests as Uint32Array;
    const differs = this.#differs as Uint8Array;
    const bin = chunk.digests;
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    for (let i = 0; i < n; i++) {
      const hi = view.getUint32(8 * i);
      const lo = view.getUint32(8 * i + 4);
      if (hi !== 0 || lo !== 0) this.#nonZero = true;
      const b = this.#next + i;
      if (hi !== theirs[2 * b] || lo !== theirs[2 * b + 1]) differs[b >> 3] = (differs[b >> 3] as number) | (0x80 >> (b & 7));
    }
    this.#next += n;
    if (this.#next < this.buckets) return undefined;
    const base = this.#base;
    this.#base = undefined;
    this.#baseDigests = undefined;
    this.#differs = undefined;
    return { base, diff: base.replace(this.level, differs), clientEmpty: !this.#nonZero };
  }
}
