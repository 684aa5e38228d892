/**
 * Walks a manifest directory: which manifest files exist now (with a stat signature each),
 * which directories were walked (the watcher watches each), and which paths could not be
 * walked or read, and why. It reads no file content; that happens in the parser worker.
 *
 * Rules, because a path the walk cannot see must never look like a deletion:
 * - a subdirectory that cannot be listed (permissions, I/O) is broken, not absent; the files
 *   last seen under it are kept by the caller;
 * - symlinked directories are followed (ConfigMap mounts are built from them), but a link whose
 *   real path is one of its own ancestors (a cycle, e.g. `x -> .`), that leaves the root's real
 *   path, or that is the `maxSymlinkDepth`+1-th link along one path, is broken. Why refuse links
 *   leaving the directory: the watcher watches the tree, so a file outside would change silently
 *   until the next periodic rescan; a broken path is loud (readiness names it) instead;
 * - an entry with a manifest name that is neither a file nor a directory (a FIFO, a socket) is
 *   a broken file: opening a FIFO would block a thread;
 * - the walk stops with FileLimitError('entries') after `maxEntries` entries, so no tree, however
 *   linked, keeps a scan running or holds its listing in memory.
 *
 * The file-system calls go through a narrow port, so a test can make one call fail the way
 * an unreadable directory does for a non-root user (tests run as root, which reads anything).
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { FileLimitError, type FileLimit, type FileLimits } from './limits.ts';

export class DirectoryUnavailableError extends Error {
  readonly code = 'DIRECTORY_UNAVAILABLE';
  constructor(dir: string, cause: unknown) {
    super(`manifest directory ${dir} is unavailable: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'DirectoryUnavailableError';
  }
}

/** The file-system calls the walk makes. */
export interface ScanFileSystem {
  readdir(path: string): Promise<Dirent[]>;
  stat(path: string): Promise<Stats>;
  realpath(path: string): Promise<string>;
}

export const nodeScanFileSystem: ScanFileSystem = {
  readdir: (path) => readdir(path, { withFileTypes: true }),
  stat: (path) => stat(path),
  realpath: (path) => realpath(path),
};

export interface FileSignature {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** A path the walk could not follow or that is not a readable manifest. */
export interface BrokenPath {
  readonly reason: string;
  readonly limit?: FileLimit;
  /** A directory (or link to one): the files last seen under it are kept. */
  readonly isDirectory: boolean;
}

/** The tree as one walk found it. Paths are relative to the root, `/`-separated. */
export interface WalkResult {
  readonly files: ReadonlyMap<string, FileSignature>;
  /** Every directory walked, relative path → absolute path ('' is the root). */
  readonly directories: ReadonlyMap<string, string>;
  readonly broken: ReadonlyMap<string, BrokenPath>;
}

export function isManifestName(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

interface WalkState {
  readonly files: Map<string, FileSignature>;
  readonly directories: Map<string, string>;
  readonly broken: Map<string, BrokenPath>;
  readonly rootReal: string;
  entries: number;
}

export class DirectoryScanner {
  readonly #root: string;
  readonly #fs: ScanFileSystem;
  readonly #limits: Pick<FileLimits, 'maxEntries' | 'maxSymlinkDepth'>;

  constructor(root: string, limits: Pick<FileLimits, 'maxEntries' | 'maxSymlinkDepth'>, fileSystem: ScanFileSystem = nodeScanFileSystem) {
    this.#root = root;
    this.#limits = limits;
    this.#fs = fileSystem;
  }

  /**
   * Walks the tree. Throws DirectoryUnavailableError if the root itself cannot be listed, and
   * FileLimitError('entries') if the tree has more entries than allowed.
   */
  async walk(): Promise<WalkResult> {
    let rootReal: string;
    try {
      rootReal = await this.#fs.realpath(this.#root);
    } catch (err) {
      throw new DirectoryUnavailableError(this.#root, err);
    }
    const state: WalkState = { files: new Map(), directories: new Map(), broken: new Map(), rootReal, entries: 0 };
    await this.#walkDir(state, '', this.#root, [rootReal], 0);
    return { files: state.files, directories: state.directories, broken: state.broken };
  }

  /** `chain` holds the real paths of this directory and its ancestors, for cycle detection. */
  async #walkDir(state: WalkState, relDir: string, absDir: string, chain: readonly string[], links: number): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await this.#fs.readdir(absDir);
    } catch (err) {
      if (relDir === '') throw new DirectoryUnavailableError(this.#root, err);
      // Vanished mid-walk: its files count as removed. Anything else: broken, files kept.
      if (!isNotFound(err)) state.broken.set(relDir, { reason: `cannot read directory: ${(err as Error).message}`, isDirectory: true });
      return;
    }
    state.directories.set(relDir, absDir);
    const dirReal = chain[chain.length - 1] as string;
    for (const entry of entries) {
      state.entries += 1;
      if (state.entries > this.#limits.maxEntries) {
        throw new FileLimitError('entries', `the directory tree has more than ${this.#limits.maxEntries} entries`);
      }
      // Dot-entries are editor swap/lock files (`.x.yaml.swp`, `.#x.yaml`) and ConfigMap
      // internals (`..data`, `..2024_01_01...`) whose files are also reachable by their
      // visible symlinks; reading both would report every object as a duplicate.
      if (entry.name.startsWith('.')) continue;
      const relPath = relDir === '' ? entry.name : posix.join(relDir, entry.name);
      const absPath = join(absDir, entry.name);
      if (entry.isSymbolicLink()) {
        await this.#followLink(state, relPath, absPath, chain, links);
      } else if (entry.isDirectory()) {
        await this.#walkDir(state, relPath, absPath, [...chain, join(dirReal, entry.name)], links);
      } else if (isManifestName(entry.name)) {
        await this.#addFile(state, relPath, absPath);
      }
    }
  }

  async #followLink(state: WalkState, relPath: string, absPath: string, chain: readonly string[], links: number): Promise<void> {
    const manifest = isManifestName(posix.basename(relPath));
    let target: Stats;
    let real: string;
    try {
      target = await this.#fs.stat(absPath);
      real = await this.#fs.realpath(absPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') {
        state.broken.set(relPath, { reason: 'symlink loop: the link resolves to itself', limit: 'symlinkCycle', isDirectory: !manifest });
      } else if (!isNotFound(err) && manifest) {
        state.broken.set(relPath, { reason: `cannot follow link: ${(err as Error).message}`, isDirectory: false });
      }
      return; // a dangling link: nothing there
    }
    if (!target.isDirectory() && !manifest) return;
    if (!isWithin(real, state.rootReal)) {
      state.broken.set(relPath, { reason: `link leaves the manifest directory (to ${real}); not followed`, limit: 'symlinkOutside', isDirectory: target.isDirectory() });
      return;
    }
    if (!target.isDirectory()) {
      await this.#addFile(state, relPath, absPath);
      return;
    }
    if (chain.includes(real)) {
      state.broken.set(relPath, { reason: `symlink cycle: the link leads back to ${real}`, limit: 'symlinkCycle', isDirectory: true });
      return;
    }
    if (links + 1 > this.#limits.maxSymlinkDepth) {
      state.broken.set(relPath, { reason: `more than ${this.#limits.maxSymlinkDepth} symlinked directories along this path`, limit: 'symlinkDepth', isDirectory: true });
      return;
    }
    await this.#walkDir(state, relPath, absPath, [...chain, real], links + 1);
  }

  async #addFile(state: WalkState, relPath: string, absPath: string): Promise<void> {
    let info: Stats;
    try {
      info = await this.#fs.stat(absPath);
    } catch (err) {
      if (!isNotFound(err)) state.broken.set(relPath, { reason: `cannot read file: ${(err as Error).message}`, isDirectory: false });
      return;
    }
    if (info.isDirectory()) return; // replaced by a directory since readdir; the next scan walks it
    if (!info.isFile()) {
      state.broken.set(relPath, { reason: 'cannot read file: not a regular file', isDirectory: false });
      return;
    }
    state.files.set(relPath, { dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs });
  }
}

/** Converts a path relative to the root, as fs.watch reports it, to the scanner's form. */
export function toRelativePath(watchedName: string): string {
  return sep === '/' ? watchedName : watchedName.split(sep).join('/');
}

export function sameSignature(a: FileSignature, b: FileSignature): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
