/**
 * A Datastore the bench drives directly, inside the server process: it lists `pods` pods at
 * start (every other subscribed kind lists empty, so the syncer reaches in-sync), then emits
 * stamped delta objects on command, as a burst or paced at a fixed rate. Each object is stamped
 * with the wall-clock time at the moment the datastore hands it to Cattail.
 */
import type { KindInfo } from '../src/datastore/kinds.ts';
import type { Datastore, KindListener, RawObject } from '../src/datastore/types.ts';
import { deltaObject, DELTA_KIND, POD_KIND, podObject, wallClockMs } from './workload.ts';

export interface BenchDatastoreOptions {
  readonly pods: number;
  readonly nodes: number;
  readonly namespaces: number;
}

/** Objects handed over per turn of the event loop during a burst (a watch stream delivers in chunks too). */
const BURST_CHUNK = 500;

export class BenchDatastore implements Datastore {
  readonly name = 'bench';
  readonly #opts: BenchDatastoreOptions;
  readonly #listeners = new Map<string, KindListener[]>();
  #seq = 0;
  #closed = false;

  constructor(opts: BenchDatastoreOptions) {
    this.#opts = opts;
  }

  subscribe(kind: KindInfo, listener: KindListener): void {
    const list = this.#listeners.get(kind.id) ?? [];
    list.push(listener);
    this.#listeners.set(kind.id, list);
  }

  async start(): Promise<void> {
    const pods: RawObject[] = [];
    for (let i = 0; i < this.#opts.pods; i++) pods.push(podObject(i, this.#opts.nodes, this.#opts.namespaces));
    for (const [id, listeners] of this.#listeners) {
      for (const l of listeners) {
        l.connection('up');
        l.replaced(id === POD_KIND.id ? pods : [], '1');
      }
    }
  }

  /** Emits `count` delta updates over `keys` keys as fast as the event loop allows; resolves with the first stamp. */
  async burst(count: number, keys: number): Promise<{ firstStampMs: number; lastStampMs: number }> {
    const firstStampMs = wallClockMs();
    let lastStampMs = firstStampMs;
    for (let done = 0; done < count && !this.#closed;) {
      const n = Math.min(BURST_CHUNK, count - done);
      for (let i = 0; i < n; i++) lastStampMs = this.#emitDelta(keys);
      done += n;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { firstStampMs, lastStampMs };
  }

  /**
   * Emits `ratePerSec` delta updates per second for `durationMs`, each at its due time (a 1 ms
   * timer emits whatever is due, normally one update), stamped when emitted.
   */
  async paced(ratePerSec: number, durationMs: number, keys: number): Promise<{ emitted: number }> {
    const started = performance.now();
    const total = Math.floor((ratePerSec * durationMs) / 1000);
    let emitted = 0;
    while (emitted < total && !this.#closed) {
      const due = Math.min(total, Math.floor(((performance.now() - started) * ratePerSec) / 1000));
      while (emitted < due) {
        this.#emitDelta(keys);
        emitted++;
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
    return { emitted };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #emitDelta(keys: number): number {
    const stamp = wallClockMs();
    const obj = deltaObject(this.#seq++, keys, stamp);
    for (const l of this.#listeners.get(DELTA_KIND.id) ?? []) l.changed('upsert', obj, obj.metadata.resourceVersion as string);
    return stamp;
  }
}
