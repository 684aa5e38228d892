/**
 * Calico IPAM CRDs, which the KDD client returns as v1 keys directly: IPAMBlock → BlockKey
 * (`model.AllocationBlock`) for felix, BlockAffinity → BlockAffinityKey for bgp (all hosts,
 * since Typha serves every node). Keys come from `spec.cidr` (and `spec.node`), not the
 * object name, so an object without them cannot name a key.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, stringMap, validatedKV, type JsonObject } from './fields.ts';
import { blockAffinityKey, blockKey, cidrForKey } from './keys.ts';
import { objectName } from './meta.ts';
import { formatNet } from './net.ts';

/** Go's `strconv.ParseBool`: these spellings only; anything else is an error. */
const PARSE_BOOL: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((s) => [s, true] as const),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((s) => [s, false] as const),
]);

/**
 * The IPAM CRD fields are read as Go's JSON decoder reads them into libcalico-go's v3 structs:
 * `null` or absent is the zero value, a wrong type fails the whole object (a conversion error
 * in Go, our `null` + error). Nothing else is checked: `toV1` copies what decoded.
 */
function decodedList(value: unknown, what: string): readonly unknown[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be a list`);
  return value;
}

function decodedInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ValidationError(`${what} must be an integer`);
  return value;
}

function decodedString(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string`);
  return value;
}

/** `[]*int`: a `null` element stays `null`. */
function allocations(value: unknown): (number | null)[] | null {
  const items = decodedList(value, 'spec.allocations');
  return items && items.map((a, i) => (a === null ? null : decodedInt(a, `spec.allocations[${i}]`)));
}

/** `[]int`: a `null` element decodes to 0. */
function unallocated(value: unknown): number[] | null {
  const items = decodedList(value, 'spec.unallocated');
  return items && items.map((a, i) => (a === null ? 0 : decodedInt(a, `spec.unallocated[${i}]`)));
}

/** `map[string]string`: a `null` member decodes to `""`; written with sorted keys. */
function secondary(value: unknown, what: string): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new ValidationError(`${what} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = decodedString(v, `${what}.${k}`) ?? '';
  return stringMap(out);
}

/** `ipamBlockClient.toV1` builds this list from `[]`, so an absent one is written `[]`, never `null`. */
function attributes(value: unknown): JsonObject[] {
  return (decodedList(value, 'spec.attributes') ?? []).map((a, i) => {
    const what = `spec.attributes[${i}]`;
    if (a !== null && !isObject(a)) throw new ValidationError(`${what} must be an object`);
    const attr = a ?? {};
    return { handle_id: decodedString(attr.handle_id, `${what}.handle_id`), secondary: secondary(attr.secondary, `${what}.secondary`) };
  });
}

export function convertIPAMBlock(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const net = cidrForKey(spec.cidr, `IPAMBlock ${name} spec.cidr`);
  const key = blockKey(net);
  return validatedKV(key, () => {
    const deleted = spec.deleted ?? false;
    if (typeof deleted !== 'boolean') throw new ValidationError('spec.deleted must be a boolean');
    return {
      cidr: formatNet(net),
      affinity: decodedString(spec.affinity, 'spec.affinity'),
      allocations: allocations(spec.allocations),
      unallocated: unallocated(spec.unallocated),
      attributes: attributes(spec.attributes),
      deleted,
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
  const state = spec.state ?? '';
  if (typeof state !== 'string') return [{ key, value: null, error: 'spec.state must be a string' }];
  // `deleted` is a string in the CRD: empty is false, else `strconv.ParseBool`, whose error
  // fails the conversion in Go.
  const deletedText = spec.deleted ?? '';
  const deleted = deletedText === '' ? false : typeof deletedText === 'string' ? PARSE_BOOL.get(deletedText) : undefined;
  if (deleted === undefined) return [{ key, value: null, error: `spec.deleted ${JSON.stringify(deletedText)} is not a boolean string` }];
  return [{ key, value: { state, deleted } }];
}
