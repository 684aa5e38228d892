/**
 * Time as components see it. Injected so timing-dependent behaviour (fall-behind, timeouts,
 * pacing, staleness) can be tested with a manual clock instead of sleeps.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

/** An opaque timer handle; `unref` lets the process exit while it is pending. */
export interface Timer {
  unref?(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

/** Random jitter in [0, fraction × base): spreads periodic work so replicas and clients do not align. */
export function jitter(base: number, fraction: number, random: () => number = Math.random): number {
  return base + base * fraction * random();
}
