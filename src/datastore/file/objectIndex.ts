/**
 * Which object is current for each identity, given everything every manifest file declares.
 *
 * Several files (or two documents of one file) may declare the same object. The index keeps
 * every declaration as a candidate and picks a winner deterministically: the first file in
 * sorted path order, then the first document in that file. The others are reported as
 * duplicates. Because losers are kept, removing the winner's file promotes the next candidate
 * instead of deleting the object.
 *
 * Implementation: per file, the declarations it made (replaced wholesale when the file is
 * re-read); per key, the candidates sorted by (file, document order); per key, the winner last
 * reported. `settle(keys)` recomputes the winner of each touched key and returns the difference
 * as upserts and deletions. Content is compared by the parser's fingerprint so re-saving a file, or
 * a winner handing over to an identical duplicate, produces no change.
 */
import type { KindInfo } from '../kinds.ts';
import type { RawObject } from '../types.ts';
import type { ManifestObject, ManifestProblem } from './manifestParser.ts';

export interface IndexChange {
  readonly type: 'upsert' | 'delete';
  readonly key: string;
  readonly kind: KindInfo;
  /** For an upsert the new content; for a delete the content last current. Never stamped. */
  readonly object: RawObject;
}

interface Candidate {
  readonly file: string;
  /** Position of the declaration within its file. */
  readonly order: number;
  readonly declaration: ManifestObject;
  readonly fingerprint: string;
}

export class ObjectIndex {
  readonly #byFile = new Map<string, Candidate[]>();
  readonly #byKey = new Map<string, Candidate[]>();
  readonly #winners = new Map<string, Candidate>();

  /** Replaces what `file` declares. Returns the keys whose winner may have changed. */
  setFile(file: string, declarations: readonly ManifestObject[]): Set<string> {
    const touched = this.removeFile(file);
    const candidates = declarations.map((declaration, order) => ({
      file,
      order,
      declaration,
      fingerprint: declaration.fingerprint,
    }));
    this.#byFile.set(file, candidates);
    for (const candidate of candidates) {
      const key = candidate.declaration.key;
      touched.add(key);
      const list = this.#byKey.get(key) ?? [];
      list.push(candidate);
      list.sort(compareCandidates);
      this.#byKey.set(key, list);
    }
    return touched;
  }

  /** Forgets everything `file` declared. Returns the keys whose winner may have changed. */
  removeFile(file: string): Set<string> {
    const touched = new Set<string>();
    const previous = this.#byFile.get(file);
    if (!previous) return touched;
    this.#byFile.delete(file);
    for (const candidate of previous) {
      const key = candidate.declaration.key;
      touched.add(key);
      const remaining = (this.#byKey.get(key) ?? []).filter((c) => c !== candidate);
      if (remaining.length === 0) this.#byKey.delete(key);
      else this.#byKey.set(key, remaining);
    }
    return touched;
  }

  hasFile(file: string): boolean {
    return this.#byFile.has(file);
  }

  /** Recomputes the winners of `keys`; returns what changed, in key order. */
  settle(keys: Iterable<string>): IndexChange[] {
    const changes: IndexChange[] = [];
    for (const key of [...keys].sort()) {
      const before = this.#winners.get(key);
      const after = this.#byKey.get(key)?.[0];
      if (after === undefined) {
        if (before === undefined) continue;
        this.#winners.delete(key);
        changes.push({ type: 'delete', key, kind: before.declaration.kind, object: before.declaration.object });
        continue;
      }
      this.#winners.set(key, after);
      if (before?.fingerprint === after.fingerprint) continue;
      changes.push({ type: 'upsert', key, kind: after.declaration.kind, object: after.declaration.object });
    }
    return changes;
  }

  /** Every declaration that lost to an earlier one, naming where the winner is. */
  duplicates(): ManifestProblem[] {
    const problems: ManifestProblem[] = [];
    for (const candidates of this.#byKey.values()) {
      const [winner, ...losers] = candidates;
      if (!winner) continue;
      for (const loser of losers) {
        const { kind, object, line } = loser.declaration;
        const namespace = object.metadata.namespace ? `${object.metadata.namespace}/` : '';
        problems.push({
          file: loser.file,
          line,
          reason: `duplicate ${kind.kind} ${namespace}${object.metadata.name}: ignored, ${winner.file}:${winner.declaration.line} declares it first`,
        });
      }
    }
    return problems.sort(compareProblems);
  }
}

function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.order - b.order;
}

export function compareProblems(a: ManifestProblem, b: ManifestProblem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (a.line ?? 0) - (b.line ?? 0);
}
