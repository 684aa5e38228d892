/**
 * The embedded default datastore: a directory of YAML manifests, watched for changes.
 *
 * Lifecycle: `start()` scans the directory once, gives every subscriber one `replaced` listing
 * of its kind followed by `connection('up')`, then watches the tree. Any watch event schedules
 * a debounced rescan (editors save in several steps: truncate, write, rename, chmod); a slow
 * periodic rescan catches what the watcher misses (inotify overflow, network filesystems). Each
 * rescan re-reads only files that changed, re-parses them, and emits the resulting upserts and
 * deletions as `changed` events, each with the next revision of a per-datastore counter.
 *
 * Safety rules, because this directory is a whole cluster's policy:
 * - a file that fails to parse keeps the objects last read from it until it parses again or is
 *   deleted (a typo must not delete policy);
 * - if the directory disappears, the datastore reports `connection('down')`, keeps every
 *   object, and checks back every `retryMs` until it is there again.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock, type Timer } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { KindInfo } from '../kinds.ts';
import type { Datastore, KindListener, RawObject } from '../types.ts';
import { DirectoryScanner, DirectoryUnavailableError, toRelativePath } from './directoryScanner.ts';
import { parseManifest, type ManifestProblem } from './manifestParser.ts';
import { compareProblems, ObjectIndex, type IndexChange } from './objectIndex.ts';

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
  readonly clock?: Clock;
}

/** Long enough to cover an editor's write-then-rename, short enough to feel immediate. */
const DEFAULT_DEBOUNCE_MS = 100;
/** Typha's Kubernetes poll interval; a stat-only pass over a manifest tree costs little. */
const DEFAULT_POLL_INTERVAL_MS = 30_000;
const DEFAULT_RETRY_MS = 1_000;

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
  readonly #scanner: DirectoryScanner;
  readonly #index = new ObjectIndex();
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #current = new Map<string, CurrentObject>();
  /** Problems found when each file was last read (parse errors, bad documents, unreadable). */
  readonly #fileProblems = new Map<string, ManifestProblem[]>();
  #duplicateProblems: ManifestProblem[] = [];
  #revision = 0;
  #state: 'new' | 'running' | 'closed' = 'new';
  /** Whether the initial `replaced` listings have gone out. */
  #listed = false;
  #connection: 'up' | 'down' | undefined;
  #watcher: FSWatcher | undefined;
  #debounceTimer: Timer | undefined;
  #firstEventAt: number | undefined;
  #pollTimer: Timer | undefined;
  #suspects = new Set<string>();
  #scanQueued = false;
  #scanChain: Promise<void> = Promise.resolve();

  constructor(options: FileDatastoreOptions) {
    this.#dir = options.dir;
    this.#log = options.logger.child({ datastore: 'file', dir: options.dir });
    this.#clock = options.clock ?? systemClock;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#maxDebounceMs = options.maxDebounceMs ?? this.#debounceMs * 10;
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.#scanner = new DirectoryScanner(options.dir);
  }

  subscribe(kind: KindInfo, listener: KindListener): void {
    if (this.#state === 'closed') throw new Error('FileDatastore: subscribe after close');
    const subscription = this.#subscriptions.get(kind.id) ?? { kind, listeners: [] };
    subscription.listeners.push(listener);
    this.#subscriptions.set(kind.id, subscription);
    // A late subscriber still gets the contract's first event: a complete listing.
    if (this.#listed) {
      listener.replaced(this.#listing(kind), String(this.#revision));
      if (this.#connection) listener.connection(this.#connection);
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
    this.#closeWatcher();
    await this.#scanChain;
  }

  /** Current problems in the directory, for diagnostics: parse errors, bad documents, duplicates. */
  problems(): readonly ManifestProblem[] {
    return [...[...this.#fileProblems.values()].flat(), ...this.#duplicateProblems].sort(compareProblems);
  }

  /** The revision of the latest change, as a decimal string. */
  revision(): string {
    return String(this.#revision);
  }

  /** Rescans now instead of waiting for a watch event. Resolves when the scan has been applied. */
  rescan(): Promise<void> {
    return this.#requestScan();
  }

  /** Scans are strictly sequential; requests made while one is queued share it. */
  #requestScan(): Promise<void> {
    if (this.#scanQueued) return this.#scanChain;
    this.#scanQueued = true;
    this.#scanChain = this.#scanChain.then(async () => {
      this.#scanQueued = false;
      const suspects = this.#suspects;
      this.#suspects = new Set();
      if (this.#state !== 'running') return;
      try {
        await this.#scanOnce(suspects);
      } catch (err) {
        // Not expected (the scanner reports per-file errors itself); never let a rescan kill the loop.
        this.#log.error({ err }, 'rescan of manifest directory failed');
      }
      this.#schedulePoll();
    });
    return this.#scanChain;
  }

  async #scanOnce(suspects: ReadonlySet<string>): Promise<void> {
    let result;
    try {
      result = await this.#scanner.scan(suspects);
    } catch (err) {
      if (!(err instanceof DirectoryUnavailableError)) throw err;
      this.#closeWatcher();
      // Before the first listing, subscribers simply wait: an empty `replaced` would tell them
      // the cluster is empty, which we do not know.
      this.#setConnection('down', err);
      return;
    }
    if (this.#state !== 'running') return;

    const touched = new Set<string>();
    for (const path of result.removed) {
      const file = this.#display(path);
      for (const key of this.#index.removeFile(file)) touched.add(key);
      this.#fileProblems.delete(file);
      this.#log.info({ file }, 'manifest file removed');
    }
    for (const { path, error } of result.unreadable) {
      const file = this.#display(path);
      const problem = { file, reason: `cannot read file: ${error.message}` };
      this.#fileProblems.set(file, [problem]);
      this.#log.warn(problem, 'manifest file unreadable; keeping the objects last read from it');
    }
    for (const { path, text } of result.changed) {
      const file = this.#display(path);
      for (const key of this.#readFile(file, text)) touched.add(key);
    }

    const changes = this.#index.settle(touched);
    this.#updateDuplicates();
    if (!this.#listed) {
      for (const change of changes) this.#record(change);
      this.#emitListings();
    } else {
      for (const change of changes) this.#publish(this.#record(change), change.type);
    }
    if (!this.#watcher) this.#openWatcher();
    // Up even without a watcher (e.g. inotify limits reached): periodic rescans still follow it.
    this.#setConnection('up');
  }

  /** Parses one changed file into the index; returns the keys it may have affected. */
  #readFile(file: string, text: string): Set<string> {
    const parsed = parseManifest(file, text);
    if (!parsed.ok) {
      this.#fileProblems.set(file, [parsed.problem]);
      this.#log.warn(
        { ...parsed.problem, kept: this.#index.hasFile(file) },
        'manifest file does not parse; keeping the objects last read from it',
      );
      return new Set();
    }
    for (const problem of parsed.problems) this.#log.warn(problem, 'manifest document skipped');
    for (const ignored of parsed.ignored) {
      this.#log.debug({ file, ...ignored }, 'manifest document of a kind Cattail does not read; ignored');
    }
    this.#fileProblems.set(file, parsed.problems);
    if (parsed.problems.length === 0) this.#fileProblems.delete(file);
    this.#log.debug({ file, objects: parsed.objects.length }, 'manifest file read');
    return this.#index.setFile(file, parsed.objects);
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
      // our state or each other's (manifest directories are small; the copy is cheap).
      listener.changed(type, structuredClone(current.object), revision);
    }
  }

  #emitListings(): void {
    this.#listed = true;
    const revision = String(this.#revision);
    for (const { kind, listeners } of this.#subscriptions.values()) {
      for (const listener of listeners) listener.replaced(this.#listing(kind), revision);
    }
  }

  #listing(kind: KindInfo): RawObject[] {
    const objects: RawObject[] = [];
    for (const current of this.#current.values()) {
      if (current.kind.id === kind.id) objects.push(structuredClone(current.object));
    }
    return objects;
  }

  #setConnection(state: 'up' | 'down', error?: Error): void {
    if (this.#connection === state) return;
    this.#connection = state;
    if (state === 'down') this.#log.warn({ err: error }, 'manifest directory unavailable; keeping the objects last read');
    else this.#log.info({ objects: this.#current.size, revision: this.#revision }, 'manifest directory watched');
    for (const { listeners } of this.#subscriptions.values()) {
      for (const listener of listeners) listener.connection(state, error);
    }
  }

  #updateDuplicates(): void {
    const before = new Set(this.#duplicateProblems.map(problemId));
    this.#duplicateProblems = this.#index.duplicates();
    for (const problem of this.#duplicateProblems) {
      if (!before.has(problemId(problem))) this.#log.warn(problem, 'duplicate object in manifests');
    }
  }

  #openWatcher(): void {
    let watcher: FSWatcher;
    try {
      // Not persistent: the datastore must not be what keeps a process alive.
      watcher = watch(this.#dir, { recursive: true, persistent: false });
    } catch (err) {
      this.#log.warn({ err }, 'cannot watch manifest directory; relying on periodic rescans');
      return;
    }
    watcher.on('change', (_event, filename) => {
      if (typeof filename === 'string' && filename !== '') this.#suspects.add(toRelativePath(filename));
      this.#scheduleRescan();
    });
    watcher.on('error', (err) => {
      this.#log.debug({ err }, 'manifest directory watcher failed');
      this.#closeWatcher();
      this.#scheduleRescan();
    });
    // Linux closes a recursive watcher when the watched directory is removed.
    watcher.on('close', () => {
      if (this.#watcher !== watcher) return;
      this.#watcher = undefined;
      this.#scheduleRescan();
    });
    this.#watcher = watcher;
  }

  #closeWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.close();
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
      void this.#requestScan();
    }, interval);
    this.#pollTimer.unref?.();
  }

  #stopTimer(which: 'debounce' | 'poll'): void {
    const timer = which === 'debounce' ? this.#debounceTimer : this.#pollTimer;
    if (timer) this.#clock.clearTimeout(timer);
    if (which === 'debounce') this.#debounceTimer = undefined;
    else this.#pollTimer = undefined;
  }

  #display(relativePath: string): string {
    return join(this.#dir, relativePath);
  }
}

function problemId(problem: ManifestProblem): string {
  return `${problem.file}:${problem.line ?? ''}:${problem.reason}`;
}
