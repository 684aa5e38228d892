/**
 * The embedded default datastore: a directory of YAML manifests, watched for changes.
 *
 * Lifecycle: `start()` scans the directory once, gives every subscriber one `replaced` listing
 * of its kind followed by `connection('up')`, then watches every directory of the tree. Any
 * watch event schedules a debounced rescan (editors save in several steps: truncate, write,
 * rename, chmod); a slow periodic rescan catches what the watcher misses (inotify overflow,
 * network filesystems). Each rescan re-reads only files that changed, parses them in a worker
 * thread (manifestReader.ts), and emits the resulting upserts and deletions as `changed`
 * events, each with the next revision of a per-datastore counter.
 *
 * Safety rules, because this directory is a whole cluster's policy:
 * - a file with any problem keeps the objects last read from it until it reads cleanly or is
 *   deleted (a typo must not delete policy); unreadable is a problem, not a deletion;
 * - while any path is broken and has never been read successfully in this process, every kind
 *   is reported `connection('incomplete')`: syncers hold out of in-sync, so agents that still
 *   hold that file's objects from before a restart never apply deletions it caused;
 * - a scan that takes longer than `scanTimeoutMs`, or a tree over `maxEntries`, is the same:
 *   a datastore that cannot make progress is not in sync;
 * - if the directory disappears, the datastore reports `connection('down')`, keeps every
 *   object, and checks back every `retryMs` until it is there again.
 *
 * No event-loop stalls: besides parsing off-thread, changes are published in slices of
 * `PUBLISH_SLICE` with a turn of the event loop between slices, and a first listing larger
 * than one slice is sent as a partial `replaced` plus upserts inside an `incomplete` window.
 */
import { systemClock, type Clock, type Timer } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { KindInfo } from '../kinds.ts';
import type { Datastore, DatastoreBlocker, KindListener, RawObject } from '../types.ts';
import { DirectoryScanner, DirectoryUnavailableError, nodeScanFileSystem, type ScanFileSystem } from './directoryScanner.ts';
import { DirectoryWatcher } from './directoryWatcher.ts';
import { DEFAULT_FILE_LIMITS, FILE_LIMITS, FileLimitError, type FileLimit, type FileLimits } from './limits.ts';
import { compareProblems, type IndexChange } from './objectIndex.ts';
import type { ManifestProblem } from './manifestParser.ts';
import { ManifestReader } from './manifestReader.ts';
import { ManifestTree } from './manifestTree.ts';

/** What the datastore reports through metrics (a subset of src/metrics.ts, so tests may omit it). */
export interface FileDatastoreMetrics {
  readonly fileLimitExceeded: { inc(labels: { limit: FileLimit }, value?: number): void };
  readonly fileBlockers: { set(value: number): void };
}

export interface FileDatastoreOptions {
  /** The manifest directory; read recursively. */
  readonly dir: string;
  readonly logger: Logger;
  /** Quiet time after the last watch event before rescanning. */
  readonly debounceMs?: number;
  /** Upper bound on how long a stream of events can postpone a rescan. Default 10 × debounceMs. */
  readonly maxDebounceMs?: number;
  /** Interval of the safety rescan while the directory is available. 0 disables it. */
  readonly pollIntervalMs?: number;
  /** Interval of the check for a directory that has disappeared. */
  readonly retryMs?: number;
  readonly limits?: Partial<FileLimits>;
  readonly metrics?: FileDatastoreMetrics;
  readonly clock?: Clock;
  /** The file-system calls of the directory walk (tests inject failures here). */
  readonly fileSystem?: ScanFileSystem;
}

/** Long enough to cover an editor's write-then-rename, short enough to feel immediate. */
const DEFAULT_DEBOUNCE_MS = 100;
/** Typha's Kubernetes poll interval; a stat-only pass over a manifest tree costs little. */
const DEFAULT_POLL_INTERVAL_MS = 30_000;
const DEFAULT_RETRY_MS = 1_000;
/**
 * Changes published per event-loop turn. Converting one pod and caching its keys costs up to
 * a few hundred microseconds on a busy core, so a slice stays within about 10–40 ms of work.
 */
const PUBLISH_SLICE = 100;
/** How long close() waits for a scan in progress to notice it is closed. */
const CLOSE_WAIT_MS = 2_000;
/** Blockers named in the error the syncers log; the rest are counted. */
const NAMED_BLOCKERS = 5;
/** Blockers listed by syncBlockers() (readiness, `/status`); the rest are counted in one entry. */
const LISTED_BLOCKERS = 20;

type ConnectionState = 'up' | 'down' | 'incomplete';

interface Subscription {
  readonly kind: KindInfo;
  readonly listeners: KindListener[];
}

interface CurrentObject {
  readonly kind: KindInfo;
  /** Stamped with the revision of its last change; never handed out (subscribers get clones). */
  readonly object: RawObject;
}

export class FileDatastore implements Datastore {
  readonly name = 'file';
  readonly #dir: string;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #debounceMs: number;
  readonly #maxDebounceMs: number;
  readonly #pollIntervalMs: number;
  readonly #retryMs: number;
  readonly #limits: FileLimits;
  readonly #metrics: FileDatastoreMetrics | undefined;
  readonly #reader: ManifestReader;
  readonly #tree: ManifestTree;
  readonly #watcher: DirectoryWatcher;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #current = new Map<string, CurrentObject>();
  #revision = 0;
  #state: 'new' | 'running' | 'closed' = 'new';
  /** Whether the initial `replaced` listings have gone out. */
  #listed = false;
  #connection: ConnectionState | undefined;
  #connectionError: Error | undefined;
  /** Set when the whole tree could not be scanned (over `maxEntries`); a blocker of its own. */
  #treeProblem: ManifestProblem | undefined;
  #unwatchableLogged = false;
  #debounceTimer: Timer | undefined;
  #firstEventAt: number | undefined;
  #pollTimer: Timer | undefined;
  #suspects = new Set<string>();
  #scanQueued = false;
  #retryBrokenQueued = false;
  #scanChain: Promise<void> = Promise.resolve();

  constructor(options: FileDatastoreOptions) {
    this.#dir = options.dir;
    this.#log = options.logger.child({ datastore: 'file', dir: options.dir });
    this.#clock = options.clock ?? systemClock;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#maxDebounceMs = options.maxDebounceMs ?? this.#debounceMs * 10;
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.#limits = { ...DEFAULT_FILE_LIMITS, ...options.limits };
    this.#metrics = options.metrics;
    for (const limit of FILE_LIMITS) this.#metrics?.fileLimitExceeded.inc({ limit }, 0);
    this.#metrics?.fileBlockers.set(0);
    // Parse and scan budgets are wall time of real work, on the system clock: a test's manual
    // clock moving minutes ahead must not declare a read in flight overdue.
    this.#reader = new ManifestReader({ limits: this.#limits, clock: systemClock });
    this.#tree = new ManifestTree({
      root: options.dir,
      scanner: new DirectoryScanner(options.dir, this.#limits, options.fileSystem ?? nodeScanFileSystem),
      reader: this.#reader,
      logger: this.#log,
      onLimit: (limit) => this.#metrics?.fileLimitExceeded.inc({ limit }),
    });
    this.#watcher = new DirectoryWatcher({
      onChange: (path) => {
        this.#suspects.add(path);
        this.#scheduleRescan();
      },
      onUnwatchable: (relativeDir, err) => {
        // Once: with the inotify watch limit reached, every directory would say the same.
        if (this.#unwatchableLogged) return;
        this.#unwatchableLogged = true;
        this.#log.warn({ err, directory: relativeDir }, 'cannot watch a manifest directory; relying on periodic rescans');
      },
    });
  }

  subscribe(kind: KindInfo, listener: KindListener): void {
    if (this.#state === 'closed') throw new Error('FileDatastore: subscribe after close');
    const subscription = this.#subscriptions.get(kind.id) ?? { kind, listeners: [] };
    subscription.listeners.push(listener);
    this.#subscriptions.set(kind.id, subscription);
    // A late subscriber still gets the contract's first event: a complete listing (held
    // incomplete first, if the datastore is, so it never looks in sync in between).
    if (this.#listed) {
      if (this.#connection === 'incomplete') listener.connection('incomplete', this.#connectionError);
      listener.replaced(this.#listing(kind), String(this.#revision));
      if (this.#connection && this.#connection !== 'incomplete') listener.connection(this.#connection, this.#connectionError);
    }
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    await this.#requestScan();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#stopTimer('debounce');
    this.#stopTimer('poll');
    this.#watcher.close();
    await this.#reader.close();
    // A scan stuck in file-system I/O (a hung network mount) must not hold shutdown; once
    // closed, a scan that finishes late publishes nothing.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#scanChain, new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS); })]);
    clearTimeout(timer);
  }

  /** Current problems in the directory, for diagnostics: broken paths, bad documents, duplicates. */
  problems(): readonly ManifestProblem[] {
    return [...(this.#treeProblem ? [this.#treeProblem] : []), ...this.#tree.problems()].sort(compareProblems);
  }

  /**
   * Paths that hold every kind out of in-sync: broken and never read successfully in this
   * process. At most LISTED_BLOCKERS, then one entry counting the rest, so readiness and
   * `/status` stay small however many files are broken.
   */
  syncBlockers(): readonly DatastoreBlocker[] {
    const blockers = this.#allBlockers();
    const listed = blockers.slice(0, LISTED_BLOCKERS).map((p) => ({ source: p.line === undefined ? p.file : `${p.file}:${p.line}`, reason: p.reason }));
    if (blockers.length > LISTED_BLOCKERS) listed.push({ source: this.#dir, reason: `and ${blockers.length - LISTED_BLOCKERS} more broken paths` });
    return listed;
  }

  #allBlockers(): ManifestProblem[] {
    return [...(this.#treeProblem ? [this.#treeProblem] : []), ...this.#tree.blockers()].sort(compareProblems);
  }

  /** The revision of the latest change, as a decimal string. */
  revision(): string {
    return String(this.#revision);
  }

  /**
   * Rescans now instead of waiting for a watch event, re-reading broken files as the periodic
   * rescan does. Resolves when the scan has been applied.
   */
  rescan(): Promise<void> {
    return this.#requestScan(true);
  }

  /**
   * Scans are strictly sequential; requests made while one is queued share it. `retryBroken`
   * (the periodic and explicit rescans) re-reads every broken file even when its stat signature
   * is unchanged: a read that failed for a passing reason (an I/O error, the parse-time limit on
   * a loaded machine) must not stay failed, and hold the syncers, until someone edits the file.
   * Watch-event rescans read only what changed.
   */
  #requestScan(retryBroken = false): Promise<void> {
    this.#retryBrokenQueued ||= retryBroken;
    if (this.#scanQueued) return this.#scanChain;
    this.#scanQueued = true;
    this.#scanChain = this.#scanChain.then(async () => {
      this.#scanQueued = false;
      const suspects = this.#suspects;
      this.#suspects = new Set();
      const retry = this.#retryBrokenQueued;
      this.#retryBrokenQueued = false;
      if (this.#state !== 'running') return;
      try {
        await this.#scanOnce(suspects, retry);
      } catch (err) {
        // Not expected (the tree reports per-file errors itself); never let a rescan kill the loop.
        this.#log.error({ err }, 'rescan of manifest directory failed');
      }
      this.#schedulePoll();
    });
    return this.#scanChain;
  }

  async #scanOnce(suspects: ReadonlySet<string>, retryBroken = false): Promise<void> {
    // A scan that cannot finish (hung network filesystem, a parse at its timeout) must not
    // leave the syncers saying in-sync about data that is not moving.
    const watchdog = systemClock.setTimeout(() => {
      const err = new FileLimitError('scanTime', `a scan of the manifest directory has taken longer than ${this.#limits.scanTimeoutMs} ms`);
      this.#metrics?.fileLimitExceeded.inc({ limit: 'scanTime' });
      this.#log.error({ err }, 'manifest directory scan is overdue; syncers are out of sync until it finishes');
      if (this.#connection !== 'down') this.#setConnection('incomplete', err);
    }, this.#limits.scanTimeoutMs);
    watchdog.unref?.();
    let changes: IndexChange[];
    try {
      changes = await this.#tree.refresh(suspects, retryBroken);
    } catch (err) {
      if (err instanceof DirectoryUnavailableError) {
        this.#watcher.close();
        // Before the first listing, subscribers simply wait: an empty `replaced` would tell them
        // the cluster is empty, which we do not know.
        this.#setConnection('down', err);
        return;
      }
      if (!(err instanceof FileLimitError)) throw err;
      if (this.#treeProblem?.reason !== err.message) {
        this.#metrics?.fileLimitExceeded.inc({ limit: err.limit });
        this.#log.error({ err, limit: err.limit }, 'manifest directory not scanned: over a limit; nothing changes and syncers are out of sync until it is fixed');
      }
      this.#treeProblem = { file: this.#dir, reason: err.message, limit: err.limit };
      this.#updateBlockers();
      return;
    } finally {
      systemClock.clearTimeout(watchdog);
    }
    if (this.#state !== 'running') return;
    if (this.#treeProblem) this.#log.info({ file: this.#dir }, 'manifest directory is within its limits again');
    this.#treeProblem = undefined;
    this.#watcher.sync(this.#tree.directories);
    if (!this.#listed) await this.#emitListings(changes);
    else await this.#publishSlices(changes);
    if (this.#state !== 'running') return;
    this.#updateBlockers();
  }

  /** Reports `incomplete` while any blocker exists, `up` otherwise. */
  #updateBlockers(): void {
    const count = this.#allBlockers().length;
    this.#metrics?.fileBlockers.set(count);
    if (count === 0) {
      this.#setConnection('up');
      return;
    }
    const named = this.syncBlockers().slice(0, NAMED_BLOCKERS).map((b) => `${b.source}: ${b.reason}`);
    const more = count > NAMED_BLOCKERS ? `; and ${count - NAMED_BLOCKERS} more` : '';
    this.#setConnection('incomplete', new Error(`not read successfully yet: ${named.join('; ')}${more}`));
  }

  /**
   * The first listing. Up to one slice of objects goes out in `replaced`; if there are more
   * (or blockers), every kind is first reported incomplete, so the syncers hold out of in-sync
   * while the rest arrives as upserts.
   */
  async #emitListings(changes: readonly IndexChange[]): Promise<void> {
    const first = changes.slice(0, PUBLISH_SLICE);
    const rest = changes.slice(PUBLISH_SLICE);
    if (rest.length > 0) this.#setConnection('incomplete', new Error(`loading ${changes.length} objects`));
    else if (this.#tree.blockers().length > 0) this.#updateBlockers();
    for (const change of first) this.#record(change);
    this.#listed = true;
    const revision = String(this.#revision);
    for (const { kind, listeners } of this.#subscriptions.values()) {
      for (const listener of listeners) listener.replaced(this.#listing(kind), revision);
    }
    await this.#publishSlices(rest);
  }

  async #publishSlices(changes: readonly IndexChange[]): Promise<void> {
    for (let i = 0; i < changes.length; i += PUBLISH_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      if (this.#state !== 'running') return;
      for (const change of changes.slice(i, i + PUBLISH_SLICE)) this.#publish(this.#record(change), change.type);
    }
  }

  /** Applies one change to the current state under the next revision; returns the stamped object. */
  #record(change: IndexChange): CurrentObject {
    this.#revision += 1;
    const revision = String(this.#revision);
    const object = { ...change.object, metadata: { ...change.object.metadata, resourceVersion: revision } };
    const current = { kind: change.kind, object };
    if (change.type === 'delete') this.#current.delete(change.key);
    else this.#current.set(change.key, current);
    return current;
  }

  #publish(current: CurrentObject, type: 'upsert' | 'delete'): void {
    const subscription = this.#subscriptions.get(current.kind.id);
    if (!subscription) return;
    const revision = current.object.metadata.resourceVersion as string;
    for (const listener of subscription.listeners) {
      // A clone per listener: subscribers may annotate what they receive without corrupting
      // our state or each other's.
      listener.changed(type, structuredClone(current.object), revision);
    }
  }

  #listing(kind: KindInfo): RawObject[] {
    const objects: RawObject[] = [];
    for (const current of this.#current.values()) {
      if (current.kind.id === kind.id) objects.push(structuredClone(current.object));
    }
    return objects;
  }

  #setConnection(state: ConnectionState, error?: Error): void {
    if (this.#connection === state && (state !== 'incomplete' || this.#connectionError?.message === error?.message)) return;
    const previous = this.#connection;
    this.#connection = state;
    this.#connectionError = error;
    if (state === 'down') this.#log.warn({ err: error }, 'manifest directory unavailable; keeping the objects last read');
    else if (state === 'incomplete') this.#log.warn({ reason: error?.message }, 'manifest directory incomplete; syncers stay out of sync');
    else if (previous === 'incomplete' && this.#listed) this.#log.info({ objects: this.#current.size, revision: this.#revision }, 'manifest directory complete again; syncers may report in-sync');
    else this.#log.info({ objects: this.#current.size, revision: this.#revision, directories: this.#watcher.size }, 'manifest directory watched');
    for (const { listeners } of this.#subscriptions.values()) {
      for (const listener of listeners) listener.connection(state, error);
    }
  }

  /** Trailing debounce, capped so a file rewritten continuously is still picked up. */
  #scheduleRescan(): void {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    this.#firstEventAt ??= now;
    const delay = Math.max(0, Math.min(this.#debounceMs, this.#firstEventAt + this.#maxDebounceMs - now));
    this.#stopTimer('debounce');
    this.#debounceTimer = this.#clock.setTimeout(() => {
      this.#debounceTimer = undefined;
      this.#firstEventAt = undefined;
      void this.#requestScan();
    }, delay);
  }

  #schedulePoll(): void {
    this.#stopTimer('poll');
    if (this.#state !== 'running') return;
    const interval = this.#connection === 'down' ? this.#retryMs : this.#pollIntervalMs;
    if (interval <= 0) return;
    this.#pollTimer = this.#clock.setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#requestScan(true);
    }, interval);
    this.#pollTimer.unref?.();
  }

  #stopTimer(which: 'debounce' | 'poll'): void {
    const timer = which === 'debounce' ? this.#debounceTimer : this.#pollTimer;
    if (timer) this.#clock.clearTimeout(timer);
    if (which === 'debounce') this.#debounceTimer = undefined;
    else this.#pollTimer = undefined;
  }
}
