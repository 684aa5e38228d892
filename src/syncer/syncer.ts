import type { Clock, Timer } from '../clock.ts';
import type { KindInfo } from '../datastore/kinds.ts';
import type { Datastore, KindListener, RawObject } from '../datastore/types.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { KeyOwners } from './keyOwners.ts';
import { type ConvertedKV, SYNC_STATUSES, type SyncerSink, type SyncerTypeSpec, type SyncStatus, type Update } from './types.ts';

export interface SyncerOptions {
  readonly spec: SyncerTypeSpec;
  readonly datastore: Datastore;
  readonly sink: SyncerSink;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A kind whose list/watch is down longer than this makes the syncer fall back from in-sync. */
  readonly staleUpstreamMs: number;
}

interface ObjectState {
  readonly revision: string | undefined;
  readonly keys: readonly string[];
}

interface KindState {
  readonly info: KindInfo;
  readonly objects: Map<string, ObjectState>;
  listed: boolean;
  up: boolean;
  stale: boolean;
  /** The datastore said its listing is missing objects it cannot read yet (`connection('incomplete')`). */
  incomplete: boolean;
  staleTimer: Timer | undefined;
}

/**
 * One syncer type's pipeline stage between datastore objects and model updates (Calico's
 * watcher syncer; Typha's validation filter follows it, in `validationFilter.ts`): per kind, a watcher cache remembering which
 * keys each object produced, so an object that changes, vanishes, or is missing from a relist
 * yields deletions for exactly the keys it no longer produces; conflict resolution when objects
 * share a key; and the combined status wait-for-datastore → resync-in-progress → in-sync, which
 * falls back to resync-in-progress while any kind's upstream is stale.
 */
export class Syncer {
  readonly #o: SyncerOptions;
  readonly #kinds = new Map<string, KindState>();
  readonly #owners = new KeyOwners();
  readonly #published = new Set<string>();
  readonly #log: Logger;
  #status: SyncStatus = 'wait-for-datastore';
  #everInSync = false;
  #closed = false;

  constructor(options: SyncerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ syncer: options.spec.name });
    for (const info of options.spec.kinds) {
      this.#kinds.set(info.id, { info, objects: new Map(), listed: false, up: false, stale: false, incomplete: false, staleTimer: undefined });
    }
  }

  get name(): string {
    return this.#o.spec.name;
  }

  get status(): SyncStatus {
    return this.#status;
  }

  /** True once the syncer has reached in-sync at least once (counts are meaningful from then on). */
  get everInSync(): boolean {
    return this.#everInSync;
  }

  /** Number of objects currently known of a kind (the node count for connection limits). */
  objectCount(kindId: string): number {
    return this.#kinds.get(kindId)?.objects.size ?? 0;
  }

  /** Kinds whose upstream is currently stale or incomplete. */
  staleKinds(): string[] {
    return [...this.#kinds.values()].filter((k) => k.stale || k.incomplete).map((k) => k.info.id);
  }

  /** Subscribes to every kind; call before the datastore starts. */
  start(): void {
    this.#o.sink.onStatus('wait-for-datastore');
    const statics = this.#o.spec.staticKVs ?? [];
    if (statics.length > 0) {
      const out: Update[] = [];
      for (const kv of statics) this.#claim(out, kv, 'static', '0');
      this.#o.sink.onUpdates(out);
    }
    for (const state of this.#kinds.values()) this.#o.datastore.subscribe(state.info, this.#listener(state));
    if (this.#kinds.size === 0) this.#setStatus('in-sync');
  }

  close(): void {
    this.#closed = true;
    for (const k of this.#kinds.values()) if (k.staleTimer !== undefined) this.#o.clock.clearTimeout(k.staleTimer);
  }

  #listener(state: KindState): KindListener {
    return {
      replaced: (objects, revision) => {
        if (this.#closed) return;
        const out: Update[] = [];
        const seen = new Set<string>();
        for (const obj of objects) {
          const id = this.#objectId(state, obj);
          if (id === undefined) continue;
          seen.add(id);
          this.#upsert(out, state, id, obj, revision);
        }
        for (const id of [...state.objects.keys()]) if (!seen.has(id)) this.#remove(out, state, id, revision);
        state.listed = true;
        if (out.length > 0) this.#o.sink.onUpdates(out);
        this.#markUp(state);
      },
      changed: (type, obj, revision) => {
        if (this.#closed) return;
        const out: Update[] = [];
        const id = this.#objectId(state, obj);
        if (id === undefined) return;
        if (type === 'upsert') this.#upsert(out, state, id, obj, revision);
        else this.#remove(out, state, id, revision);
        if (out.length > 0) this.#o.sink.onUpdates(out);
      },
      connection: (s, error) => {
        if (this.#closed) return;
        if (s === 'up') this.#markComplete(state);
        else if (s === 'incomplete') this.#markIncomplete(state, error);
        else this.#markDown(state, error);
      },
    };
  }

  #upsert(out: Update[], state: KindState, id: string, obj: RawObject, listRevision: string): void {
    const revision = obj.metadata?.resourceVersion ?? listRevision;
    const prev = state.objects.get(id);
    // Same object revision as last time: nothing changed (Calico's watcher cache swallows these).
    if (prev !== undefined && prev.revision !== undefined && prev.revision === obj.metadata?.resourceVersion) return;
    let kvs: readonly ConvertedKV[];
    try {
      kvs = this.#o.spec.convert(state.info, obj);
    } catch (err) {
      this.#invalid(state, id, (err as Error).message);
      kvs = [];
    }
    const keys: string[] = [];
    for (const kv of kvs) {
      if (kv.error !== undefined) this.#invalid(state, id, `${kv.key}: ${kv.error}`);
      keys.push(kv.key);
      this.#claim(out, kv, id, revision);
    }
    for (const old of prev?.keys ?? []) if (!keys.includes(old)) this.#release(out, old, id, revision);
    state.objects.set(id, { revision: obj.metadata?.resourceVersion, keys });
  }

  #remove(out: Update[], state: KindState, id: string, revision: string): void {
    const prev = state.objects.get(id);
    if (prev === undefined) return;
    state.objects.delete(id);
    for (const key of prev.keys) this.#release(out, key, id, revision);
  }

  #claim(out: Update[], kv: ConvertedKV, owner: string, revision: string): void {
    const r = this.#owners.claim(kv.key, owner, kv.error !== undefined ? null : kv.value, revision);
    if (r.kind === 'set') this.#emit(out, kv.key, r.value, r.revision);
  }

  #release(out: Update[], key: string, owner: string, revision: string): void {
    const r = this.#owners.release(key, owner);
    if (r.kind === 'set') this.#emit(out, key, r.value, r.revision);
    else if (r.kind === 'gone') this.#emit(out, key, null, revision);
  }

  #emit(out: Update[], key: string, value: Update['value'], revision: string): void {
    if (value === null) {
      // A value that failed validation is a deletion, sent even for a key never published.
      this.#published.delete(key);
      out.push({ key, value: null, revision, updateType: 'deleted' });
      return;
    }
    const updateType = this.#published.has(key) ? 'updated' : 'new';
    this.#published.add(key);
    out.push({ key, value, revision, updateType });
  }

  #invalid(state: KindState, id: string, reason: string): void {
    this.#o.metrics.invalidObjects.inc({ kind: state.info.id });
    this.#log.warn({ kind: state.info.id, object: id.split('\u0000')[0], reason }, 'invalid object: its keys are deleted');
  }

  /**
   * `namespace/name` then the kind: owners sort by name (Calico's "lowest name wins") and two
   * kinds' objects never share an owner id. Undefined (logged) for an object without a name.
   */
  #objectId(state: KindState, obj: RawObject): string | undefined {
    const md = (obj as Partial<RawObject>).metadata;
    if (md === undefined || md === null || typeof md.name !== 'string' || md.name === '') {
      this.#invalid(state, '(unnamed)', 'object has no metadata.name; skipped');
      return undefined;
    }
    const ns = typeof md.namespace === 'string' ? md.namespace : '';
    return `${ns}/${md.name}\u0000${state.info.id}`;
  }

  #markUp(state: KindState): void {
    if (state.staleTimer !== undefined) this.#o.clock.clearTimeout(state.staleTimer);
    state.staleTimer = undefined;
    if (state.stale) this.#log.info({ kind: state.info.id }, 'upstream of kind is back');
    state.up = true;
    state.stale = false;
    this.#o.metrics.kindUp.set({ kind: state.info.id }, 1);
    this.#o.metrics.kindStale.set({ kind: state.info.id }, state.incomplete ? 1 : 0);
    this.#recomputeStatus();
  }

  /** `connection('up')`: healthy, and (unlike a listing) also the end of an incomplete window. */
  #markComplete(state: KindState): void {
    if (state.incomplete) this.#log.info({ kind: state.info.id }, 'datastore listing of kind is complete again');
    state.incomplete = false;
    this.#markUp(state);
  }

  /** Out of in-sync at once: the datastore knows objects are missing (no stale delay applies). */
  #markIncomplete(state: KindState, error: Error | undefined): void {
    if (!state.incomplete) this.#log.warn({ kind: state.info.id, err: error?.message }, 'datastore listing of kind is incomplete: not in sync');
    state.incomplete = true;
    this.#o.metrics.kindStale.set({ kind: state.info.id }, 1);
    this.#recomputeStatus();
  }

  #markDown(state: KindState, error: Error | undefined): void {
    state.up = false;
    this.#o.metrics.kindUp.set({ kind: state.info.id }, 0);
    if (state.staleTimer !== undefined) return;
    state.staleTimer = this.#o.clock.setTimeout(() => {
      state.staleTimer = undefined;
      if (state.up || this.#closed) return;
      state.stale = true;
      this.#o.metrics.kindStale.set({ kind: state.info.id }, 1);
      this.#log.error({ kind: state.info.id, err: error?.message, afterMs: this.#o.staleUpstreamMs }, 'upstream of kind is stale: no longer in sync');
      this.#recomputeStatus();
    }, this.#o.staleUpstreamMs);
    state.staleTimer.unref?.();
  }

  #recomputeStatus(): void {
    const kinds = [...this.#kinds.values()];
    const anyActivity = kinds.some((k) => k.listed || k.up || k.incomplete);
    const inSync = kinds.every((k) => k.listed && !k.stale && !k.incomplete);
    this.#setStatus(inSync ? 'in-sync' : anyActivity ? 'resync-in-progress' : 'wait-for-datastore');
  }

  #setStatus(status: SyncStatus): void {
    if (status === this.#status) return;
    this.#log.info({ from: this.#status, to: status }, 'sync status');
    this.#status = status;
    if (status === 'in-sync') this.#everInSync = true;
    this.#o.metrics.syncerStatus.set({ syncer: this.#o.spec.name }, SYNC_STATUSES.indexOf(status));
    this.#o.sink.onStatus(status);
  }
}

