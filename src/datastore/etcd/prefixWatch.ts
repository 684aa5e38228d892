import type { Clock, Timer } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import { Backoff, sleep } from '../kubernetes/backoff.ts';
import type { KindInfo } from '../kinds.ts';
import type { KindListener, RawObject } from '../types.ts';
import type { EtcdClient, OpenWatch, WatchEvent } from './etcdClient.ts';
import { EtcdError } from './errors.ts';
import type { KindLayout } from './layout.ts';

/** Timing and paging knobs of one prefix's list/watch loop; the datastore fills in the defaults. */
export interface PrefixWatchTuning {
  /** Keys per range page. */
  pageSize: number;
  /**
   * A watch that has received nothing for this long has its member probed (a count-only range
   * of the prefix); a probe that fails or takes longer than `probeTimeoutMs` ends the watch.
   */
  watchIdleMs: number;
  probeTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export interface PrefixWatchDeps {
  kind: KindInfo;
  layout: KindLayout;
  client: EtcdClient;
  logger: Logger;
  clock: Clock;
  random: () => number;
  tuning: PrefixWatchTuning;
}

type Health = 'unknown' | 'up' | 'down';

/**
 * The list/watch loop of one etcd prefix, fanned out to every subscriber of its kind, as
 * libcalico-go's etcdv3 watcher and watcher cache run it:
 *
 *   range (paged, every page at the first page's revision R) ──► replaced(R)
 *        ▲                                                            │
 *        │   watch from R+1 with previous values ──► changed(mod revision) …
 *        │         │
 *        └─ compacted (the watch's start revision, or a page's R, is gone): relist; the
 *           subscriber's diff of `replaced` turns vanished keys into deletions
 *                  │
 *                  └─ any other end (member gone, stream cut, idle probe failed, no leader):
 *                     next endpoint, jittered backoff, watch again from the last revision seen
 *
 * The last revision moves with every event and every progress notification, so a resumed
 * watch never replays what was delivered and never skips what was not. Health is reported per
 * transition, as the Kubernetes loop does: `down` once when a request fails while up, `up` once
 * when a range answers or a watch is created again.
 */
export class PrefixWatch {
  readonly #d: PrefixWatchDeps;
  readonly #listeners: KindListener[] = [];
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #health: Health = 'unknown';
  #revision: string | undefined;
  #watch: OpenWatch | undefined;

  constructor(deps: PrefixWatchDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ kind: deps.kind.id, prefix: deps.layout.prefix });
  }

  /** The last revision delivered; undefined before the first listing. */
  get revision(): string | undefined {
    return this.#revision;
  }

  addListener(listener: KindListener): void {
    if (this.#running) throw new Error(`kind ${this.#d.kind.id} is already being watched; subscribe before start()`);
    this.#listeners.push(listener);
  }

  start(): void {
    if (this.#running || this.#abort.signal.aborted) return;
    this.#running = this.#run().catch((err: unknown) => {
      this.#log.error({ err }, 'etcd list/watch loop stopped unexpectedly');
    });
  }

  async close(): Promise<void> {
    const reason = new EtcdError('canceled', 'datastore closed');
    this.#abort.abort(reason);
    this.#watch?.cancel(reason);
    await this.#running;
  }

  async #run(): Promise<void> {
    const { clock, random, tuning } = this.#d;
    const signal = this.#abort.signal;
    const backoff = new Backoff({ initialMs: tuning.backoffInitialMs, maxMs: tuning.backoffMaxMs, random });
    let needList = true;
    let compactedStreak = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          const { objects, revision } = await this.#list(signal);
          needList = false;
          this.#revision = revision;
          this.#markUp();
          backoff.reset();
          this.#log.debug({ objects: objects.length, revision }, 'listed');
          this.#emit((l) => l.replaced(objects, revision));
        }
        await this.#watchOnce(signal, () => {
          compactedStreak = 0;
          this.#markUp();
          backoff.reset();
        });
        // Not reached: a watch only ends by rejecting (see EtcdClient.watch).
        throw new EtcdError('unavailable', 'etcd watch ended');
      } catch (err) {
        if (signal.aborted) break;
        const e = err instanceof EtcdError ? err : new EtcdError('bad-response', (err as Error).message, { cause: err });
        if (e.code === 'compacted') {
          compactedStreak += 1;
          needList = true;
          this.#log.info({ revision: this.#revision, err: e.message }, 'revision compacted; relisting');
          // A relist whose revision is compacted again at once is paced, never a hot loop.
          if (compactedStreak > 1) await sleep(clock, backoff.next(), signal).catch(() => undefined);
          continue;
        }
        this.#markDown(e);
        await sleep(clock, backoff.next(), signal).catch(() => undefined);
      }
    }
  }

  /** Every key of the prefix, all pages at the revision of the first. */
  async #list(signal: AbortSignal): Promise<{ objects: RawObject[]; revision: string }> {
    const { client, layout, tuning } = this.#d;
    const objects: RawObject[] = [];
    let revision: string | undefined;
    let fromKey: string | undefined;
    for (;;) {
      const page = await client.range(layout.prefix, {
        limit: tuning.pageSize, signal,
        ...(revision !== undefined ? { revision } : {}),
        ...(fromKey !== undefined ? { fromKey } : {}),
      });
      revision ??= page.revision;
      for (const kv of page.kvs) objects.push(layout.decode(kv.key, kv.value, kv.modRevision));
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) return { objects, revision };
      fromKey = `${last.key}\0`;
    }
  }

  /** One watch from the last revision + 1, until it ends; rejects with why it ended. */
  async #watchOnce(signal: AbortSignal, onHealthy: () => void): Promise<void> {
    const { client, clock, layout, tuning } = this.#d;
    const start = (BigInt(this.#revision ?? '0') + 1n).toString();
    const watch = client.watch(layout.prefix, start, {
      onCreated: onHealthy,
      onResponse: (events, revision) => this.#onResponse(events, revision),
    });
    this.#watch = watch;
    if (signal.aborted) watch.cancel(new EtcdError('canceled', 'datastore closed'));
    let timer: Timer | undefined;
    let lastSeen = -1;
    const check = (): void => {
      const seen = watch.bytesReceived();
      if (seen !== lastSeen) {
        lastSeen = seen;
        timer = clock.setTimeout(check, tuning.watchIdleMs);
        return;
      }
      // Quiet for a whole interval: a quiet prefix, or a member that stopped answering?
      client.range(layout.prefix, { countOnly: true, signal: AbortSignal.timeout(tuning.probeTimeoutMs) }).then(
        () => {
          if (!signal.aborted) timer = clock.setTimeout(check, tuning.watchIdleMs);
        },
        (err: unknown) => {
          watch.cancel(new EtcdError('timeout', `etcd watch idle for ${tuning.watchIdleMs} ms and the member did not answer a probe: ${(err as Error).message}`));
        },
      );
    };
    timer = clock.setTimeout(check, tuning.watchIdleMs);
    try {
      await watch.done;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      this.#watch = undefined;
    }
  }

  #onResponse(events: readonly WatchEvent[], revision: string): void {
    for (const e of events) {
      const { layout } = this.#d;
      const rev = e.kv.modRevision;
      if (e.type === 'put') {
        const object = layout.decode(e.kv.key, e.kv.value, rev);
        this.#emit((l) => l.changed('upsert', object, rev));
      } else {
        // The deleted object as it was (for its identity); the key alone names it otherwise.
        const object = layout.decode(e.kv.key, e.prevKv?.value ?? Buffer.from('{}'), rev);
        this.#emit((l) => l.changed('delete', object, rev));
      }
      this.#revision = rev;
    }
    // A progress notification (no events; etcd sends those only to a watch that has caught
    // up) moves the resume point too. An event response's header may be ahead of events still
    // to come, so it does not.
    if (events.length === 0 && revision !== '' && (this.#revision === undefined || BigInt(revision) > BigInt(this.#revision))) this.#revision = revision;
  }

  #markUp(): void {
    if (this.#health === 'up') return;
    if (this.#health === 'down') this.#log.info({ endpoint: this.#d.client.endpoint }, 'etcd reachable again');
    this.#health = 'up';
    this.#emit((l) => l.connection('up'));
  }

  #markDown(err: EtcdError): void {
    if (this.#health === 'down') {
      this.#log.debug({ err: err.message }, 'etcd still failing; retrying');
      return;
    }
    this.#log.warn({ endpoint: this.#d.client.endpoint, code: err.code, err: err.message }, 'etcd request failed; retrying with backoff');
    this.#health = 'down';
    this.#emit((l) => l.connection('down', err));
  }

  /** One listener throwing must not starve the others or stop the loop. */
  #emit(call: (listener: KindListener) => void): void {
    for (const listener of this.#listeners) {
      try {
        call(listener);
      } catch (err) {
        this.#log.error({ err }, 'subscriber threw while handling a datastore event');
      }
    }
  }
}
