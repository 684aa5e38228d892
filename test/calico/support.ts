import assert from 'node:assert/strict';
import { KINDS, type KindInfo } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { syncerSpecs } from '../../src/calico/index.ts';
import type { ConvertedKV, SyncerType } from '../../src/syncer/types.ts';

export { KINDS };

/** Converts one object with the named syncer type's conversion. */
export function convert(kind: KindInfo, object: unknown, syncer: SyncerType = 'felix'): readonly ConvertedKV[] {
  return syncerSpecs()[syncer].convert(kind, object as RawObject);
}

/**
 * Asserts keys and values exactly, including field order: values are encoded in insertion
 * order, so two values that differ only in order would differ on the wire.
 */
export function assertKVs(actual: readonly ConvertedKV[], expected: readonly ConvertedKV[]): void {
  assert.deepEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

/** The single KV a conversion must produce, asserting there is exactly one. */
export function only(kvs: readonly ConvertedKV[]): ConvertedKV {
  assert.equal(kvs.length, 1, `expected one KV, got ${JSON.stringify(kvs)}`);
  return kvs[0] as ConvertedKV;
}

export function valueOf(kvs: readonly ConvertedKV[], key: string): unknown {
  const kv = kvs.find((k) => k.key === key);
  assert.ok(kv, `no KV for ${key} in ${JSON.stringify(kvs.map((k) => k.key))}`);
  return kv.value;
}

export function assertError(kvs: readonly ConvertedKV[], key: string, pattern: RegExp): void {
  const kv = only(kvs);
  assert.equal(kv.key, key);
  assert.equal(kv.value, null);
  assert.match(kv.error ?? '', pattern);
}
