import type { Clock, Timer } from '../../clock.ts';

export interface BackoffOptions {
  /** First delay after a failure. */
  initialMs: number;
  /** Delays stop growing here. */
  maxMs: number;
  /** Uniform random in [0, 1); injected so tests are deterministic. */
  random: () => number;
}

/**
 * Jittered exponential backoff: the nth consecutive failure waits a random time in
 * [d/2, d) where d = min(max, initial × 2^(n-1)). The jitter spreads the retries of many
 * replicas (and of the ~20 kinds inside one replica) so an API server coming back from an
 * outage is not hit by everyone in the same second, which is how relist storms start.
 */
export class Backoff {
  private readonly options: BackoffOptions;
  private failures = 0;

  constructor(options: BackoffOptions) {
    this.options = options;
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    this.failures += 1;
    const { initialMs, maxMs, random } = this.options;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(ceiling / 2 + (ceiling / 2) * random());
  }

  /** Called after a success: the next failure starts again at the initial delay. */
  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    let timer: Timer | undefined = undefined;
    const onAbort = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      reject(signal.reason as Error);
    };
    timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
