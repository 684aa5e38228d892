import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../logger.ts';

/** One refused or failed connection attempt, before any session exists. */
export interface Rejection {
  /** Bounded: what kind of rejection, e.g. `tls-handshake`, `certificate`, `per-source-limit`. */
  readonly kind: string;
  /** The peer, `address:port`. */
  readonly peer: string;
  /** Why, for people (an OpenSSL error, the certificate's names, the source's count). */
  readonly detail: string;
}

/** Peers named in a summary line; enough to find a culprit, bounded so a flood cannot grow a line. */
const SAMPLE_PEERS = 5;

/**
 * Logs rejections without letting a flood of them become a flood of log lines. The first
 * rejection after a quiet interval is logged in full at once; the ones that follow within the
 * interval are counted, and at its end one summary line gives the counts per kind, the number
 * of distinct sources and a few sample peers and details. A steady flood therefore writes one
 * line per interval, whatever its rate.
 */
export class RejectionLog {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  #window: Timer | undefined;
  #counts = new Map<string, number>();
  #sources = new Set<string>();
  #samples: Array<{ peer: string; kind: string; detail: string }> = [];

  constructor(logger: Logger, clock: Clock, intervalMs: number) {
    this.#logger = logger;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  record(r: Rejection): void {
    if (this.#window === undefined) {
      this.#logger.warn({ kind: r.kind, peer: r.peer, detail: r.detail }, messageOf(r.kind));
      this.#open();
      return;
    }
    this.#counts.set(r.kind, (this.#counts.get(r.kind) ?? 0) + 1);
    // Sources are bounded too: past a few thousand distinct ones the exact number adds nothing.
    if (this.#sources.size < 10_000) this.#sources.add(r.peer.replace(/:\d+$/, ''));
    if (this.#samples.length < SAMPLE_PEERS) this.#samples.push({ peer: r.peer, kind: r.kind, detail: r.detail });
  }

  close(): void {
    if (this.#window !== undefined) this.#clock.clearTimeout(this.#window);
    this.#window = undefined;
    this.#flush();
  }

  #open(): void {
    this.#window = this.#clock.setTimeout(() => {
      this.#window = undefined;
      // A window that saw more rejections is followed by another, so a flood keeps to one line per interval.
      if (this.#flush()) this.#open();
    }, this.#intervalMs);
    this.#window.unref?.();
  }

  /** Writes the summary of the counted rejections; false when there were none. */
  #flush(): boolean {
    if (this.#counts.size === 0) return false;
    const counts = Object.fromEntries(this.#counts);
    const total = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    this.#logger.warn({ total, counts, sources: this.#sources.size, samples: this.#samples, intervalMs: this.#intervalMs },
      `${total} connection attempts rejected in the last ${this.#intervalMs / 1000}s (summary)`);
    this.#counts = new Map();
    this.#sources = new Set();
    this.#samples = [];
    return true;
  }
}

function messageOf(kind: string): string {
  switch (kind) {
    case 'tls-handshake': return 'TLS handshake failed';
    case 'certificate': return 'refused a client certificate';
    case 'per-source-limit': return 'refused a connection: its source is at the per-source connection cap';
    default: return `refused a connection (${kind})`;
  }
}
