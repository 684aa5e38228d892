import type { KindInfo } from './kinds.ts';

/**
 * An object as the datastore holds it: the plain JSON shape Kubernetes serves. Never wrapped in
 * model classes; conversions read the fields they need and validate as they go.
 */
export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata: RawMetadata;
  [field: string]: unknown;
}

export interface RawMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  [field: string]: unknown;
}

/**
 * What a datastore tells one subscriber about one kind. The datastore guarantees:
 * - `replaced` is a complete, consistent listing; anything the subscriber knew that is not in it
 *   no longer exists (the subscriber diffs; the datastore need not compute deletions);
 * - `changed` events follow the latest `replaced` in revision order;
 * - `connection('down')` is reported once per transition, not per retry;
 * - `connection('incomplete')` means the listing is known to be missing objects the datastore
 *   cannot read yet (a manifest that has never been read in this process, a first listing still
 *   arriving): the subscriber must not report in-sync until `connection('up')`, at once, not
 *   after a stale delay. It may arrive before the first `replaced`; `replaced` does not end it.
 */
export interface KindListener {
  replaced(objects: readonly RawObject[], revision: string): void;
  changed(type: 'upsert' | 'delete', object: RawObject, revision: string): void;
  /** Upstream health of this kind's list/watch. `down` and `incomplete` carry the reason. */
  connection(state: 'up' | 'down' | 'incomplete', error?: Error): void;
}

/**
 * A source of raw objects. Exactly one list+watch per kind runs, however many subscribers a
 * kind has; every subscriber of a kind gets the same event sequence.
 */
export interface Datastore {
  readonly name: string;
  subscribe(kind: KindInfo, listener: KindListener): void;
  /** Begins listing/watching every subscribed kind. Resolves once the loops are started. */
  start(): Promise<void>;
  /** Stops every loop and releases connections. Idempotent. */
  close(): Promise<void>;
  /** What currently holds the syncers out of in-sync (readiness and `/status` name these). */
  syncBlockers?(): readonly DatastoreBlocker[];
}

/** One source the datastore cannot read yet, e.g. a manifest file and why. */
export interface DatastoreBlocker {
  readonly source: string;
  readonly reason: string;
}
