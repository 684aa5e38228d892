/**
 * A mergeable latency histogram with log-scale buckets (2 % wide) from 10 µs to ~100 s: client
 * processes record into their own and the orchestrator merges the plain count arrays, so
 * percentiles are exact to the bucket width however many KVs were seen.
 */
const MIN_MS = 0.01;
const GROWTH = 1.02;
/** ln(100 s / 10 µs) / ln(1.02) ≈ 814 buckets cover everything a bench can see. */
const BUCKETS = 820;
const LOG_GROWTH = Math.log(GROWTH);

export class LatencyHistogram {
  readonly counts: number[];
  count = 0;
  maxMs = 0;

  constructor(counts?: readonly number[]) {
    this.counts = counts === undefined ? new Array<number>(BUCKETS).fill(0) : [...counts];
    for (const c of this.counts) this.count += c;
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.maxMs = 0;
  }

  record(ms: number): void {
    const v = ms < MIN_MS ? MIN_MS : ms;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH));
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: { readonly counts: readonly number[]; readonly maxMs: number }): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = other.counts[i] ?? 0;
      this.counts[i] = (this.counts[i] as number) + c;
      this.count += c;
    }
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** The upper edge of the bucket holding quantile `q` (0..1), ms. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= target) return Math.min(this.maxMs, MIN_MS * GROWTH ** (i + 1));
    }
    return this.maxMs;
  }

  toJSON(): { counts: number[]; maxMs: number } {
    return { counts: this.counts, maxMs: this.maxMs };
  }
}
