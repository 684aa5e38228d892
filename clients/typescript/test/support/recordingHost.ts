import { setTimeout as sleep } from 'node:timers/promises';
import type { SyncHandler, SyncStatus, Update } from '../../src/index.ts';

/**
 * A host (agent) that applies what the library delivers to its own map and records every
 * violation of the delivery contract: `new` for a key it holds, `updated` or `deleted` for a key
 * it does not hold, a repeated status, a delivery while the previous one is still running.
 */
export class RecordingHost implements SyncHandler {
  readonly state = new Map<string, unknown>();
  readonly statuses: SyncStatus[] = [];
  readonly violations: string[] = [];
  readonly batches: (readonly Update[])[] = [];
  updates = 0;
  #busy = false;
  readonly #delayMs: number;

  constructor(options: { delayMs?: number } = {}) {
    this.#delayMs = options.delayMs ?? 0;
  }

  async onUpdates(updates: readonly Update[]): Promise<void> {
    if (this.#busy) this.violations.push('overlapping deliveries');
    this.#busy = true;
    this.batches.push(updates);
    const keys = new Set<string>();
    for (const u of updates) {
      this.updates++;
      if (keys.has(u.key)) this.violations.push(`key twice in one batch: ${u.key}`);
      keys.add(u.key);
      const holds = this.state.has(u.key);
      if (u.type === 'new' && holds) this.violations.push(`new for held key ${u.key}`);
      if (u.type === 'updated' && !holds) this.violations.push(`updated before new: ${u.key}`);
      if (u.type === 'deleted' && !holds) this.violations.push(`deletion of key not held: ${u.key}`);
      if ((u.type === 'deleted') !== (u.value === null)) this.violations.push(`value/type mismatch for ${u.key}`);
      if (u.type === 'deleted') this.state.delete(u.key);
      else this.state.set(u.key, u.value);
    }
    if (this.#delayMs > 0) await sleep(this.#delayMs);
    this.#busy = false;
  }

  async onStatus(status: SyncStatus): Promise<void> {
    if (this.#busy) this.violations.push('overlapping deliveries');
    if (this.statuses.at(-1) === status) this.violations.push(`repeated status ${status}`);
    this.statuses.push(status);
    if (this.#delayMs > 0) {
      this.#busy = true;
      await sleep(this.#delayMs);
      this.#busy = false;
    }
  }

  get lastStatus(): SyncStatus | undefined {
    return this.statuses.at(-1);
  }
}

/** Polls `predicate` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Sorted entries of a map, for deep equality that ignores insertion order. */
export function sorted(map: ReadonlyMap<string, unknown>): [string, unknown][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
