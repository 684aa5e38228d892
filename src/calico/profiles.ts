/**
 * Profiles in KDD mode: each Namespace becomes `kns.<ns>` (allow-all rules, namespace labels
 * with `pcns.`), each ServiceAccount becomes `ksa.<ns>.<sa>` (no rules, labels with `pcsa.`),
 * and `projectcalico-default-allow` always exists. Each profile yields the v1 rules key, the
 * v1 labels key (only when it has labels) and the whole v3 Profile as a ResourceKey.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { isObject, sortKeys, str, type JsonObject } from './fields.ts';
import { profileLabelsKey, profileRulesKey, resourceKey } from './keys.ts';
import { goObjectMeta, labelsOf, objectName, v3Header } from './meta.ts';

export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';
const NAMESPACE_PROFILE_PREFIX = 'kns.';
const SERVICE_ACCOUNT_PROFILE_PREFIX = 'ksa.';
const NAMESPACE_LABEL_PREFIX = 'pcns.';
const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';

/** A v3 allow rule as Go writes it: EntityRule is a struct, so empty ends print as `{}`. */
const v3AllowRule = (): JsonObject => ({ action: 'Allow', source: {}, destination: {} });
const v1AllowRule = (): JsonObject => ({ action: 'allow' });

interface ProfileParts {
  readonly name: string;
  readonly meta: JsonObject;
  readonly allowAll: boolean;
  readonly labelsToApply: Record<string, string>;
}

function profileKVs(p: ProfileParts): ConvertedKV[] {
  const spec: JsonObject = {};
  const rules: JsonObject = {};
  if (p.allowAll) {
    spec.ingress = [v3AllowRule()];
    spec.egress = [v3AllowRule()];
    rules.inbound_rules = [v1AllowRule()];
    rules.outbound_rules = [v1AllowRule()];
  }
  const hasLabels = Object.keys(p.labelsToApply).length > 0;
  if (hasLabels) spec.labelsToApply = p.labelsToApply;
  const kvs: ConvertedKV[] = [{ key: profileRulesKey(p.name), value: rules }];
  if (hasLabels) kvs.push({ key: profileLabelsKey(p.name), value: p.labelsToApply });
  kvs.push({ key: resourceKey('profiles', p.name), value: { ...v3Header('Profile', p.meta), spec } });
  return kvs;
}

function prefixedLabels(labels: Record<string, string>, prefix: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[prefix + k] = v;
  // The name label is set last so an object label of the same key cannot override it.
  out[`${prefix}projectcalico.org/name`] = name;
  return sortKeys(out);
}

function identityMeta(name: string, object: RawObject): JsonObject {
  return goObjectMeta({ name, uid: object.metadata.uid, creationTimestamp: object.metadata.creationTimestamp });
}

export function convertNamespace(object: RawObject): ConvertedKV[] {
  const ns = objectName(object);
  const name = NAMESPACE_PROFILE_PREFIX + ns;
  return profileKVs({
    name,
    meta: identityMeta(name, object),
    allowAll: true,
    labelsToApply: prefixedLabels(labelsOf(object), NAMESPACE_LABEL_PREFIX, ns),
  });
}

export function convertServiceAccount(object: RawObject): ConvertedKV[] {
  const sa = objectName(object);
  const ns = (isObject(object.metadata) ? str(object.metadata.namespace) : undefined) || 'default';
  const name = `${SERVICE_ACCOUNT_PROFILE_PREFIX}${ns}.${sa}`;
  return profileKVs({
    name,
    meta: identityMeta(name, object),
    allowAll: false,
    labelsToApply: prefixedLabels(labelsOf(object), SERVICE_ACCOUNT_LABEL_PREFIX, sa),
  });
}

/** The static allow-all profile the KDD profile client always lists. */
export function defaultAllowProfileKVs(): ConvertedKV[] {
  return profileKVs({
    name: DEFAULT_ALLOW_PROFILE,
    meta: goObjectMeta({ name: DEFAULT_ALLOW_PROFILE }),
    allowAll: true,
    labelsToApply: {},
  });
}
