/**
 * Calico IPAM CRDs, which the KDD client returns as v1 keys directly: IPAMBlock → BlockKey
 * (`model.AllocationBlock`) for felix, BlockAffinity → BlockAffinityKey for bgp (all hosts,
 * since Typha serves every node). Keys come from `spec.cidr` (and `spec.node`), not the
 * object name, so an object without them cannot name a key.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, list, stringMap, validatedKV, type JsonObject } from './fields.ts';
import { blockAffinityKey, blockKey, cidrForKey } from './keys.ts';
import { objectName } from './meta.ts';
import { formatNet } from './net.ts';

/** Go's `strconv.ParseBool`: these spellings only; anything else is an error. */
const PARSE_BOOL: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((s) => [s, true] as const),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((s) => [s, false] as const),
]);

function allocations(value: unknown): (number | null)[] | null {
  const items = list(value);
  if (!items) return null;
  return items.map((a, i) => {
    if (a === null) return null;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 0) throw new ValidationError(`spec.allocations[${i}] must be an attribute index or null`);
    return a;
  });
}

/** `ipamBlockClient.toV1` builds this list from `[]`, so an absent one is written `[]`, never `null`. */
function attributes(value: unknown): JsonObject[] {
  return (list(value) ?? []).map((a) => {
    const attr = isObject(a) ? a : {};
    return {
      handle_id: typeof attr.handle_id === 'string' ? attr.handle_id : null,
      secondary: isObject(attr.secondary) ? stringMap(attr.secondary) : null,
    };
  });
}

export function convertIPAMBlock(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const net = cidrForKey(spec.cidr, `IPAMBlock ${name} spec.cidr`);
  const key = blockKey(net);
  return validatedKV(key, () => {
    const unallocated = list(spec.unallocated) ?? null;
    if (unallocated && !unallocated.every((n) => Number.isInteger(n))) throw new ValidationError('spec.unallocated must hold integers');
    return {
      cidr: formatNet(net),
      affinity: typeof spec.affinity === 'string' ? spec.affinity : null,
      allocations: allocations(spec.allocations),
      unallocated: unallocated ? [...unallocated] : null,
      attributes: attributes(spec.attributes),
      deleted: spec.deleted === true,
    };
  });
}

export function convertBlockAffinity(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const net = cidrForKey(spec.cidr, `BlockAffinity ${name} spec.cidr`);
  if (typeof spec.node !== 'string' || spec.node === '') throw new Error(`BlockAffinity ${name} has no spec.node`);
  const key = blockAffinityKey(spec.node, net);
  // `blockAffinityClient.toV1` copies the state unchecked (no v1 validator rule covers it).
  const state = typeof spec.state === 'string' ? spec.state : '';
  // `deleted` is a string in the CRD: empty is false, else `strconv.ParseBool`, whose error
  // fails the conversion in Go.
  const deletedText = spec.deleted ?? '';
  const deleted = deletedText === '' ? false : typeof deletedText === 'string' ? PARSE_BOOL.get(deletedText) : undefined;
  if (deleted === undefined) return [{ key, value: null, error: `spec.deleted ${JSON.stringify(deletedText)} is not a boolean string` }];
  return [{ key, value: { state, deleted } }];
}
