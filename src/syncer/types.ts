import type { KindInfo } from '../datastore/kinds.ts';
import type { RawObject } from '../datastore/types.ts';

/** The syncer types a client may ask for, as Typha names them. */
export const SYNCER_TYPES = ['felix', 'bgp', 'tunnel-ip-allocation', 'node-status'] as const;
export type SyncerType = (typeof SYNCER_TYPES)[number];

/** Sync status, in the order a syncer moves through them. */
export const SYNC_STATUSES = ['wait-for-datastore', 'resync-in-progress', 'in-sync'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

export type UpdateType = 'new' | 'updated' | 'deleted';

/**
 * A model value: a JSON-shaped object for structured kinds, or a plain string for the raw-text
 * kinds (config values, the ready flag, host IPs). Values never contain a revision or
 * `metadata.resourceVersion`: the revision travels beside the value so identical content
 * compares equal.
 */
export type ModelValue = string | { readonly [field: string]: unknown };

/** One model update leaving a syncer. `value: null` is a deletion. */
export interface Update {
  readonly key: string;
  readonly value: ModelValue | null;
  readonly revision: string;
  readonly updateType: UpdateType;
}

/** Where a syncer delivers its output: the snapshot cache. */
export interface SyncerSink {
  onUpdates(updates: readonly Update[]): void;
  onStatus(status: SyncStatus): void;
}

/**
 * One model key produced by converting one datastore object. `value: null` with an `error`
 * means the object (or this part of it) failed validation: the key is deleted and the error is
 * logged once, naming the object.
 */
export interface ConvertedKV {
  readonly key: string;
  readonly value: ModelValue | null;
  readonly error?: string;
}

/**
 * The seam between datastore objects and model keys. A conversion is a pure function of one
 * object: the syncer remembers which keys each object produced and emits deletions for keys an
 * object stops producing. It may throw for an object too malformed to name any key; the syncer
 * then treats the object as producing no keys and logs the error.
 */
export type Convert = (kind: KindInfo, object: RawObject) => readonly ConvertedKV[];

/** What one syncer type reads and how it turns it into model keys. */
export interface SyncerTypeSpec {
  readonly name: SyncerType;
  readonly kinds: readonly KindInfo[];
  readonly convert: Convert;
  /** Keys that exist independently of any object (e.g. the default-allow profile). */
  readonly staticKVs?: readonly ConvertedKV[];
}
