import type { KindInfo } from '../../src/datastore/kinds.ts';
import type { Datastore, KindListener, RawObject } from '../../src/datastore/types.ts';

/**
 * An in-process datastore tests drive directly: every write gets the next revision and reaches
 * subscribers synchronously. For server behaviour that does not depend on where objects come
 * from (fall-behind, limits, shutdown), it avoids file-system timing.
 */
export class MemoryDatastore implements Datastore {
  readonly name = 'memory';
  readonly #listeners = new Map<string, KindListener[]>();
  readonly #objects = new Map<string, Map<string, RawObject>>();
  #revision = 0;
  #started = false;

  subscribe(kind: KindInfo, listener: KindListener): void {
    this.#listeners.set(kind.id, [...(this.#listeners.get(kind.id) ?? []), listener]);
    if (!this.#objects.has(kind.id)) this.#objects.set(kind.id, new Map());
  }

  async start(): Promise<void> {
    this.#started = true;
    for (const [id, ls] of this.#listeners) {
      const objs = [...(this.#objects.get(id) ?? new Map<string, RawObject>()).values()];
      for (const l of ls) {
        l.replaced(objs.map((o) => structuredClone(o)), String(this.#revision));
        l.connection('up');
      }
    }
  }

  async close(): Promise<void> {
    this.#started = false;
  }

  upsert(kind: KindInfo, obj: RawObject): void {
    const rev = String(++this.#revision);
    const stored = structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: rev } });
    this.#map(kind).set(idOf(stored), stored);
    if (this.#started) for (const l of this.#listeners.get(kind.id) ?? []) l.changed('upsert', structuredClone(stored), rev);
  }

  delete(kind: KindInfo, obj: RawObject): void {
    const rev = String(++this.#revision);
    if (!this.#map(kind).delete(idOf(obj))) return;
    if (this.#started) for (const l of this.#listeners.get(kind.id) ?? []) l.changed('delete', structuredClone(obj), rev);
  }

  #map(kind: KindInfo): Map<string, RawObject> {
    let m = this.#objects.get(kind.id);
    if (m === undefined) {
      m = new Map();
      this.#objects.set(kind.id, m);
    }
    return m;
  }
}

const idOf = (o: RawObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
