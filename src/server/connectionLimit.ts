import { type Clock, jitter, type Timer } from '../clock.ts';
import type { Logger } from '../logger.ts';

export interface LimitInputs {
  readonly syncerTypes: number;
  readonly lower: number;
  readonly upper: number;
  /** Replicas counted from the Service's EndpointSlices, or an Error if the lookup failed. */
  readonly replicas: number | Error;
  /** Nodes known to the felix syncer, or an Error (e.g. not yet in sync). */
  readonly nodes: number | Error;
}

export interface LimitDecision {
  readonly limit: number;
  readonly reason: 'error' | 'lone-replica' | 'computed' | 'raised-to-lower' | 'capped-at-upper';
}

/**
 * Typha's connection-limit formula, in its integer arithmetic: with S syncer types, N nodes and
 * R replicas, S × (1 + ((N × 120) / (R − 1)) / 100), clamped to [lower, upper]. Dividing by
 * R − 1 leaves room for one replica being down (a rolling upgrade) and the 120 is 20 %
 * headroom. A lone replica, or any lookup error, gets the upper limit: shedding on bad data
 * would only move load around.
 */
export function computeConnectionLimit(i: LimitInputs): LimitDecision {
  if (i.replicas instanceof Error || i.nodes instanceof Error) return { limit: i.upper, reason: 'error' };
  if (i.replicas <= 1) return { limit: i.upper, reason: 'lone-replica' };
  const perType = 1 + Math.trunc(Math.trunc((i.nodes * 120) / (i.replicas - 1)) / 100);
  const candidate = i.syncerTypes * perType;
  if (candidate < i.lower) return { limit: i.lower, reason: 'raised-to-lower' };
  if (candidate > i.upper) return { limit: i.upper, reason: 'capped-at-upper' };
  return { limit: candidate, reason: 'computed' };
}

/** Unique endpoint addresses (ready or not) of the EndpointSlices carrying a port named `portName`. */
export function countReplicas(slices: unknown, portName: string): number {
  const items = (slices as { items?: unknown[] } | undefined)?.items;
  if (!Array.isArray(items)) throw new Error('EndpointSlice list has no items');
  const addresses = new Set<string>();
  for (const s of items as Array<{ ports?: Array<{ name?: string }>; endpoints?: Array<{ addresses?: string[] }> }>) {
    if (!(s.ports ?? []).some((p) => p.name === portName)) continue;
    for (const e of s.endpoints ?? []) for (const a of e.addresses ?? []) addresses.add(a);
  }
  return addresses.size;
}

export interface ConnectionLimitPollerOptions {
  readonly intervalMs: number;
  readonly syncerTypes: number;
  readonly lower: number;
  readonly upper: number;
  readonly lookupReplicas: () => Promise<number>;
  /** Throws until the felix syncer has been in sync once. */
  readonly lookupNodes: () => number;
  readonly apply: (limit: number) => void;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random?: () => number;
}

/** Recomputes the connection limit every (jittered) interval and applies it only when it changes. */
export class ConnectionLimitPoller {
  readonly #o: ConnectionLimitPollerOptions;
  #current: number;
  #timer: Timer | undefined;
  #closed = false;

  constructor(o: ConnectionLimitPollerOptions) {
    this.#o = o;
    this.#current = o.upper;
  }

  start(): void {
    this.#schedule();
  }

  /** One computation; exposed so tests and start-up can run it without waiting. */
  async poll(): Promise<LimitDecision> {
    const o = this.#o;
    let replicas: number | Error;
    let nodes: number | Error;
    try {
      replicas = await o.lookupReplicas();
    } catch (err) {
      replicas = err as Error;
    }
    try {
      nodes = o.lookupNodes();
    } catch (err) {
      nodes = err as Error;
    }
    const decision = computeConnectionLimit({ syncerTypes: o.syncerTypes, lower: o.lower, upper: o.upper, replicas, nodes });
    if (decision.limit !== this.#current && !this.#closed) {
      o.logger.info({
        replicas: replicas instanceof Error ? `error: ${replicas.message}` : replicas,
        nodes: nodes instanceof Error ? `error: ${nodes.message}` : nodes,
        syncerTypes: o.syncerTypes, limit: decision.limit, reason: decision.reason,
      }, 'connection limit recomputed');
      this.#current = decision.limit;
      o.apply(decision.limit);
    }
    return decision;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.poll().finally(() => this.#schedule());
    }, jitter(this.#o.intervalMs, 0.1, this.#o.random));
    this.#timer.unref?.();
  }
}
