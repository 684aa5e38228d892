/**
 * The manifest directory as this process last read it: per file, its stat signature, the hash
 * of its last good content and whether it has ever been read successfully; per path, what is
 * wrong with it now. `refresh()` walks the tree, reads what changed through the parser worker,
 * and turns the result into index changes.
 *
 * The rules that keep a broken directory from deleting policy:
 * - a file is applied all or nothing: any problem in it (unreadable, too large, a YAML error, a
 *   document that is not a valid object, a limit crossed) leaves the objects last read from it
 *   in place, however many of its documents were fine;
 * - a file that was seen but not read this time (under a directory that cannot be listed, or
 *   replaced by a FIFO) keeps its objects: unreadable is an error, not a removal;
 * - a path that is broken and has never been read successfully in this process is a *blocker*:
 *   its objects may exist on every agent from before a restart, so the datastore must not let
 *   its syncers say in-sync (which would make agents delete them) until it reads.
 */
import { join } from 'node:path';
import type { Logger } from '../../logger.ts';
import type { BrokenPath, DirectoryScanner, FileSignature } from './directoryScanner.ts';
import { sameSignature } from './directoryScanner.ts';
import type { FileLimit } from './limits.ts';
import type { ManifestProblem } from './manifestParser.ts';
import type { ManifestReader } from './manifestReader.ts';
import { type IndexChange, ObjectIndex } from './objectIndex.ts';

export interface ManifestTreeOptions {
  readonly root: string;
  readonly scanner: DirectoryScanner;
  readonly reader: ManifestReader;
  readonly logger: Logger;
  /** Called once each time a path newly crosses a limit. */
  readonly onLimit: (limit: FileLimit) => void;
}

interface TrackedFile {
  signature: FileSignature;
  /** Hash of the content last read successfully; undefined until then. */
  hash: string | undefined;
}

export class ManifestTree {
  readonly #root: string;
  readonly #scanner: DirectoryScanner;
  readonly #reader: ManifestReader;
  readonly #log: Logger;
  readonly #onLimit: (limit: FileLimit) => void;
  readonly #index = new ObjectIndex();
  readonly #files = new Map<string, TrackedFile>();
  /** Problems of each file found when it was last read; a file with any is broken. */
  readonly #fileProblems = new Map<string, ManifestProblem[]>();
  /** Paths the last walk could not follow or read (directories, links, FIFOs). */
  #walkProblems = new Map<string, BrokenPath>();
  /** Paths (files and directories) read successfully at least once in this process. */
  readonly #everGood = new Set<string>();
  #directories: ReadonlyMap<string, string> = new Map();
  #duplicateProblems: ManifestProblem[] = [];

  constructor(options: ManifestTreeOptions) {
    this.#root = options.root;
    this.#scanner = options.scanner;
    this.#reader = options.reader;
    this.#log = options.logger;
    this.#onLimit = options.onLimit;
  }

  /** Directories the last walk listed, relative → absolute path. */
  get directories(): ReadonlyMap<string, string> {
    return this.#directories;
  }

  /**
   * Walks and reads what changed (and, with `retryBroken`, every broken file whatever its
   * signature); returns the resulting changes in key order. Throws what the walk throws
   * (DirectoryUnavailableError, FileLimitError('entries')), having changed nothing.
   */
  async refresh(suspects: ReadonlySet<string>, retryBroken = false): Promise<IndexChange[]> {
    const walk = await this.#scanner.walk();
    this.#directories = walk.directories;
    for (const rel of walk.directories.keys()) this.#everGood.add(rel);
    this.#updateWalkProblems(walk.broken);

    const touched = new Set<string>();
    for (const rel of [...this.#files.keys()]) {
      if (walk.files.has(rel) || this.#isRetained(rel)) continue;
      for (const key of this.#forget(rel)) touched.add(key);
      this.#log.info({ file: this.#display(rel) }, 'manifest file removed');
    }
    for (const rel of [...walk.files.keys()].sort()) {
      const signature = walk.files.get(rel) as FileSignature;
      const tracked = this.#files.get(rel);
      if (tracked && sameSignature(tracked.signature, signature) && !suspects.has(rel) && !(retryBroken && this.#fileProblems.has(rel))) continue;
      for (const key of await this.#read(rel, signature, tracked)) touched.add(key);
    }
    const changes = this.#index.settle(touched);
    this.#updateDuplicates();
    return changes;
  }

  /** Broken paths never read successfully in this process: they hold every kind out of in-sync. */
  blockers(): ManifestProblem[] {
    return this.#brokenPaths().filter(([rel]) => !this.#everGood.has(rel)).map(([, problem]) => problem);
  }

  /** Every current problem: broken paths, bad documents, duplicate objects. */
  problems(): ManifestProblem[] {
    return [...this.#brokenPaths().map(([, problem]) => problem), ...this.#duplicateProblems];
  }

  /** Each broken path (relative) with its problems. */
  #brokenPaths(): [string, ManifestProblem][] {
    const out: [string, ManifestProblem][] = [];
    for (const [rel, p] of this.#walkProblems) out.push([rel, { file: this.#display(rel), reason: p.reason, ...(p.limit ? { limit: p.limit } : {}) }]);
    for (const [rel, problems] of this.#fileProblems) for (const problem of problems) out.push([rel, problem]);
    return out;
  }

  async #read(rel: string, signature: FileSignature, tracked: TrackedFile | undefined): Promise<Set<string>> {
    const file = this.#display(rel);
    const result = await this.#reader.read(file, file, tracked?.hash);
    if (result.outcome === 'missing') {
      // Deleted between walk and read: the next event rescans; gone now.
      return this.#forget(rel);
    }
    const entry = tracked ?? { signature, hash: undefined };
    entry.signature = signature;
    this.#files.set(rel, entry);
    if (result.outcome === 'unchanged') {
      this.#markGood(rel);
      return new Set();
    }
    const problems = result.outcome === 'failed' ? [result.problem] : result.problems;
    if (problems.length > 0) {
      this.#markBroken(rel, problems, this.#index.hasFile(file));
      return new Set();
    }
    if (result.outcome !== 'parsed') return new Set();
    for (const ignored of result.ignored) {
      this.#log.debug({ file, ...ignored }, 'manifest document of a kind Cattail does not read; ignored');
    }
    entry.hash = result.hash;
    this.#markGood(rel);
    this.#log.debug({ file, objects: result.objects.length }, 'manifest file read');
    return this.#index.setFile(file, result.objects);
  }

  #markBroken(rel: string, problems: ManifestProblem[], kept: boolean): void {
    const before = this.#fileProblems.get(rel);
    this.#fileProblems.set(rel, problems);
    const [first] = problems;
    if (!first || (before?.length === problems.length && before.every((p, i) => sameProblem(p, problems[i])))) return;
    if (first.limit) this.#onLimit(first.limit);
    const fields = { file: first.file, line: first.line, reason: first.reason, limit: first.limit, problems: problems.length };
    if (this.#everGood.has(rel)) {
      this.#log.warn({ ...fields, kept }, 'manifest file is broken; none of it is applied and the objects last read from it are kept');
    } else {
      this.#log.warn(fields, 'manifest file has not been read successfully; syncers stay out of sync until it is');
    }
  }

  #markGood(rel: string): void {
    const wasBroken = this.#fileProblems.delete(rel);
    this.#everGood.add(rel);
    if (wasBroken) this.#log.info({ file: this.#display(rel) }, 'manifest file is good again');
  }

  #updateWalkProblems(broken: ReadonlyMap<string, BrokenPath>): void {
    for (const [rel, problem] of broken) {
      const before = this.#walkProblems.get(rel);
      if (before?.reason === problem.reason) continue;
      if (problem.limit) this.#onLimit(problem.limit);
      const fields = { file: this.#display(rel), reason: problem.reason, limit: problem.limit };
      if (this.#everGood.has(rel)) this.#log.warn(fields, 'manifest path is broken; the objects last read under it are kept');
      else this.#log.warn(fields, 'manifest path cannot be read; syncers stay out of sync until it can');
    }
    for (const rel of this.#walkProblems.keys()) {
      if (!broken.has(rel)) this.#log.info({ file: this.#display(rel) }, 'manifest path is good again');
    }
    this.#walkProblems = new Map(broken);
  }

  /** Seen before but not readable now: under a broken directory or link, or itself broken. */
  #isRetained(rel: string): boolean {
    for (const [path, problem] of this.#walkProblems) {
      if (path === rel || (problem.isDirectory && rel.startsWith(`${path}/`))) return true;
    }
    return false;
  }

  #forget(rel: string): Set<string> {
    this.#files.delete(rel);
    this.#fileProblems.delete(rel);
    return this.#index.removeFile(this.#display(rel));
  }

  #updateDuplicates(): void {
    const before = new Set(this.#duplicateProblems.map(problemId));
    this.#duplicateProblems = this.#index.duplicates();
    for (const problem of this.#duplicateProblems) {
      if (!before.has(problemId(problem))) this.#log.warn(problem, 'duplicate object in manifests');
    }
  }

  #display(rel: string): string {
    return rel === '' ? this.#root : join(this.#root, rel);
  }
}

function sameProblem(a: ManifestProblem, b: ManifestProblem | undefined): boolean {
  return b !== undefined && a.line === b.line && a.reason === b.reason;
}

function problemId(problem: ManifestProblem): string {
  return `${problem.file}:${problem.line ?? ''}:${problem.reason}`;
}
