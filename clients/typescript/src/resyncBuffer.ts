import type { WireKV } from '../../../src/protocol/index.ts';
import { HeldDigests, type KvHash } from './heldDigests.ts';
import type { CatchUpPath, SyncStatus, Update, UpdateType } from './types.ts';

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
  /** The bucket and KV hash of `value` as received (undefined for a deletion or a plain entry). */
  hash: KvHash | undefined;
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
 * - Catch-up (§11): the queue is not discarded at `connectionLost()` but set aside, because a
 *   resumed connection (`connectionStarted('resume')`) continues exactly where the wire left
 *   off: the set-aside entries are queued again and the pending set is the one the previous
 *   connection ended with (§11 resume rule). Any other path discards them, and the pending set
 *   is every held key (§10 step 7.2, as before); on the digest path `bucketsReplaced()` then
 *   narrows it to the held keys of replaced buckets. `digests` holds each held key's bucket and
 *   KV hash and the bucket digests of what the host holds.
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
  /** The pending set as it was when the last connection ended (restored by a resume). */
  #pendingAtLoss: Set<string> | undefined;
  /** Undelivered entries of the last connection, in order, until the next serverHello decides. */
  #setAside: QueuedKV[] = [];
  /** `connectionLost()` was called and no `connectionStarted()` since. */
  #lost = false;
  readonly #digests = new HeldDigests();
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

  /** Held keys still pending (0 when no resync is under way). */
  get pendingKeys(): number {
    return this.#pending?.size ?? 0;
  }

  /** The buckets and KV hashes of what the host holds, for digest catch-up. Read-only use. */
  get digests(): HeldDigests {
    return this.#digests;
  }

  get stats(): { received: number; delivered: number; coalesced: number; synthesised: number; queued: number; maxQueued: number } {
    return {
      received: this.#received, delivered: this.#delivered, coalesced: this.#coalesced,
      synthesised: this.#synthesised, queued: this.#queue.size, maxQueued: this.#maxQueued,
    };
  }

  /**
   * Queues the entries of one `kvs` frame. Never blocks, never throws for well-formed entries.
   * `hashes[i]` is entry i's bucket and KV hash (from `protocol.scanKvsFrame` over the frame's
   * plain bytes); without them the keys are held unhashed and digest catch-up is not offered.
   */
  applyKvs(kvs: readonly WireKV[], hashes?: readonly (KvHash | undefined)[]): void {
    for (let i = 0; i < kvs.length; i++) {
      const kv = kvs[i] as WireKV;
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
      const hash = deletion ? undefined : hashes?.[i];
      if (queued !== undefined) {
        queued.value = value;
        queued.revision = kv[2];
        queued.hash = hash;
        this.#coalesced++;
      } else {
        this.#append(key, { kind: 'kv', key, value, revision: kv[2], hash });
      }
    }
    this.#notify();
  }

  /**
   * A new connection has been accepted by a server (its serverHello arrived); `path` is the
   * serverHello's `catchUp` (a server that offers none: `snapshot`).
   * - `resume`: the entries set aside at the loss are queued again, in their order, and the
   *   pending set is the one the previous connection ended with (none if it had none): the
   *   server continues the stream exactly where it stopped (§11).
   * - `snapshot`, `digest`: the set-aside entries are dropped (what follows supersedes them) and
   *   the pending set stays every held key (§10 step 7.2) until `bucketsReplaced()` narrows it.
   */
  connectionStarted(path: CatchUpPath = 'snapshot'): void {
    const setAside = this.#setAside;
    this.#setAside = [];
    this.#lost = false;
    if (path === 'resume') {
      for (const entry of setAside) this.#append(entry.key, entry);
      this.#pending = this.#pendingAtLoss;
    }
    this.#pendingAtLoss = undefined;
    this.#queueStatus('resync-in-progress');
    this.#notify();
  }

  /**
   * The connection ended. Undelivered entries are set aside (not delivered) until the next
   * serverHello says whether they still count (resume) or are superseded; what the host holds is
   * remembered so vanished keys can be deleted later.
   */
  connectionLost(): void {
    // A second loss with no serverHello in between changes nothing: in particular the pending
    // set a resume would restore stays the one the last connection ended with.
    if (this.#lost) return;
    this.#lost = true;
    for (const entry of this.#queue.values()) if (entry.kind === 'kv') this.#setAside.push(entry);
    this.#queue.clear();
    this.#tailStatus = undefined;
    this.#pendingAtLoss = this.#pending;
    // Steps 7.2 and 7.6: a connection that had its serverHello ended, so the pending set
    // becomes every key the host holds, replacing any earlier one (whose keys are all still held).
    this.#pending = new Set(this.#held.keys());
    this.#lastQueuedStatus = this.#lastDeliveredStatus;
    this.#queueStatus('wait-for-datastore');
    this.#notify();
  }

  /**
   * Digest path (§11): the server replaces the buckets `replaced` says (at `level`); the pending
   * set becomes every held key in them, replacing any earlier one (the keys of the other buckets
   * match the server exactly). Steps 7.3–7.6 then apply unchanged. Returns its size.
   */
  bucketsReplaced(level: number, replaced: (bucket: number) => boolean): number {
    this.#pending = this.#digests.keysIn(level, replaced);
    return this.#pending.size;
  }

  /** A status from the server. `in-sync` ends a resync, deleting held keys it never mentioned. */
  applyStatus(status: SyncStatus): void {
    // Step 7.4: at in-sync, delete every key still pending (queued before the status, so the
    // host gets the deletions first), then discard the set. Step 7.5: no other status touches it.
    if (status === 'in-sync' && this.#pending !== undefined) {
      for (const key of this.#pending) {
        this.#append(key, { kind: 'kv', key, value: null, revision: '', hash: undefined });
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
      this.#digests.delete(entry.key);
      type = 'deleted';
    } else {
      type = holds ? 'updated' : 'new';
      this.#held.set(entry.key, entry.value);
      this.#digests.set(entry.key, entry.hash);
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
