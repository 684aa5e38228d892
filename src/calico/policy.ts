/**
 * Calico v3 GlobalNetworkPolicy and NetworkPolicy → the v1 `model.Policy` Felix reads
 * (libcalico-go `networkpolicyprocessor.go`, `globalnetworkpolicyprocessor.go`). The policy
 * selector gains the namespace clause (namespaced) or the prefixed namespace and service-account
 * selectors (global); rules are converted by `rules.ts`.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, optBool, optNumber, optString, stringList, validatedKV, type JsonObject } from './fields.ts';
import { policyKey } from './keys.ts';
import { rulesToV1, type PolicyScope } from './rules.ts';
import { attachPrefix, validateSelector } from './selectors.ts';
import { objectName, objectNamespace } from './meta.ts';

/** `policyTypesAPIV2ToBackend`: each type lower-cased, in order; none → omitted. */
function typesToV1(value: unknown): string[] | undefined {
  const types = stringList(value, 'spec.types').map((t) => t.toLowerCase());
  return types.length > 0 ? types : undefined;
}

/** Writes a v1 Policy in Go's field order; `order` is a pointer in Go, so 0 is kept. */
function policyValue(fields: {
  namespace?: string; order?: number; inbound?: JsonObject[]; outbound?: JsonObject[]; selector: string;
  untracked?: boolean; preDNAT?: boolean; applyOnForward?: boolean; types?: string[];
}): JsonObject {
  const out: JsonObject = {};
  if (fields.namespace) out.namespace = fields.namespace;
  if (fields.order !== undefined) out.order = fields.order;
  if (fields.inbound) out.inbound_rules = fields.inbound;
  if (fields.outbound) out.outbound_rules = fields.outbound;
  out.selector = fields.selector;
  if (fields.untracked) out.untracked = true;
  if (fields.preDNAT) out.pre_dnat = true;
  if (fields.applyOnForward) out.apply_on_forward = true;
  if (fields.types) out.types = fields.types;
  return out;
}

function specOf(object: RawObject): JsonObject {
  if (object.spec === undefined || object.spec === null) return {};
  if (!isObject(object.spec)) throw new ValidationError('spec must be an object');
  return object.spec;
}

/** The v1 value of a namespaced (Calico or converted Kubernetes) NetworkPolicy. */
export function networkPolicyValue(namespace: string, spec: JsonObject): JsonObject {
  const scope: PolicyScope = { kind: 'namespaced', namespace };
  const specSelector = optString(spec.selector, 'spec.selector') ?? '';
  validateSelector(specSelector, 'spec.selector');
  const saSelector = optString(spec.serviceAccountSelector, 'spec.serviceAccountSelector') ?? '';
  const nsClause = `projectcalico.org/namespace == '${namespace}'`;
  let selector = specSelector === '' ? nsClause : `(${specSelector}) && ${nsClause}`;
  if (saSelector !== '') selector = `(${selector}) && ${attachPrefix(saSelector, 'pcsa.')}`;
  return policyValue({
    namespace,
    order: optNumber(spec.order, 'spec.order'),
    inbound: rulesToV1(spec.ingress, scope, 'spec.ingress'),
    outbound: rulesToV1(spec.egress, scope, 'spec.egress'),
    selector,
    applyOnForward: true,
    types: typesToV1(spec.types),
  });
}

function globalNetworkPolicyValue(spec: JsonObject): JsonObject {
  const scope: PolicyScope = { kind: 'global' };
  let selector = optString(spec.selector, 'spec.selector') ?? '';
  validateSelector(selector, 'spec.selector');
  const append = (extra: string, prefix: string): string => {
    const prefixed = attachPrefix(extra, prefix);
    return selector === '' ? prefixed : `(${selector}) && ${prefixed}`;
  };
  const nsSelector = optString(spec.namespaceSelector, 'spec.namespaceSelector') ?? '';
  if (nsSelector !== '') {
    selector = append(nsSelector, 'pcns.').replaceAll('all()', 'has(projectcalico.org/namespace)');
  }
  const saSelector = optString(spec.serviceAccountSelector, 'spec.serviceAccountSelector') ?? '';
  if (saSelector !== '') {
    selector = append(saSelector, 'pcsa.').replaceAll('all()', 'has(projectcalico.org/serviceaccount)');
  }
  return policyValue({
    order: optNumber(spec.order, 'spec.order'),
    inbound: rulesToV1(spec.ingress, scope, 'spec.ingress'),
    outbound: rulesToV1(spec.egress, scope, 'spec.egress'),
    selector,
    untracked: optBool(spec.doNotTrack, 'spec.doNotTrack') ?? false,
    preDNAT: optBool(spec.preDNAT, 'spec.preDNAT') ?? false,
    applyOnForward: optBool(spec.applyOnForward, 'spec.applyOnForward') ?? false,
    types: typesToV1(spec.types),
  });
}

export function convertGlobalNetworkPolicy(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  return validatedKV(policyKey(name), () => globalNetworkPolicyValue(specOf(object)));
}

export function convertNetworkPolicy(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const namespace = objectNamespace(object);
  return validatedKV(policyKey(`${namespace}/${name}`), () => networkPolicyValue(namespace, specOf(object)));
}
