import type { SyncStatus } from './types.ts';

/** Time as the client sees it; injected so the stale timer can be tested with a manual clock. */
export interface ClientClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const systemClientClock: ClientClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The watch must never keep a process alive on its own.
    t.unref();
    return t;
  },
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

/** Longest wait between two probes while probes find no in-sync replica (§11). */
export const MAX_PROBE_INTERVAL_MS = 10 * 60_000;

export interface StaleWatchOptions {
  /** T: how long the current connection may stay out of in-sync before probing; 0 = never. */
  readonly leaveStaleAfterMs: number;
  readonly clock: ClientClock;
  readonly random: () => number;
  /**
   * Probes another replica. Resolves true when the client is moving to it (the watch then
   * stops until the next connection), false to keep waiting. Never rejects.
   */
  readonly probe: (notInSyncForMs: number, nextProbeInMs: number) => Promise<boolean>;
}

/**
 * When to leave a stale replica (docs/PROTOCOL.md §11): while the current connection's last
 * status has been anything but `in-sync` for longer than T, probe another replica.
 *
 * Jittered and bounded so a fleet whose replica lost its datastore never stampedes: the first
 * probe comes at a uniformly random time in [T, 1.5·T] after the status left in-sync (a new
 * connection counts as not in-sync from its serverHello, §10 step 4), each later one at least
 * T after the previous one, the interval doubling from T up to max(T, 10 min) while the probes
 * find no in-sync replica. One probe at a time; `in-sync` or the end of the connection
 * cancels everything.
 */
export class StaleWatch {
  readonly #o: StaleWatchOptions;
  /** When the current connection's status left in-sync; undefined while in-sync or unconnected. */
  #since: number | undefined;
  #timer: unknown;
  #interval = 0;
  #probing = false;
  /** Bumped on every reset, so a probe that resolves after one is ignored. */
  #epoch = 0;

  constructor(options: StaleWatchOptions) {
    this.#o = options;
  }

  /** The current connection's serverHello: not in sync until it says so. */
  connected(): void {
    this.#reset();
    this.#leftInSync();
  }

  /** A status on the current connection. */
  status(status: SyncStatus): void {
    if (status === 'in-sync') this.#reset();
    else if (this.#since === undefined) this.#leftInSync();
  }

  /** The current connection ended (or the client is closing). */
  disconnected(): void {
    this.#reset();
  }

  /** Milliseconds the current connection has been out of in-sync, or undefined. */
  get notInSyncForMs(): number | undefined {
    return this.#since === undefined ? undefined : this.#o.clock.now() - this.#since;
  }

  #leftInSync(): void {
    const t = this.#o.leaveStaleAfterMs;
    this.#since = this.#o.clock.now();
    if (t <= 0) return;
    this.#interval = t;
    this.#schedule(t * (1 + 0.5 * this.#o.random()));
  }

  #schedule(delayMs: number): void {
    const epoch = this.#epoch;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      if (epoch === this.#epoch) void this.#fire(epoch);
    }, delayMs);
  }

  async #fire(epoch: number): Promise<void> {
    if (this.#probing || this.#since === undefined) return;
    const next = this.#nextDelay();
    this.#probing = true;
    let moving = false;
    try {
      moving = await this.#o.probe(this.#o.clock.now() - this.#since, next);
    } catch {
      moving = false;
    } finally {
      this.#probing = false;
    }
    if (epoch !== this.#epoch || moving) return;
    this.#schedule(next);
  }

  /**
   * The wait after this probe: T after the first, then doubling up to the cap, each uniformly
   * jittered up to half above its base but never past the cap (the phases of a fleet's clients
   * stay spread by the jitter they picked up on the way).
   */
  #nextDelay(): number {
    const cap = Math.max(this.#o.leaveStaleAfterMs, MAX_PROBE_INTERVAL_MS);
    const base = Math.min(cap, this.#interval);
    this.#interval = Math.min(cap, this.#interval * 2);
    return Math.min(cap, base * (1 + 0.5 * this.#o.random()));
  }

  #reset(): void {
    this.#epoch++;
    this.#since = undefined;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#interval = 0;
  }
}
