/**
 * Test helpers for anything that subscribes to a Datastore: a KindListener that records every
 * call and keeps the state a subscriber would hold (diffing each `replaced` against it, as the
 * syncer's watcher cache does), and a polling `waitFor` for conditions reached asynchronously.
 */
import type { KindListener, RawObject } from '../../src/datastore/types.ts';
import { eventually } from './eventually.ts';

export type Recorded =
  | { readonly call: 'replaced'; readonly objects: readonly RawObject[]; readonly revision: string }
  | { readonly call: 'changed'; readonly type: 'upsert' | 'delete'; readonly object: RawObject; readonly revision: string }
  | { readonly call: 'connection'; readonly state: 'up' | 'down' | 'incomplete'; readonly error?: Error };

/** What a `replaced` changed relative to the state before it, by `namespace/name`. */
export interface ReplaceDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly modified: string[];
}

export function objectName(o: RawObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class RecordingListener implements KindListener {
  readonly calls: Recorded[] = [];
  /** The subscriber's view: name → object. */
  readonly state = new Map<string, RawObject>();
  /** One entry per `replaced`, against the state just before it. */
  readonly diffs: ReplaceDiff[] = [];

  replaced(objects: readonly RawObject[], revision: string): void {
    this.calls.push({ call: 'replaced', objects, revision });
    const next = new Map(objects.map((o) => [objectName(o), o] as const));
    const diff: ReplaceDiff = { added: [], removed: [], modified: [] };
    for (const [name, o] of next) {
      const old = this.state.get(name);
      if (!old) diff.added.push(name);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) diff.modified.push(name);
    }
    for (const name of this.state.keys()) if (!next.has(name)) diff.removed.push(name);
    for (const list of [diff.added, diff.removed, diff.modified]) list.sort();
    this.diffs.push(diff);
    this.state.clear();
    for (const [name, o] of next) this.state.set(name, o);
  }

  changed(type: 'upsert' | 'delete', object: RawObject, revision: string): void {
    this.calls.push({ call: 'changed', type, object, revision });
    if (type === 'delete') this.state.delete(objectName(object));
    else this.state.set(objectName(object), object);
  }

  connection(state: 'up' | 'down' | 'incomplete', error?: Error): void {
    this.calls.push({ call: 'connection', state, ...(error ? { error } : {}) });
  }

  count(call: Recorded['call'], state?: 'up' | 'down' | 'incomplete'): number {
    return this.calls.filter((c) => c.call === call && (state === undefined || (c.call === 'connection' && c.state === state))).length;
  }

  /** The state of the latest `connection` call, if any. */
  lastConnection(): 'up' | 'down' | 'incomplete' | undefined {
    const last = this.calls.findLast((c) => c.call === 'connection');
    return last?.call === 'connection' ? last.state : undefined;
  }

  /** The subscriber's current object names, sorted. */
  names(): string[] {
    return [...this.state.keys()].sort();
  }

  /** A compact trace for comparing subscribers: call, type/state, name, revision. */
  trace(): string[] {
    return this.calls.map((c) =>
      c.call === 'replaced' ? `replaced ${c.revision} ${c.objects.map(objectName).join(',')}`
        : c.call === 'changed' ? `changed ${c.type} ${objectName(c.object)} ${c.revision}`
          : `connection ${c.state}`);
  }
}

/** `eventually` with a 5 s default, the bound the datastore tests were written against. */
export function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return eventually(condition, what, timeoutMs);
}

/** Lets pending I/O and timers run for `ms`; only for asserting that something does NOT happen. */
export function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
