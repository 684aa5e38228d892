/**
 * Finds the manifest files under a directory and tells which of them changed since the last
 * scan.
 *
 * Implementation: a scan walks the tree and `stat`s every manifest; only files whose stat
 * signature (inode, size, mtime, ctime) moved, or that the watcher named, are read, and a
 * file whose content hash is unchanged is not reported. Why not trust watch events alone:
 * editors save by writing a temporary file and renaming it over the original, Kubernetes
 * ConfigMap volumes swap a `..data` symlink, and inotify drops events on overflow; comparing
 * the directory with what we last read is correct whatever events arrived (or did not).
 * Why hash after stat: a `touch` or a save without edits must not produce a delta.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';

export class DirectoryUnavailableError extends Error {
  readonly code = 'DIRECTORY_UNAVAILABLE';
  constructor(dir: string, cause: unknown) {
    super(`manifest directory ${dir} is unavailable: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'DirectoryUnavailableError';
  }
}

/** What changed in the directory since the previous scan. Paths are relative, `/`-separated. */
export interface ScanResult {
  /** Files that are new or whose content changed, with the new text. */
  readonly changed: readonly { readonly path: string; readonly text: string }[];
  /** Files that no longer exist (or stopped being manifests, e.g. renamed to `.bak`). */
  readonly removed: readonly string[];
  /** Files that exist but could not be read this time (permissions, I/O); their objects stay. */
  readonly unreadable: readonly { readonly path: string; readonly error: Error }[];
}

interface FileSignature {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

interface Tracked {
  signature: FileSignature;
  hash: string;
}

/**
 * Symlinked directories are followed (ConfigMap mounts are built from them), so a link loop
 * could recurse forever; real manifest trees are a few levels deep.
 */
const MAX_DEPTH = 16;

export function isManifestName(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

export class DirectoryScanner {
  readonly #root: string;
  /** What each file held when we last read it; the baseline the next scan compares with. */
  readonly #tracked = new Map<string, Tracked>();

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Compares the directory with the last scan. `suspects` are relative paths the watcher
   * reported; they are re-read even if their stat looks unchanged (coarse mtime on some
   * filesystems). Throws DirectoryUnavailableError if the root itself cannot be listed.
   */
  async scan(suspects: ReadonlySet<string> = new Set()): Promise<ScanResult> {
    const present = new Map<string, FileSignature>();
    await this.#walk('', 0, present);

    const changed: { path: string; text: string }[] = [];
    const unreadable: { path: string; error: Error }[] = [];
    const removed: string[] = [];
    for (const path of [...present.keys()].sort()) {
      const signature = present.get(path) as FileSignature;
      const previous = this.#tracked.get(path);
      if (previous && sameSignature(previous.signature, signature) && !suspects.has(path)) continue;
      let text: string;
      try {
        text = await readFile(join(this.#root, ...path.split('/')), 'utf8');
      } catch (err) {
        if (isNotFound(err)) {
          // Deleted between stat and read: the next event rescans; treat as gone now.
          if (previous) removed.push(path);
          this.#tracked.delete(path);
        } else {
          unreadable.push({ path, error: err as Error });
        }
        continue;
      }
      const hash = createHash('sha256').update(text).digest('hex');
      this.#tracked.set(path, { signature, hash });
      if (previous?.hash !== hash) changed.push({ path, text });
    }
    for (const path of [...this.#tracked.keys()].sort()) {
      if (!present.has(path)) {
        removed.push(path);
        this.#tracked.delete(path);
      }
    }
    return { changed, removed, unreadable };
  }

  async #walk(relDir: string, depth: number, into: Map<string, FileSignature>): Promise<void> {
    const absDir = relDir === '' ? this.#root : join(this.#root, ...relDir.split('/'));
    let entries;
    try {
      entries = await readdir(absDir, { withFileTypes: true });
    } catch (err) {
      if (relDir === '') throw new DirectoryUnavailableError(this.#root, err);
      return; // a subdirectory vanished mid-walk; its files count as removed
    }
    for (const entry of entries) {
      // Dot-entries are editor swap/lock files (`.x.yaml.swp`, `.#x.yaml`) and ConfigMap
      // internals (`..data`, `..2024_01_01...`) whose files are also reachable by their
      // visible symlinks; reading both would report every object as a duplicate.
      if (entry.name.startsWith('.')) continue;
      const relPath = relDir === '' ? entry.name : posix.join(relDir, entry.name);
      const absPath = join(absDir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await stat(absPath).catch(() => undefined);
        if (!target) continue; // dangling link
        isDir = target.isDirectory();
        isFile = target.isFile();
      }
      if (isDir) {
        if (depth < MAX_DEPTH) await this.#walk(relPath, depth + 1, into);
      } else if (isFile && isManifestName(entry.name)) {
        const info = await stat(absPath).catch(() => undefined);
        if (info?.isFile()) {
          into.set(relPath, { dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs });
        }
      }
    }
  }
}

/** Converts a path relative to the root, as fs.watch reports it, to the scanner's form. */
export function toRelativePath(watchedName: string): string {
  return sep === '/' ? watchedName : watchedName.split(sep).join('/');
}

function sameSignature(a: FileSignature, b: FileSignature): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
