/**
 * The half of Typha's output filter that runs libcalico-go's v3 validator
 * (`lib/validator/v3/validator.go`, release-v3.20 @ e9d17133) on every ResourceKey value, with
 * the `validate:"..."` tags of the api repo's types (release-v3.20) and of libcalico-go's
 * `lib/apis/v3` Node. Every v3 value embeds `metav1.ObjectMeta`, so `validateObjectMeta` runs
 * on all of them, EndpointSlices included. Rules a conversion already enforces before the value
 * exists (Node addresses in `node.ts`, BGPPeer selectors and peerIP in `bgp.ts`) are not
 * repeated here. Each function returns the first failure.
 */
import { isObject, type JsonObject } from './fields.ts';
import { DNS1123_SUBDOMAIN_MAX_BYTES, qualifiedNameProblem, v3LabelsProblem } from './k8sNames.ts';
import { formatIP, maskNet, parseCIDROrIP } from './net.ts';
import { validateSelector } from './selectors.ts';
import { numorstringPortProblem, protocolProblem, protocolSupportsPorts, type RuleFailure, type ValueCheck } from './v1Validation.ts';

const fail = (rule: string, reason: string): RuleFailure => ({ rule, reason });

/** v3 `nameRegex`: a DNS-1123 subdomain without the length limit (ObjectMeta adds that). */
const V3_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** `totalAnnotationSizeLimitB`: keys plus values, in bytes. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;
const ACTION_RE = /^(Allow|Deny|Log|Pass)$/;
const PROTOCOL_RE = /^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$/;
const LOG_LEVEL_RE = /^(Debug|Info|Warning|Error|Fatal)$/;
const SOURCE_ADDRESS_RE = /^(UseNodeIP|None)$/;
const STANDARD_COMMUNITY_RE = /^(\d+):(\d+)$/;
const LARGE_COMMUNITY_RE = /^(\d+):(\d+):(\d+)$/;

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** `validateObjectMeta`: name, then `validateObjectMetaAnnotations`, then `validateObjectMetaLabels`. */
function objectMetaFailure(value: JsonObject): RuleFailure | undefined {
  const meta = isObject(value.metadata) ? value.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (bytes(name) > DNS1123_SUBDOMAIN_MAX_BYTES) {
    return fail('validateObjectMeta', `metadata.name is too long by ${bytes(name) - DNS1123_SUBDOMAIN_MAX_BYTES} bytes`);
  }
  if (!V3_NAME_RE.test(name)) return fail('validateObjectMeta', `metadata.name ${JSON.stringify(name)} must be lower-case alphanumerics, "-" or "."`);
  if (isObject(meta.annotations)) {
    let total = 0;
    for (const [k, v] of Object.entries(meta.annotations)) {
      // Go lower-cases annotation keys before the check (so upper-case letters are allowed).
      const p = qualifiedNameProblem(k.toLowerCase());
      if (p !== undefined) return fail('validateObjectMetaAnnotations', `annotation key ${JSON.stringify(k)}: ${p}`);
      total += bytes(k) + (typeof v === 'string' ? bytes(v) : 0);
    }
    if (total > ANNOTATIONS_MAX_BYTES) {
      return fail('validateObjectMetaAnnotations', `total size of annotations is too large by ${total - ANNOTATIONS_MAX_BYTES} bytes`);
    }
  }
  if (isObject(meta.labels)) {
    const p = v3LabelsProblem(meta.labels);
    if (p !== undefined) return fail('validateObjectMetaLabels', p);
  }
  return undefined;
}

/** The v3 `net` tag: a strictly masked CIDR, or a bare address. */
function netProblem(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const net = parseCIDROrIP(value);
  return net === undefined || formatIP(maskNet(net).ip) !== formatIP(net.ip);
}

/** One v3 `Rule`: `action`, protocol, ICMP, entity selectors and ports, then `validateRule`'s port rule. */
function v3RuleFailure(rule: unknown, where: string): RuleFailure | undefined {
  if (!isObject(rule)) return fail('api.Rule', `${where} is not an object`);
  if (!(typeof rule.action === 'string' && ACTION_RE.test(rule.action))) return fail('validateAction', `${where}.action ${JSON.stringify(rule.action)} must be Allow, Deny, Log or Pass`);
  if (rule.ipVersion !== undefined && rule.ipVersion !== 4 && rule.ipVersion !== 6) return fail('validateIPVersion', `${where}.ipVersion must be 4 or 6`);
  for (const field of ['protocol', 'notProtocol'] as const) {
    if (rule[field] === undefined) continue;
    const p = protocolProblem(rule[field], PROTOCOL_RE);
    if (p !== undefined) return fail('validateProtocol', `${where}.${field}: ${p}`);
  }
  for (const field of ['icmp', 'notICMP'] as const) {
    const icmp = rule[field];
    if (!isObject(icmp)) continue;
    if (icmp.type !== undefined && !(Number.isInteger(icmp.type) && (icmp.type as number) >= 0 && (icmp.type as number) <= 254)) return fail('gte=0,lte=254', `${where}.${field}.type must be 0-254`);
    if (icmp.code !== undefined && !(Number.isInteger(icmp.code) && (icmp.code as number) >= 0 && (icmp.code as number) <= 255)) return fail('gte=0,lte=255', `${where}.${field}.code must be 0-255`);
    if (icmp.code !== undefined && icmp.type === undefined) return fail('validateICMPFields', `${where}.${field}: ICMP code specified without an ICMP type`);
  }
  for (const side of ['source', 'destination'] as const) {
    const entity = isObject(rule[side]) ? rule[side] : {};
    for (const field of ['selector', 'notSelector', 'namespaceSelector'] as const) {
      const s = entity[field];
      if (s === undefined || s === '') continue;
      try {
        validateSelector(String(s), `${where}.${side}.${field}`);
      } catch (err) {
        return fail('validateSelector', (err as Error).message);
      }
    }
    for (const field of ['ports', 'notPorts'] as const) {
      const ports = entity[field];
      if (!Array.isArray(ports) || ports.length === 0) continue;
      for (const [i, port] of ports.entries()) {
        const p = numorstringPortProblem(port);
        if (p !== undefined) return fail('validatePort', `${where}.${side}.${field}[${i}]: ${p}`);
      }
      if (!protocolSupportsPorts(rule.protocol)) return fail('validateRule', `${where}.${side}.${field}: rules that specify ports must set protocol to TCP or UDP or SCTP`);
    }
  }
  return undefined;
}

/** `Profile`: ObjectMeta, `dive` on ingress/egress rules, `labels` on labelsToApply. */
export const validateV3Profile: ValueCheck = (v) => {
  const meta = objectMetaFailure(v);
  if (meta !== undefined) return meta;
  const spec = isObject(v.spec) ? v.spec : {};
  for (const field of ['ingress', 'egress'] as const) {
    const rules = spec[field];
    if (!Array.isArray(rules)) continue;
    for (const [i, r] of rules.entries()) {
      const f = v3RuleFailure(r, `spec.${field}[${i}]`);
      if (f !== undefined) return f;
    }
  }
  if (isObject(spec.labelsToApply)) {
    const p = v3LabelsProblem(spec.labelsToApply);
    if (p !== undefined) return fail('validateLabels', `spec.labelsToApply: ${p}`);
  }
  return undefined;
};

/** libcalico-go v3 `Node`: ObjectMeta and `validateNodeSpec` (a present `spec.bgp` must not be empty). */
export const validateV3Node: ValueCheck = (v) => {
  const meta = objectMetaFailure(v);
  if (meta !== undefined) return meta;
  const spec = isObject(v.spec) ? v.spec : {};
  if (isObject(spec.bgp) && Object.keys(spec.bgp).length === 0) return fail('validateNodeSpec', 'Spec.BGP should not be empty');
  return undefined;
};

/** `BGPPeer`: ObjectMeta, `name` on node, `sourceAddress`, then `validateBGPPeerSpec`. */
export const validateV3BGPPeer: ValueCheck = (v) => {
  const meta = objectMetaFailure(v);
  if (meta !== undefined) return meta;
  const spec = isObject(v.spec) ? v.spec : {};
  const set = (field: string): boolean => spec[field] !== undefined && spec[field] !== '' && spec[field] !== 0;
  if (set('node') && !(typeof spec.node === 'string' && V3_NAME_RE.test(spec.node))) return fail('validateName', `spec.node ${JSON.stringify(spec.node)} is not a valid name`);
  if (set('sourceAddress') && !(typeof spec.sourceAddress === 'string' && SOURCE_ADDRESS_RE.test(spec.sourceAddress))) {
    return fail('sourceAddress', `spec.sourceAddress ${JSON.stringify(spec.sourceAddress)} must be UseNodeIP or None`);
  }
  if (set('node') && set('nodeSelector')) return fail('validateBGPPeerSpec', 'Node field must be empty when NodeSelector is specified');
  if (set('peerIP') && set('peerSelector')) return fail('validateBGPPeerSpec', 'PeerIP field must be empty when PeerSelector is specified');
  if (set('asNumber') && set('peerSelector')) return fail('validateBGPPeerSpec', 'ASNumber field must be empty when PeerSelector is specified');
  return undefined;
};

/** `isValidCommunity` with `validateCommunityValue`: `aa:nn` of 16-bit or `aa:nn:mm` of 32-bit numbers. */
function communityProblem(value: string): 'format' | 'range' | undefined {
  const large = LARGE_COMMUNITY_RE.test(value);
  if (!large && !STANDARD_COMMUNITY_RE.test(value)) return 'format';
  const max = large ? 0xffffffff : 0xffff;
  return (value.match(/\d+/g) ?? []).every((n) => Number(n) <= max) ? undefined : 'range';
}

/** `BGPConfiguration`: ObjectMeta, the spec tags, then `validateBGPConfigurationSpec`. */
export const validateV3BGPConfiguration: ValueCheck = (v) => {
  const meta = objectMetaFailure(v);
  if (meta !== undefined) return meta;
  const spec = isObject(v.spec) ? v.spec : {};
  if (spec.logSeverityScreen !== undefined && spec.logSeverityScreen !== '' && !(typeof spec.logSeverityScreen === 'string' && LOG_LEVEL_RE.test(spec.logSeverityScreen))) {
    return fail('validateLogLevel', `spec.logSeverityScreen ${JSON.stringify(spec.logSeverityScreen)} must be Debug, Info, Warning, Error or Fatal`);
  }
  for (const field of ['serviceLoadBalancerIPs', 'serviceExternalIPs', 'serviceClusterIPs'] as const) {
    for (const [i, block] of (Array.isArray(spec[field]) ? spec[field] : []).entries()) {
      const cidr = isObject(block) ? block.cidr : undefined;
      if (cidr !== undefined && cidr !== '' && netProblem(cidr)) return fail('validateIPNetwork', `spec.${field}[${i}].cidr ${JSON.stringify(cidr)} is not a strictly masked CIDR`);
    }
  }
  const communities = (Array.isArray(spec.communities) ? spec.communities : []).filter(isObject);
  for (const [i, c] of communities.entries()) {
    if (!(typeof c.name === 'string' && c.name !== '' && V3_NAME_RE.test(c.name))) return fail('validateName', `spec.communities[${i}].name ${JSON.stringify(c.name)} is not a valid name`);
    if (typeof c.value !== 'string' || c.value === '') return fail('required', `spec.communities[${i}].value is required`);
    const p = communityProblem(c.value);
    if (p !== undefined) return fail('validateBGPConfigurationSpec', `spec.communities[${i}].value ${JSON.stringify(c.value)}: invalid community value or format`);
  }
  const adverts = (Array.isArray(spec.prefixAdvertisements) ? spec.prefixAdvertisements : []).filter(isObject);
  if (adverts.length === 0 && communities.length > 0) return fail('validateBGPConfigurationSpec', 'communities are defined but not used in Spec.PrefixAdvertisement[]');
  for (const [i, pa] of adverts.entries()) {
    if (typeof pa.cidr !== 'string' || pa.cidr === '' || netProblem(pa.cidr)) return fail('validateIPNetwork', `spec.prefixAdvertisements[${i}].cidr ${JSON.stringify(pa.cidr)} is not a strictly masked CIDR`);
    // `required` (not nil) is judged by the conversion: an absent list here was `[]` (omitempty).
    for (const c of Array.isArray(pa.communities) ? pa.communities : []) {
      const text = typeof c === 'string' ? c : '';
      const p = communityProblem(text);
      // A value in the right format but out of range fails outright; a name must be defined.
      if (p === 'range') return fail('validateBGPConfigurationSpec', `spec.prefixAdvertisements[${i}]: invalid community value ${JSON.stringify(text)}`);
      if (p === 'format' && !communities.some((d) => d.name === text)) {
        return fail('validateBGPConfigurationSpec', `spec.prefixAdvertisements[${i}]: community ${JSON.stringify(text)} is invalid or not defined`);
      }
    }
  }
  return undefined;
};

/** Kinds whose spec carries no tag the v3.20 validator checks: ObjectMeta only. */
export const validateV3ObjectMetaOnly: ValueCheck = (v) => objectMetaFailure(v);
