/**
 * Watches every directory of a manifest tree, one non-recursive `fs.watch` per directory, and
 * reports the path of anything that changed inside one.
 *
 * Why not `fs.watch(root, { recursive: true })`: on Linux, Node implements it by watching each
 * file, and an editor's save (write a temporary file, rename it over the original) replaces the
 * file's inode; the watch stays on the old inode, so every save after the first went unseen
 * until the periodic rescan. A directory watch reports every create, rename and write of its
 * entries whatever their inode, so each save is seen. The caller re-syncs the set of
 * directories after each scan (a new subdirectory is walked, then watched); what happens in
 * the gap is caught by the scan itself, which compares the tree with what it last read.
 */
import { watch, type FSWatcher } from 'node:fs';
import { posix } from 'node:path';
import { toRelativePath } from './directoryScanner.ts';

export interface DirectoryWatcherOptions {
  /** A path (relative to the root, `/`-separated) changed, or a directory's watch failed. */
  readonly onChange: (relativePath: string) => void;
  /** A directory cannot be watched (e.g. inotify watch limit reached); periodic rescans cover it. */
  readonly onUnwatchable: (relativeDir: string, error: Error) => void;
}

interface Watched {
  readonly absolutePath: string;
  readonly watcher: FSWatcher;
}

export class DirectoryWatcher {
  readonly #options: DirectoryWatcherOptions;
  readonly #watched = new Map<string, Watched>();

  constructor(options: DirectoryWatcherOptions) {
    this.#options = options;
  }

  /** Watches exactly `directories` (relative → absolute path): adds new ones, drops gone ones. */
  sync(directories: ReadonlyMap<string, string>): void {
    for (const [rel, { absolutePath }] of [...this.#watched]) {
      if (directories.get(rel) !== absolutePath) this.#unwatch(rel);
    }
    for (const [rel, absolutePath] of directories) {
      if (!this.#watched.has(rel)) this.#watch(rel, absolutePath);
    }
  }

  /** Number of directories currently watched. */
  get size(): number {
    return this.#watched.size;
  }

  close(): void {
    for (const rel of [...this.#watched.keys()]) this.#unwatch(rel);
  }

  #watch(rel: string, absolutePath: string): void {
    let watcher: FSWatcher;
    try {
      // Not persistent: the datastore must not be what keeps a process alive.
      watcher = watch(absolutePath, { persistent: false });
    } catch (err) {
      this.#options.onUnwatchable(rel, err as Error);
      return;
    }
    watcher.on('change', (_event, filename) => {
      const name = typeof filename === 'string' ? toRelativePath(filename) : '';
      this.#options.onChange(name === '' ? rel : rel === '' ? name : posix.join(rel, name));
    });
    // A removed directory ends its watch with an error or a close; the rescan that follows
    // finds out what happened and re-syncs the watch set.
    const lost = (): void => {
      if (this.#watched.get(rel)?.watcher !== watcher) return;
      this.#watched.delete(rel);
      watcher.close();
      this.#options.onChange(rel);
    };
    watcher.on('error', lost);
    watcher.on('close', lost);
    this.#watched.set(rel, { absolutePath, watcher });
  }

  #unwatch(rel: string): void {
    const watched = this.#watched.get(rel);
    if (!watched) return;
    this.#watched.delete(rel);
    watched.watcher.close();
  }
}
