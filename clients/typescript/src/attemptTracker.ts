import type { Discovery } from './discovery.ts';
import { CattailClientError, asClientError } from './errors.ts';
import type { ServerAddress } from './types.ts';

/** Forget a tried address this long after it left the list (Typha's 5 minutes). */
const DEFAULT_FORGET_AFTER_MS = 5 * 60_000;

export interface NextAddress {
  readonly address: ServerAddress;
  /** Set when discovery failed and the previous list was used instead. */
  readonly discoveryError: CattailClientError | undefined;
}

/**
 * Chooses the address of each connection attempt (Typha's ConnectionAttemptTracker).
 *
 * The tried set survives across connections: after a long-lived connection to replica A ends
 * (for example A shed it to rebalance), the next attempt goes to a replica not yet tried, which
 * is what turns server-side shedding into real rebalancing. Once every listed address has been
 * tried the set is cleared and the walk restarts from the head of the (preference-ordered) list.
 * The list is reloaded before every attempt; entries for addresses that vanished from it are
 * forgotten after `forgetAfterMs`.
 *
 * A round is `2 × max(n, 3)` consecutive failed attempts (n = addresses last listed): enough to
 * visit every replica twice. `failed()` says when a round is used up, so the caller can report
 * "no server reachable" and back off for longer; a success starts a new round.
 */
export class AttemptTracker {
  readonly #discovery: Discovery;
  readonly #now: () => number;
  readonly #forgetAfterMs: number;
  /** url → when it was last seen in a discovery result. */
  readonly #tried = new Map<string, number>();
  #lastList: readonly ServerAddress[] = [];
  #failuresThisRound = 0;
  #lastPick: string | undefined;
  /** Asked for by `preferNext()`: the next attempt goes there if it is still listed. */
  #preferred: string | undefined;

  constructor(discovery: Discovery, options: { now?: () => number; forgetAfterMs?: number } = {}) {
    this.#discovery = discovery;
    this.#now = options.now ?? Date.now;
    this.#forgetAfterMs = options.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
  }

  /** How many addresses the last successful discovery listed. */
  get listSize(): number {
    return this.#lastList.length;
  }

  /** Attempts a round allows for the list last loaded. */
  get roundSize(): number {
    return 2 * Math.max(this.#lastList.length, 3);
  }

  /** The URLs currently in the tried set (for diagnostics and tests). */
  get tried(): readonly string[] {
    return [...this.#tried.keys()];
  }

  /**
   * Reloads the list and returns the first address not tried yet, marking it tried. Throws
   * DISCOVERY_FAILED only when discovery fails and no earlier list exists.
   */
  async next(): Promise<NextAddress> {
    let list: readonly ServerAddress[];
    let discoveryError: CattailClientError | undefined;
    try {
      list = await this.#discovery.load();
      if (list.length === 0) throw new CattailClientError('DISCOVERY_FAILED', `${this.#discovery.description}: no servers listed`);
      this.#lastList = list;
    } catch (err) {
      discoveryError = asClientError(err, 'DISCOVERY_FAILED');
      if (this.#lastList.length === 0) throw discoveryError;
      // An API hiccup should not stop reconnection: the previous list is the best guess we have.
      list = this.#lastList;
    }
    const now = this.#now();
    const listed = new Set(list.map((a) => a.url));
    for (const [url, seenAt] of this.#tried) {
      if (listed.has(url)) this.#tried.set(url, now);
      else if (now - seenAt > this.#forgetAfterMs) this.#tried.delete(url);
    }
    const preferred = this.#preferred;
    this.#preferred = undefined;
    let pick = (preferred === undefined ? undefined : list.find((a) => a.url === preferred)) ?? list.find((a) => !this.#tried.has(a.url));
    if (pick === undefined) {
      // Everything listed has been tried: start a new pass from the most preferred address,
      // except the one tried last, which has just failed or shed us (unless it is the only one).
      for (const a of list) if (a.url !== this.#lastPick) this.#tried.delete(a.url);
      pick = list.find((a) => !this.#tried.has(a.url)) ?? (list[0] as ServerAddress);
    }
    this.#tried.set(pick.url, now);
    this.#lastPick = pick.url;
    return { address: pick, discoveryError };
  }

  /** The attempt did not reach a working session. Returns true when this used up the round. */
  failed(): boolean {
    this.#failuresThisRound++;
    if (this.#failuresThisRound < this.roundSize) return false;
    this.#failuresThisRound = 0;
    return true;
  }

  /**
   * The next attempt should go to `url` (the client is leaving a stale replica for it, §11),
   * whether tried or not, provided the next list still has it; later attempts walk as usual.
   */
  preferNext(url: string): void {
    this.#preferred = url;
  }

  /** An attempt reached a working session: a new round starts. The tried set is kept on purpose. */
  succeeded(): void {
    this.#failuresThisRound = 0;
  }
}
