/**
 * The model a syncer type must serve, computed directly from the datastore's objects by the
 * conversion functions, independently of the syncer's incremental bookkeeping: convert every
 * object of every kind; when several objects produce one key the lowest `namespace/name` wins
 * (then the kind id); a winning claim with an error means the key is absent, and so does a
 * winning value that Typha's output filter withholds (the validator rules or the default
 * bound on one encoded entry). Values are passed through the wire codec once so they compare
 * with what a client decoded.
 *
 * Shared by the torture, soak, hostility and fuzz tests and the end-to-end tests (through
 * `expectedModel(api, syncerType)` in e2eCluster.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { RawObject } from '../../src/datastore/types.ts';
import type { KindInfo } from '../../src/datastore/kinds.ts';
import { validateOutput } from '../../src/calico/index.ts';
import { OPTIONS } from '../../src/config/options.ts';
import { Codec, encodedEntrySize } from '../../src/protocol/index.ts';
import type { ConvertedKV, SyncerTypeSpec } from '../../src/syncer/types.ts';

interface Claim {
  readonly owner: readonly [string, string];
  readonly value: unknown;
  readonly revision: string;
}

export function expectedModel(spec: SyncerTypeSpec, objectsOf: (kind: KindInfo) => readonly RawObject[]): Map<string, unknown> {
  const codec = new Codec();
  const best = new Map<string, Claim>();
  const offer = (kv: ConvertedKV, owner: readonly [string, string], revision: string): void => {
    const current = best.get(kv.key);
    if (current !== undefined && !lower(owner, current.owner)) return;
    best.set(kv.key, { owner, value: kv.error !== undefined ? null : kv.value, revision });
  };
  // The static keys' owner sorts as the string "static" among `namespace/name` owners.
  for (const kv of spec.staticKVs ?? []) offer(kv, ['static', ''], '');
  for (const kind of spec.kinds) {
    for (const obj of objectsOf(kind)) {
      let kvs: readonly ConvertedKV[];
      try {
        kvs = spec.convert(kind, obj);
      } catch {
        continue;
      }
      const owner = [`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, kind.id] as const;
      for (const kv of kvs) offer(kv, owner, obj.metadata.resourceVersion ?? '');
    }
  }
  const out = new Map<string, unknown>();
  for (const [key, claim] of best) {
    if (claim.value === null || claim.value === undefined) continue;
    if (withheld(key, claim)) continue;
    out.set(key, codec.decodeAny(codec.encodeValue(claim.value)));
  }
  return out;
}

const MAX_VALUE_BYTES = OPTIONS.maxValueBytes.default;

/** What the server's output filter does to the winning value: withheld means published as a deletion. */
function withheld(key: string, claim: Claim): boolean {
  if (encodedEntrySize(key, claim.value, claim.revision, MAX_VALUE_BYTES) > MAX_VALUE_BYTES) return true;
  return validateOutput(key, claim.value as Parameters<typeof validateOutput>[1]) !== undefined;
}

function lower(a: readonly [string, string], b: readonly [string, string]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** Human-readable differences (at most `limit`), empty when equal. */
export function diffModels(actual: ReadonlyMap<string, unknown>, expected: ReadonlyMap<string, unknown>, limit = 8): string[] {
  const out: string[] = [];
  for (const [key, value] of expected) {
    if (!actual.has(key)) out.push(`missing ${key}`);
    else if (!isDeepStrictEqual(actual.get(key), value)) out.push(`wrong value ${key}: got ${short(actual.get(key))}, want ${short(value)}`);
    if (out.length >= limit) return out;
  }
  for (const key of actual.keys()) {
    if (!expected.has(key)) out.push(`extra ${key}`);
    if (out.length >= limit) return out;
  }
  return out;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
