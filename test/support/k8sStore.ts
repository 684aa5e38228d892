/**
 * The object store behind the Kubernetes API server emulator (k8sEmulator.ts): etcd's role.
 * One global revision counter (as etcd's), every write recorded as an event in a history that
 * watches replay from, and compaction that forgets history (so old revisions answer 410).
 */
import { randomUUID } from 'node:crypto';
import { findKind } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';

/** A resource type: what a path's `<group>/<plural>` stores. */
export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Names an object without its body. `kind` is the Kind (`Pod`) and `apiVersion` its group/version. */
export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string };
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  readonly revision: number;
  readonly type: EventType;
  /** `<group>/<plural>`: which collection changed. */
  readonly resource: string;
  readonly object: RawObject;
  /** The object before this write (MODIFIED/DELETED); selector-filtered watches need it. */
  readonly previous?: RawObject;
}

/** Kinds outside Cattail's KINDS table that tests commonly create. */
const EXTRA_KINDS: readonly ResourceType[] = [
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', namespaced: true },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
];

export function resourceKey(group: string, plural: string): string {
  return `${group}/${plural}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class K8sStore {
  // Starts above zero: "0" means "any revision" to the API, so no real revision may be 0.
  private revision = 100;
  private compactedAt = 100;
  private readonly collections = new Map<string, Map<string, RawObject>>();
  private history: StoredEvent[] = [];
  private readonly types = new Map<string, ResourceType>();
  private readonly subscribers = new Set<(event: StoredEvent) => void>();

  constructor() {
    for (const t of EXTRA_KINDS) this.registerKind(t);
  }

  /** Current revision (the newest write's). */
  get currentRevision(): number {
    return this.revision;
  }

  /** Watches and continue tokens from revisions below this answer 410. */
  get compactedRevision(): number {
    return this.compactedAt;
  }

  /** Teaches the store a kind outside Cattail's KINDS table (plural and scope). */
  registerKind(type: ResourceType): void {
    this.types.set(`${type.group}/${type.kind}`, type);
  }

  /** Finds the resource type for an apiVersion/kind; Calico `projectcalico.org/v3` maps to the CRD. */
  typeOf(apiVersion: string, kind: string): ResourceType {
    const info = findKind(apiVersion, kind);
    if (info) return info;
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    const known = this.types.get(`${group}/${kind}`);
    if (known) return known;
    const lower = kind.toLowerCase();
    const plural = lower.endsWith('s') ? `${lower}es` : lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : `${lower}s`;
    return { group, version, kind, plural, namespaced: true };
  }

  onEvent(fn: (event: StoredEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Objects of a collection (optionally one namespace), in etcd key order (namespace, name). */
  list(group: string, plural: string, namespace?: string): RawObject[] {
    const coll = this.collections.get(resourceKey(group, plural));
    if (!coll) return [];
    const out = [...coll.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
    return out;
  }

  get(ref: ObjectRef): RawObject | undefined {
    const type = this.typeOf(ref.apiVersion ?? '', ref.kind ?? '');
    return this.collections.get(resourceKey(type.group, type.plural))?.get(objectKey(ns(type, ref), ref.metadata.name));
  }

  getByPath(group: string, plural: string, namespace: string | undefined, name: string): RawObject | undefined {
    return this.collections.get(resourceKey(group, plural))?.get(objectKey(namespace, name));
  }

  create(input: RawObject): RawObject {
    if (this.get(asRef(input))) throw new Error(`already exists: ${describe(input)}`);
    return this.write('ADDED', input);
  }

  update(input: RawObject): RawObject {
    if (!this.get(asRef(input))) throw new Error(`not found: ${describe(input)}`);
    return this.write('MODIFIED', input);
  }

  /** Create or update. */
  apply(input: RawObject): RawObject {
    return this.write(this.get(asRef(input)) ? 'MODIFIED' : 'ADDED', input);
  }

  delete(ref: ObjectRef): RawObject | undefined {
    const existing = this.get(ref);
    if (!existing) return undefined;
    return this.write('DELETED', existing);
  }

  /**
   * Events after `fromRevision` for a collection, oldest first, or 'gone' when compaction has
   * already forgotten some of them.
   */
  eventsAfter(fromRevision: number, resource: string): StoredEvent[] | 'gone' {
    if (fromRevision < this.compactedAt) return 'gone';
    return this.history.filter((e) => e.revision > fromRevision && e.resource === resource);
  }

  /** Forgets history up to `revision` (default: now). */
  compact(revision = this.revision): void {
    this.compactedAt = Math.max(this.compactedAt, Math.min(revision, this.revision));
    this.history = this.history.filter((e) => e.revision > this.compactedAt);
  }

  private write(type: EventType, input: RawObject): RawObject {
    const t = this.typeOf(input.apiVersion ?? '', input.kind ?? '');
    const resource = resourceKey(t.group, t.plural);
    let coll = this.collections.get(resource);
    if (!coll) {
      coll = new Map();
      this.collections.set(resource, coll);
    }
    const key = objectKey(ns(t, input), input.metadata.name);
    const previous = coll.get(key);
    this.revision += 1;
    const rv = String(this.revision);
    // Stored objects are private copies: a test mutating what it passed in changes nothing.
    const object = structuredClone(type === 'DELETED' ? previous! : input);
    object.apiVersion = t.group === '' ? t.version : `${t.group}/${t.version}`;
    object.kind = t.kind;
    object.metadata.resourceVersion = rv;
    object.metadata.uid ??= previous?.metadata.uid ?? randomUUID();
    object.metadata.creationTimestamp ??= previous?.metadata.creationTimestamp ?? new Date().toISOString();
    if (t.namespaced) object.metadata.namespace ??= 'default';
    else delete object.metadata.namespace;
    if (type === 'DELETED') coll.delete(key);
    else coll.set(key, object);
    const event: StoredEvent = { revision: this.revision, type, resource, object, ...(previous ? { previous } : {}) };
    this.history.push(event);
    for (const fn of this.subscribers) fn(event);
    return structuredClone(object);
  }
}

function ns(type: ResourceType, ref: { metadata: { namespace?: string } }): string | undefined {
  return type.namespaced ? (ref.metadata.namespace ?? 'default') : undefined;
}

function asRef(o: RawObject): ObjectRef {
  return { apiVersion: o.apiVersion ?? '', kind: o.kind ?? '', metadata: o.metadata };
}

function describe(o: RawObject): string {
  const n = o.metadata.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind ?? '?'} ${n}${o.metadata.name}`;
}
