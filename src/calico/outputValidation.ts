/**
 * Typha's output validation filter (typha `pkg/calc/validation_filter.go`, release-v3.20) as
 * rules on our published values: which model kind a key is, and the rule set Go's validator
 * applies to that kind's value. Go validates a value only when it is a pointer to a struct, so
 * the raw-text kinds (config values, host IPs, the ready flag) and the profile labels map pass
 * unchecked; ResourceKey values get the v3 validator, everything else the v1 validator.
 */
import type { JsonObject } from './fields.ts';
import { validateV1HostEndpoint, validateV1NetworkSet, validateV1Policy, validateV1ProfileRules, validateV1WorkloadEndpoint, type RuleFailure, type ValueCheck } from './v1Validation.ts';
import { validateV3BGPConfiguration, validateV3BGPPeer, validateV3Node, validateV3ObjectMetaOnly, validateV3Profile } from './v3Validation.ts';

export type { RuleFailure } from './v1Validation.ts';

interface KindRule {
  readonly kind: string;
  readonly matches: (key: string) => boolean;
  readonly check?: ValueCheck;
}

const V3 = '/calico/resources/v3/projectcalico.org/';
const v3 = (plural: string) => (key: string): boolean => key.startsWith(`${V3}${plural}/`);
const hostPart = (part: string) => (key: string): boolean => {
  if (!key.startsWith('/calico/v1/host/')) return false;
  const rest = key.slice('/calico/v1/host/'.length);
  const slash = rest.indexOf('/');
  return slash > 0 && (rest.slice(slash + 1) === part || rest.startsWith(`${part}/`, slash + 1));
};

/** Every model kind our syncers publish, the label values of `cattail_updates_invalid_total`. */
const KIND_RULES: readonly KindRule[] = [
  { kind: 'Node', matches: v3('nodes'), check: validateV3Node },
  { kind: 'Profile', matches: v3('profiles'), check: validateV3Profile },
  { kind: 'BGPPeer', matches: v3('bgppeers'), check: validateV3BGPPeer },
  { kind: 'BGPConfiguration', matches: v3('bgpconfigurations'), check: validateV3BGPConfiguration },
  { kind: 'KubernetesEndpointSlice', matches: v3('kubernetesendpointslices'), check: validateV3ObjectMetaOnly },
  { kind: 'CalicoNodeStatus', matches: v3('caliconodestatuses'), check: validateV3ObjectMetaOnly },
  { kind: 'OtherResource', matches: (k) => k.startsWith(V3), check: validateV3ObjectMetaOnly },
  { kind: 'Policy', matches: (k) => k.startsWith('/calico/v1/policy/tier/'), check: validateV1Policy },
  { kind: 'ProfileRules', matches: (k) => k.startsWith('/calico/v1/policy/profile/') && k.endsWith('/rules'), check: validateV1ProfileRules },
  { kind: 'ProfileLabels', matches: (k) => k.startsWith('/calico/v1/policy/profile/') && k.endsWith('/labels') },
  { kind: 'WorkloadEndpoint', matches: hostPart('workload'), check: validateV1WorkloadEndpoint },
  { kind: 'HostEndpoint', matches: hostPart('endpoint'), check: validateV1HostEndpoint },
  { kind: 'HostConfig', matches: hostPart('config') },
  { kind: 'HostIP', matches: hostPart('bird_ip') },
  { kind: 'Wireguard', matches: hostPart('wireguard') },
  { kind: 'NetworkSet', matches: (k) => k.startsWith('/calico/v1/netset/'), check: validateV1NetworkSet },
  { kind: 'IPPool', matches: (k) => k.startsWith('/calico/v1/ipam/') },
  { kind: 'GlobalConfig', matches: (k) => k.startsWith('/calico/v1/config/') },
  { kind: 'ReadyFlag', matches: (k) => k === '/calico/v1/Ready' },
  { kind: 'AllocationBlock', matches: (k) => k.startsWith('/calico/ipam/v2/assignment/') },
  { kind: 'BlockAffinity', matches: (k) => k.startsWith('/calico/ipam/v2/host/') },
  { kind: 'Other', matches: () => true },
];

/** The bounded set of kind names, in table order. */
export const OUTPUT_KINDS: readonly string[] = KIND_RULES.map((r) => r.kind);

function ruleFor(key: string): KindRule {
  return KIND_RULES.find((r) => r.matches(key)) as KindRule;
}

/** The model kind of a key (one of {@link OUTPUT_KINDS}). */
export function outputKind(key: string): string {
  return ruleFor(key).kind;
}

/**
 * Runs the rules Typha's filter applies to this key's value. Undefined when the value passes
 * (or is of a kind Go never validates); otherwise the first rule that failed.
 */
export function validateOutput(key: string, value: string | JsonObject): RuleFailure | undefined {
  if (typeof value !== 'object') return undefined;
  return ruleFor(key).check?.(value);
}
