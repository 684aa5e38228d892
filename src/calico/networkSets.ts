/**
 * NetworkSet (namespaced) and GlobalNetworkSet → v1 `model.NetworkSet` at
 * `/calico/v1/netset/<name>`. A namespaced set inherits its namespace's labels through the
 * `kns.<ns>` profile and gains the namespace label, so selectors treat it like a pod.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, sortKeys, stringList, validatedKV, type JsonObject } from './fields.ts';
import { networkSetKey } from './keys.ts';
import { labelsOf, objectName, objectNamespace } from './meta.ts';
import { canonicalCIDROrIP } from './net.ts';

function specNets(object: RawObject): string[] {
  const spec = isObject(object.spec) ? object.spec : {};
  return stringList(spec.nets, 'spec.nets');
}

/**
 * `convertNetworkSetV2ToV1Value` logs an entry `cnet.ParseCIDROrIP` rejects and then appends the
 * nil result, dereferencing it: Go panics. Cattail rejects the set (null + error) instead.
 */
function namespacedNets(object: RawObject): string[] {
  return specNets(object).map((n, i) => {
    const canonical = canonicalCIDROrIP(n);
    if (canonical === undefined) throw new ValidationError(`spec.nets[${i}] ${JSON.stringify(n)} is not a valid CIDR`);
    return canonical;
  });
}

/** `convertGlobalNetworkSetV3ToV1` logs and skips an entry that does not parse, keeping the rest. */
function globalNets(object: RawObject): string[] {
  return specNets(object).flatMap((n) => canonicalCIDROrIP(n) ?? []);
}

function networkSetValue(nets: string[], labels: Record<string, string>, profiles: string[]): JsonObject {
  const out: JsonObject = {};
  if (nets.length > 0) out.nets = nets;
  if (Object.keys(labels).length > 0) out.labels = labels;
  if (profiles.length > 0) out.profile_ids = profiles;
  return out;
}

export function convertNetworkSet(object: RawObject): ConvertedKV[] {
  const namespace = objectNamespace(object);
  const key = networkSetKey(`${namespace}/${objectName(object)}`);
  return validatedKV(key, () => networkSetValue(
    namespacedNets(object),
    sortKeys({ ...labelsOf(object), 'projectcalico.org/namespace': namespace }),
    [`kns.${namespace}`],
  ));
}

export function convertGlobalNetworkSet(object: RawObject): ConvertedKV[] {
  const key = networkSetKey(objectName(object));
  return validatedKV(key, () => networkSetValue(globalNets(object), labelsOf(object), []));
}
