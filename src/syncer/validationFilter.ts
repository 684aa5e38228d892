import { OUTPUT_KINDS, outputKind, validateOutput, type RuleFailure } from '../calico/index.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { encodedEntrySize } from '../protocol/index.ts';
import type { SyncerSink, SyncStatus, Update } from './types.ts';

export interface ValidationFilterOptions {
  readonly syncerType: string;
  /** Where valid updates (and the deletions that replace invalid ones) go: the snapshot cache. */
  readonly sink: SyncerSink;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Bound on one encoded entry `[key, value, revision]`; a larger value is invalid. */
  readonly maxValueBytes: number;
}

/** Log fields are cut to this many characters: an oversized value must not make an oversized log line. */
const LOG_FIELD_MAX_CHARS = 256;

const clip = (s: string): string => (s.length <= LOG_FIELD_MAX_CHARS ? s : `${s.slice(0, LOG_FIELD_MAX_CHARS)}… (${s.length} characters)`);

/**
 * Typha's output validation filter (typha `pkg/calc/validation_filter.go`) between a syncer and
 * its snapshot cache: every value published, of every syncer type, passes the rules Calico's
 * v1 or v3 validator applies to its kind (`src/calico/outputValidation.ts`) and the bound on
 * one encoded entry. A value that fails is replaced by a deletion of its key, as Typha nulls
 * it, logged with the key and the rule, and counted in `cattail_updates_invalid_total`.
 *
 * It composes with conversion-time validation rather than repeating it: a conversion that
 * rejects an object already emits a deletion (counted per datastore kind in
 * `cattail_datastore_invalid_objects_total`), which passes through here untouched. This filter
 * judges the model values the conversions produced, as Typha's filter judges the syncer's.
 *
 * The size bound is checked before the rules and without encoding, so a 70 MB label costs one
 * length computation, and nothing oversized reaches the cache, a breadcrumb or a frame. A key
 * so long that even its deletion would exceed the bound (only a hand-written file can name one)
 * is not published at all: no entry with that key could ever have been sent.
 */
export class ValidationFilter implements SyncerSink {
  readonly #o: ValidationFilterOptions;
  readonly #log: Logger;

  constructor(options: ValidationFilterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ syncer: options.syncerType });
    for (const kind of OUTPUT_KINDS) options.metrics.updatesInvalid.inc({ syncer: options.syncerType, kind }, 0);
  }

  onUpdates(updates: readonly Update[]): void {
    const out: Update[] = [];
    for (const u of updates) {
      const filtered = this.#filter(u);
      if (filtered !== undefined) out.push(filtered);
    }
    if (out.length > 0) this.#o.sink.onUpdates(out);
  }

  onStatus(status: SyncStatus): void {
    this.#o.sink.onStatus(status);
  }

  #filter(u: Update): Update | undefined {
    const max = this.#o.maxValueBytes;
    if (u.value === null) {
      if (encodedEntrySize(u.key, null, u.revision, max) <= max) return u;
      this.#invalid(u.key, { rule: 'maxValueBytes', reason: `the key alone is over ${max} bytes encoded; not published` });
      return undefined;
    }
    const size = encodedEntrySize(u.key, u.value, u.revision, max);
    const failure: RuleFailure | undefined = size > max
      ? { rule: 'maxValueBytes', reason: `encoded entry is over the ${max}-byte bound` }
      : validateOutput(u.key, u.value);
    if (failure === undefined) return u;
    if (encodedEntrySize(u.key, null, u.revision, max) > max) {
      this.#invalid(u.key, { rule: failure.rule, reason: `${failure.reason}; the key alone is over ${max} bytes encoded, not published` });
      return undefined;
    }
    this.#invalid(u.key, failure);
    return { key: u.key, value: null, revision: u.revision, updateType: 'deleted' };
  }

  #invalid(key: string, failure: RuleFailure): void {
    const kind = outputKind(key);
    this.#o.metrics.updatesInvalid.inc({ syncer: this.#o.syncerType, kind });
    this.#log.warn({ key: clip(key), kind, rule: failure.rule, reason: clip(failure.reason) }, 'invalid value: published as a deletion of its key');
  }
}
