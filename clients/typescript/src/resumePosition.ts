import type { ResumePosition as WireResumePosition } from '../../../src/protocol/index.ts';
import type { CatchUpPath } from './types.ts';

/** What a client offers in `hello.capabilities.resume` (docs/PROTOCOL.md §11). */
export type ResumeOffer = WireResumePosition;

/**
 * The client's resume position (§11): `(serverInstanceId, seq)` of the breadcrumb whose state
 * the client's map holds once everything received so far is applied.
 *
 * - Set at a connection's `snapshotEnd` (its `seq`), and moved by every delta frame of the same
 *   connection that carries `seq`.
 * - Cleared by any serverHello that does not say `catchUp: "resume"`; it becomes valid again at
 *   that connection's `snapshotEnd`. A connection cut mid-snapshot thus leaves no position: its
 *   pending set still holds keys of the old state, and resuming from an older breadcrumb with
 *   it would delete live keys at in-sync.
 * - Kept by a resumed serverHello (the server continues from the offered `seq`), also when that
 *   connection ends before its `snapshotEnd`.
 */
export class ResumePosition {
  #position: ResumeOffer | undefined;
  /** The current connection's server, between its serverHello and its end. */
  #instance: string | undefined;
  /** The current connection has reached (or, resumed, inherits) a valid position. */
  #tracking = false;

  /** The position to offer in the next hello, if any. */
  get offer(): ResumeOffer | undefined {
    return this.#position;
  }

  serverHello(serverInstanceId: string, path: CatchUpPath | null): void {
    this.#instance = serverInstanceId;
    if (path === 'resume' && this.#position?.serverInstanceId === serverInstanceId) {
      this.#tracking = true;
      return;
    }
    this.#position = undefined;
    this.#tracking = false;
  }

  snapshotEnd(seq: number): void {
    if (this.#instance === undefined) return;
    this.#position = { serverInstanceId: this.#instance, seq };
    this.#tracking = true;
  }

  /** A delta frame carrying `seq` has been applied. */
  deltaSeq(seq: number): void {
    if (!this.#tracking || this.#position === undefined) return;
    this.#position = { serverInstanceId: this.#position.serverInstanceId, seq };
  }

  /** The connection ended; the position (if any) is what the next hello offers. */
  connectionEnded(): void {
    this.#instance = undefined;
    this.#tracking = false;
  }
}
