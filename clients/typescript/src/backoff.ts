/**
 * Jittered exponential backoff between connection attempts. Jitter matters more than the curve:
 * after a replica dies, thousands of clients lose their connection in the same millisecond, and
 * without jitter they would all arrive at the next replica in the same millisecond too.
 */
export interface BackoffOptions {
  /** Delay before the first retry; later ones double. */
  readonly initialDelayMs: number;
  /** The cap. */
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** Fraction of each delay that is randomised: 0.5 means a delay in [d/2, d]. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({
  // Typha sleeps 100 ms between attempts; moving to another replica should be quick.
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.5,
});

export class Backoff {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** The delay before the next attempt; each call counts one more consecutive failure. */
  next(): number {
    const o = this.#options;
    const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.multiplier ** this.#failures);
    this.#failures++;
    return Math.round(base * (1 - o.jitter * this.#random()));
  }

  /** After a healthy session: the next retry starts from the initial delay again. */
  reset(): void {
    this.#failures = 0;
  }
}
