/**
 * The model a syncer type must serve, computed directly from the datastore's objects by the
 * conversion functions, independently of the syncer's incremental bookkeeping: convert every
 * object of every kind; when several objects produce one key the lowest `namespace/name` wins
 * (then the kind id); a winning claim with an error means the key is absent. Values are passed
 * through the wire codec once so they compare with what a client decoded.
 *
 * Shared by the torture, soak, hostility and fuzz tests and the end-to-end tests (through
 * `expectedModel(api, syncerType)` in e2eCluster.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { RawObject } from '../../src/datastore/types.ts';
import type { KindInfo } from '../../src/datastore/kinds.ts';
import { Codec } from '../../src/protocol/index.ts';
import type { ConvertedKV, SyncerTypeSpec } from '../../src/syncer/types.ts';

interface Claim {
  readonly owner: readonly [string, string];
  readonly value: unknown;
}

export function expectedModel(spec: SyncerTypeSpec, objectsOf: (kind: KindInfo) => readonly RawObject[]): Map<string, unknown> {
  const codec = new Codec();
  const best = new Map<string, Claim>();
  const offer = (kv: ConvertedKV, owner: readonly [string, string]): void => {
    const current = best.get(kv.key);
    if (current !== undefined && !lower(owner, current.owner)) return;
    best.set(kv.key, { owner, value: kv.error !== undefined ? null : kv.value });
  };
  // The static keys' owner sorts as the string "static" among `namespace/name` owners.
  for (const kv of spec.staticKVs ?? []) offer(kv, ['static', '']);
  for (const kind of spec.kinds) {
    for (const obj of objectsOf(kind)) {
      let kvs: readonly ConvertedKV[];
      try {
        kvs = spec.convert(kind, obj);
      } catch {
        continue;
      }
      const owner = [`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, kind.id] as const;
      for (const kv of kvs) offer(kv, owner);
    }
  }
  const out = new Map<string, unknown>();
  for (const [key, claim] of best) {
    if (claim.value === null || claim.value === undefined) continue;
    out.set(key, codec.decodeAny(codec.encodeValue(claim.value)));
  }
  return out;
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
