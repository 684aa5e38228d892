import type { WireKV } from '../../../src/protocol/index.ts';
import type { SyncStatus, Update, UpdateType } from './types.ts';

/** One item handed to the host: a batch of updates or one status. */
export type Delivery =
  | { readonly kind: 'updates'; readonly updates: readonly Update[] }
  | { readonly kind: 'status'; readonly status: SyncStatus };

interface QueuedKV {
  readonly kind: 'kv';
  readonly key: string;
  /** null = deletion. */
  value: unknown;
  revision: string;
}

interface QueuedStatus {
  readonly kind: 'status';
  status: SyncStatus;
}

/**
 * The in-process resync buffer between the wire and the host (Typha's dedupe buffer).
 *
 * Contract:
 * - Ordered: the host sees updates and statuses in the order they arrived, except that a newer
 *   update to a queued key takes the queued entry's place (so it can only move earlier, and an
 *   `in-sync` is never delivered before an update that preceded it).
 * - At most one queued entry per key, so a slow host makes the queue skip ahead; its length is
 *   bounded by the number of keys plus interleaved statuses, never by the update rate.
 * - It knows exactly which keys the host holds (`state`), labels each delivered update against
 *   that, drops deletions of keys the host never received, and never repeats a status.
 * - It applies the resync rule of docs/PROTOCOL.md §10 step 7 exactly, in the document's terms
 *   (the pending set; each step is marked below). After `connectionLost()` the undelivered
 *   queue is discarded (the next snapshot supersedes it) and `wait-for-datastore` is reported.
 *   If the new server never says `in-sync` the stale keys stay: the host sees the union, never
 *   a premature deletion.
 *
 * Implementation: a `Map` is an insertion-ordered hash, which is exactly an ordered queue with
 * per-key lookup; `set` on an existing key keeps its position (coalescing in place) and deleting
 * during iteration is safe. Status entries are keyed by a fresh object so they can never collide
 * with a string key. Why not a linked list: the Map gives the same O(1) operations with less code.
 * Labels are computed when an entry leaves the queue, against `#held` at that moment, which is
 * equivalent to Typha's relabel-on-enqueue because a key has at most one queued entry.
 */
export class ResyncBuffer {
  readonly #queue = new Map<string | object, QueuedKV | QueuedStatus>();
  /** The queue key of the status entry at the tail, while the tail is a status. */
  #tailStatus: object | undefined;
  /** What the host holds: key → value, updated as entries are handed over. */
  readonly #held = new Map<string, unknown>();
  /**
   * §10 step 7, the pending set: the keys the host holds that the current server has not yet
   * mentioned. Step 7.1: none on the first connection.
   */
  #pending: Set<string> | undefined;
  #lastQueuedStatus: SyncStatus | undefined;
  #lastDeliveredStatus: SyncStatus | undefined;
  #wake: (() => void) | undefined;

  #received = 0;
  #delivered = 0;
  #coalesced = 0;
  #synthesised = 0;
  #maxQueued = 0;

  /** key → value exactly as the host has been told. Read-only view; do not mutate. */
  get state(): ReadonlyMap<string, unknown> {
    return this.#held;
  }

  /** The last status handed to the host, if any. */
  get status(): SyncStatus | undefined {
    return this.#lastDeliveredStatus;
  }

  get resyncing(): boolean {
    return this.#pending !== undefined;
  }

  get stats(): { received: number; delivered: number; coalesced: number; synthesised: number; queued: number; maxQueued: number } {
    return {
      received: this.#received, delivered: this.#delivered, coalesced: this.#coalesced,
      synthesised: this.#synthesised, queued: this.#queue.size, maxQueued: this.#maxQueued,
    };
  }

  /** Queues the entries of one `kvs` frame. Never blocks, never throws for well-formed entries. */
  applyKvs(kvs: readonly WireKV[]): void {
    for (const kv of kvs) {
      const key = kv[0];
      const deletion = kv[3] === 3 || kv[1] === null || kv[1] === undefined;
      this.#received++;
      // Step 7.3: every kvs entry removes its key from the pending set, whatever its update
      // type (a snapshot entry, a delta re-setting the key, or a deletion).
      this.#pending?.delete(key);
      const queued = this.#queue.get(key) as QueuedKV | undefined;
      if (deletion && !this.#held.has(key)) {
        // The host never received this key: a queued creation is cancelled, and a deletion on
        // its own would tell the host about a key it does not have.
        if (queued !== undefined) this.#queue.delete(key);
        this.#coalesced++;
        continue;
      }
      const value = deletion ? null : kv[1];
      if (queued !== undefined) {
        queued.value = value;
        queued.revision = kv[2];
        this.#coalesced++;
      } else {
        this.#append(key, { kind: 'kv', key, value, revision: kv[2] });
      }
    }
    this.#notify();
  }

  /** A new connection has been accepted by a server; its snapshot follows. */
  connectionStarted(): void {
    this.#queueStatus('resync-in-progress');
  }

  /**
   * The connection ended. Undelivered entries are dropped because the next server's snapshot
   * supersedes them; what the host holds is remembered so vanished keys can be deleted later.
   */
  connectionLost(): void {
    this.#queue.clear();
    this.#tailStatus = undefined;
    // Steps 7.2 and 7.6: a connection that had its serverHello ended, so the pending set
    // becomes every key the host holds, replacing any earlier one (whose keys are all still held).
    this.#pending = new Set(this.#held.keys());
    this.#lastQueuedStatus = this.#lastDeliveredStatus;
    this.#queueStatus('wait-for-datastore');
    this.#notify();
  }

  /** A status from the server. `in-sync` ends a resync, deleting held keys it never mentioned. */
  applyStatus(status: SyncStatus): void {
    // Step 7.4: at in-sync, delete every key still pending (queued before the status, so the
    // host gets the deletions first), then discard the set. Step 7.5: no other status touches it.
    if (status === 'in-sync' && this.#pending !== undefined) {
      for (const key of this.#pending) {
        this.#append(key, { kind: 'kv', key, value: null, revision: '' });
        this.#synthesised++;
      }
      this.#pending = undefined;
    }
    this.#queueStatus(status);
    this.#notify();
  }

  /**
   * Takes the next delivery off the head of the queue: one status, or up to `maxBatch`
   * consecutive updates (a batch never spans a status). Returns undefined when nothing is queued.
   */
  take(maxBatch: number): Delivery | undefined {
    const updates: Update[] = [];
    for (const [queueKey, entry] of this.#queue) {
      if (entry.kind === 'status') {
        if (updates.length > 0) break;
        this.#queue.delete(queueKey);
        if (queueKey === this.#tailStatus) this.#tailStatus = undefined;
        if (entry.status === this.#lastDeliveredStatus) continue;
        this.#lastDeliveredStatus = entry.status;
        return { kind: 'status', status: entry.status };
      }
      this.#queue.delete(queueKey);
      const update = this.#label(entry);
      if (update === undefined) continue;
      updates.push(update);
      if (updates.length >= maxBatch) break;
    }
    if (this.#queue.size === 0) this.#tailStatus = undefined;
    if (updates.length === 0) return undefined;
    this.#delivered += updates.length;
    return { kind: 'updates', updates };
  }

  /** Resolves when something may be queued (at once if something already is). */
  whenReady(): Promise<void> {
    if (this.#queue.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#wake;
      this.#wake = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Wakes any waiter without queuing anything (used on close). */
  interrupt(): void {
    this.#notify(true);
  }

  #label(entry: QueuedKV): Update | undefined {
    const holds = this.#held.has(entry.key);
    let type: UpdateType;
    if (entry.value === null) {
      if (!holds) return undefined;
      this.#held.delete(entry.key);
      type = 'deleted';
    } else {
      type = holds ? 'updated' : 'new';
      this.#held.set(entry.key, entry.value);
    }
    return { key: entry.key, value: entry.value, revision: entry.revision, type };
  }

  #append(key: string, entry: QueuedKV): void {
    this.#queue.set(key, entry);
    this.#tailStatus = undefined;
    if (this.#queue.size > this.#maxQueued) this.#maxQueued = this.#queue.size;
  }

  #queueStatus(status: SyncStatus): void {
    if (status === this.#lastQueuedStatus) return;
    this.#lastQueuedStatus = status;
    if (this.#tailStatus !== undefined) {
      // Two statuses in a row: only the later one matters to the host.
      const tail = this.#queue.get(this.#tailStatus) as QueuedStatus;
      tail.status = status;
      return;
    }
    const token = {};
    this.#queue.set(token, { kind: 'status', status });
    this.#tailStatus = token;
    if (this.#queue.size > this.#maxQueued) this.#maxQueued = this.#queue.size;
  }

  #notify(force = false): void {
    if (this.#wake === undefined || (!force && this.#queue.size === 0)) return;
    const wake = this.#wake;
    this.#wake = undefined;
    wake();
  }
}
