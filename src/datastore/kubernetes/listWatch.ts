import type { Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import { apiVersionOf, type KindInfo } from '../kinds.ts';
import type { KindListener, RawObject } from '../types.ts';
import { Backoff, sleep } from './backoff.ts';
import { isGone, WatchIdleError } from './errors.ts';
import type { KubeClient } from './kubeClient.ts';
import { listAll, type ListMode } from './pagedList.ts';
import { runWatch, type WatchEvent } from './watchStream.ts';

/** Timing and paging knobs of one list/watch loop; the datastore fills in the defaults. */
export interface ListWatchTuning {
  pageSize: number;
  /** The server-side watch timeout is drawn uniformly from [min, max] for every watch. */
  watchTimeoutMinMs: number;
  watchTimeoutMaxMs: number;
  /** The idle watchdog fires after the watch timeout plus this margin without any event. */
  watchIdleMarginMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A watch that ends cleanly sooner than this without any event counts as churn (see below). */
  minWatchMs: number;
}

export interface ListWatchDeps {
  kind: KindInfo;
  client: KubeClient;
  logger: Logger;
  clock: Clock;
  random: () => number;
  tuning: ListWatchTuning;
}

type Health = 'unknown' | 'up' | 'down';

/**
 * The list/watch loop of one kind, fanned out to every subscriber of that kind, so the API
 * server sees exactly one list and one watch per kind however many syncers need it.
 *
 *   list (paged) ──► replaced ──► watch from the list's revision ──► changed …
 *        ▲                              │
 *        └── 410 Gone (HTTP or ERROR) ──┤  clean end / idle watchdog → watch again from the
 *                                       │  last revision seen (events and bookmarks move it)
 *                                       └─ other errors → jittered backoff, then watch again
 *
 * Failure policy, and why:
 * - Only 410 relists. Every other failure resumes the watch from the last revision, which
 *   costs the API server nothing; if that revision has meanwhile been compacted, the watch
 *   answers 410 and we relist then. An outage therefore never causes a relist storm.
 * - The first list reads the API server's watch cache (`resourceVersion=0`); a relist asks for
 *   "not older than what we delivered", so subscribers never move back in time; if the server
 *   cannot serve that, the next attempt does a consistent list.
 * - Health is reported per transition: `down` once when a request fails while up (or before the
 *   first success), `up` once when a list or watch is accepted again. Retries while down are
 *   logged at debug level only.
 * - Churn guard: a 410 right after a relist, or a watch the server ends at once without any
 *   event, would otherwise loop as fast as the network allows (the informer bug behind
 *   snyk/kubernetes-monitor#1506). Those repeats wait a backoff delay too, without being
 *   reported as `down`.
 */
export class ListWatch {
  private readonly deps: ListWatchDeps;
  private readonly path: string;
  private readonly listeners: KindListener[] = [];
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private running: Promise<void> | undefined;
  private health: Health = 'unknown';
  private revision: string | undefined;

  constructor(deps: ListWatchDeps) {
    this.deps = deps;
    this.path = collectionPath(deps.kind);
    this.log = deps.logger.child({ kind: deps.kind.id });
  }

  /** The last revision delivered (list, event or bookmark); undefined before the first list. */
  get resourceVersion(): string | undefined {
    return this.revision;
  }

  addListener(listener: KindListener): void {
    if (this.running) throw new Error(`kind ${this.deps.kind.id} is already being watched; subscribe before start()`);
    this.listeners.push(listener);
  }

  start(): void {
    if (this.running || this.abort.signal.aborted) return;
    this.running = this.run().catch((err: unknown) => {
      // run() handles every request failure itself; reaching here is a bug in our code.
      this.log.error({ err }, 'list/watch loop stopped unexpectedly');
    });
  }

  /** Aborts the in-flight request or wait and resolves once the loop has exited. */
  async close(): Promise<void> {
    this.abort.abort(new Error('datastore closed'));
    await this.running;
  }

  private async run(): Promise<void> {
    const { clock, random, tuning } = this.deps;
    const signal = this.abort.signal;
    const backoff = new Backoff({ initialMs: tuning.backoffInitialMs, maxMs: tuning.backoffMaxMs, random });
    const churn = new Backoff({ initialMs: tuning.backoffInitialMs, maxMs: tuning.backoffMaxMs, random });
    let mode: ListMode = { kind: 'cache' };
    let needList = true;
    let goneStreak = 0;
    // Watches that went idle in a row. An API server that accepts watches but never sends
    // anything (not even the end of the watch at its timeout) is down for our purposes: the
    // kind goes down and comes back up only with real traffic, so the syncer can mark it stale
    // instead of serving frozen data as fresh.
    let idleStreak = 0;

    while (!signal.aborted) {
      try {
        if (needList) {
          const result = await listAll(this.deps.client, {
            path: this.path,
            apiVersion: apiVersionOf(this.deps.kind),
            kind: this.deps.kind.kind,
            pageSize: tuning.pageSize,
            mode,
            signal,
            logger: this.log,
          });
          needList = false;
          this.revision = result.resourceVersion;
          this.markUp();
          backoff.reset();
          this.log.debug({ items: result.items.length, pages: result.pages, revision: result.resourceVersion }, 'listed');
          this.emit((l) => l.replaced(result.items, result.resourceVersion));
        }

        const timeoutMs = tuning.watchTimeoutMinMs + (tuning.watchTimeoutMaxMs - tuning.watchTimeoutMinMs) * random();
        // The server takes whole seconds; 1 s is its minimum.
        const timeoutSeconds = Math.max(1, Math.round(timeoutMs / 1000));
        const startedAt = clock.now();
        const { events } = await runWatch(this.deps.client, {
          path: this.path,
          resourceVersion: this.revision ?? '0',
          timeoutSeconds,
          idleMs: timeoutSeconds * 1000 + tuning.watchIdleMarginMs,
          clock,
          signal,
          onOpen: () => {
            if (idleStreak === 0) this.markUp();
            backoff.reset();
          },
          onEvent: (event) => {
            goneStreak = 0;
            idleStreak = 0;
            churn.reset();
            this.markUp();
            this.onEvent(event);
          },
        });
        idleStreak = 0;
        this.markUp();
        this.log.debug({ events, revision: this.revision }, 'watch ended cleanly; watching again');
        if (events === 0 && clock.now() - startedAt < tuning.minWatchMs) {
          await sleep(clock, churn.next(), signal);
        }
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          goneStreak += 1;
          // A watch 410 relists "not older than" the newest revision we delivered (events and
          // bookmarks included). If the relist itself was refused, ask for the newest state.
          mode = needList || this.revision === undefined
            ? { kind: 'consistent' }
            : { kind: 'notOlderThan', resourceVersion: this.revision };
          needList = true;
          this.log.info({ revision: this.revision, err: String(err) }, 'resourceVersion expired (410); relisting');
          if (goneStreak > 1) await sleep(clock, churn.next(), signal).catch(() => undefined);
          continue;
        }
        if (err instanceof WatchIdleError) {
          idleStreak += 1;
          this.log.warn({ revision: this.revision, idleStreak }, 'watch went idle past its timeout; watching again');
          this.markDown(err);
          continue;
        }
        if (needList && mode.kind === 'notOlderThan') mode = { kind: 'consistent' };
        this.markDown(err as Error);
        await sleep(clock, backoff.next(), signal).catch(() => undefined);
      }
    }
  }

  private onEvent(event: WatchEvent): void {
    const rv = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (typeof rv === 'string' && rv !== '') this.revision = rv;
      return;
    }
    if (typeof rv !== 'string' || rv === '') {
      this.log.warn({ type: event.type, name: event.object.metadata?.name }, 'watch event without resourceVersion; ignored');
      return;
    }
    this.revision = rv;
    const object: RawObject = event.object;
    const type = event.type === 'DELETED' ? 'delete' : 'upsert';
    this.emit((l) => l.changed(type, object, rv));
  }

  private markUp(): void {
    if (this.health === 'up') return;
    if (this.health === 'down') this.log.info({ path: this.path }, 'Kubernetes API reachable again');
    this.health = 'up';
    this.emit((l) => l.connection('up'));
  }

  private markDown(err: Error): void {
    if (this.health === 'down') {
      this.log.debug({ err: String(err) }, 'still failing; retrying');
      return;
    }
    this.log.warn({ path: this.path, err: String(err) }, 'Kubernetes API request failed; retrying with backoff');
    this.health = 'down';
    this.emit((l) => l.connection('down', err));
  }

  /** Calls every listener; one listener throwing must not starve the others or stop the loop. */
  private emit(call: (listener: KindListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (err) {
        this.log.error({ err }, 'subscriber threw while handling a datastore event');
      }
    }
  }
}

/** The cluster-wide collection URL of a kind, e.g. `/api/v1/pods`, `/apis/crd.projectcalico.org/v1/ippools`. */
export function collectionPath(kind: KindInfo): string {
  return kind.group === '' ? `/api/${kind.version}/${kind.plural}` : `/apis/${kind.group}/${kind.version}/${kind.plural}`;
}
