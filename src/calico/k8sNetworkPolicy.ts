/**
 * Kubernetes networking.k8s.io/v1 NetworkPolicy → Calico v3 NetworkPolicy `knp.default.<name>`
 * (libcalico-go `conversion.K8sNetworkPolicyToCalico`), then → the v1 Policy through the
 * ordinary namespaced-policy conversion, exactly as Calico routes it. Each Kubernetes rule
 * becomes one Calico rule per (protocol × peer), protocols sorted, ports compacted.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, list, str, validatedKV, type JsonObject } from './fields.ts';
import { policyKey } from './keys.ts';
import { objectName, objectNamespace } from './meta.ts';
import { canonicalCIDR } from './net.ts';
import { networkPolicyValue } from './policy.ts';
import { normalizePort } from './rules.ts';
import { k8sSelectorToCalico } from './selectors.ts';

const K8S_POLICY_PREFIX = 'knp.default.';
/** Kubernetes policies sit after Calico policies of default order: Calico gives them 1000. */
const K8S_POLICY_ORDER = 1000;

type Port = number | string;

/**
 * Calico's `SimplifyPorts` (`lib/backend/k8s/conversion/conversion.go`). A list of at most one
 * port, or with at most one numeric port once ranges are expanded, is returned unchanged, in
 * input order. Otherwise the named ports come first, in input order, then the numeric ports,
 * expanded, sorted and merged into ranges of consecutive numbers (duplicates absorbed).
 */
export function simplifyPorts(ports: readonly Port[]): Port[] {
  if (ports.length <= 1) return [...ports];
  const out: Port[] = [];
  // Go expands every range into its numbers, sorts and re-merges them; merging the ranges
  // themselves gives the same output without the expansion (one NetworkPolicy of 300
  // `port: 1, endPort: 65535` entries took 5.8 s and 800 MB that way: a few KB of YAML
  // could stall or kill the server).
  const ranges: [number, number][] = [];
  let count = 0;
  for (const p of ports) {
    if (typeof p === 'number') ranges.push([p, p]);
    else if (/^\d+:\d+$/.test(p)) ranges.push(p.split(':').map(Number) as [number, number]);
    else {
      out.push(p);
      continue;
    }
    const [lo, hi] = ranges[ranges.length - 1] as [number, number];
    count += Math.max(0, hi - lo + 1);
  }
  if (count <= 1) return [...ports];
  ranges.sort((a, b) => a[0] - b[0]);
  let current: [number, number] | undefined;
  const flush = () => {
    if (current) out.push(current[0] === current[1] ? current[0] : `${current[0]}:${current[1]}`);
  };
  for (const [lo, hi] of ranges) {
    if (hi < lo) continue; // expands to no number in Go
    if (current && lo <= current[1] + 1) current[1] = Math.max(current[1], hi);
    else {
      flush();
      current = [lo, hi];
    }
  }
  flush();
  return out;
}

interface Peer {
  selector: string;
  namespaceSelector: string;
  nets: string[];
  notNets: string[];
}

function peerFields(peer: unknown): Peer {
  if (peer === undefined) return { selector: '', namespaceSelector: '', nets: [], notNets: [] };
  if (!isObject(peer)) throw new ValidationError('peer must be an object');
  if (isObject(peer.ipBlock)) {
    const cidr = canonicalCIDR(str(peer.ipBlock.cidr) ?? '');
    if (!cidr) throw new ValidationError(`ipBlock cidr ${JSON.stringify(peer.ipBlock.cidr)} is invalid`);
    const notNets = (list(peer.ipBlock.except) ?? []).map((e) => {
      const net = canonicalCIDR(typeof e === 'string' ? e : '');
      if (!net) throw new ValidationError(`ipBlock except ${JSON.stringify(e)} is invalid`);
      return net;
    });
    return { selector: '', namespaceSelector: '', nets: [cidr], notNets };
  }
  return {
    selector: k8sSelectorToCalico(peer.podSelector, 'pod'),
    namespaceSelector: k8sSelectorToCalico(peer.namespaceSelector, 'namespace'),
    nets: [],
    notNets: [],
  };
}

const PROTOCOL_NAMES = ['UDP', 'TCP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];

/** `numorstring.ProtocolFromString`: a known name in its canonical case, anything else as given. */
function protocolFromString(value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError('port protocol must be a string');
  return PROTOCOL_NAMES.find((n) => n.toLowerCase() === value.toLowerCase()) ?? value;
}

/**
 * Groups ports by protocol, as `k8sRuleToCalico` does; `null` for a protocol means all of its
 * ports. An absent protocol is TCP (NetworkPolicyPort's default); an empty one stays empty.
 */
function portsByProtocol(ports: readonly unknown[]): Map<string, Port[] | null> {
  const groups = new Map<string, Port[] | null>();
  if (ports.length === 0) return new Map([['', null]]);
  for (const raw of ports) {
    if (!isObject(raw)) throw new ValidationError('port must be an object');
    const protocol = raw.protocol === undefined || raw.protocol === null ? 'TCP' : protocolFromString(raw.protocol);
    if (raw.port === undefined || raw.port === null) {
      groups.set(protocol, null);
      continue;
    }
    let port = normalizePort(raw.port, 'port');
    if (typeof raw.endPort === 'number') {
      if (typeof port !== 'number') throw new ValidationError('endPort needs a numeric port');
      port = normalizePort(`${port}:${raw.endPort}`, 'port range');
    }
    const existing = groups.get(protocol);
    if (existing === null) continue; // "all ports" already wins for this protocol
    groups.set(protocol, [...(existing ?? []), port]);
  }
  return groups;
}

function entity(peer: Peer, ports: Port[] | null): JsonObject {
  const out: JsonObject = {};
  if (peer.nets.length > 0) out.nets = peer.nets;
  if (peer.selector) out.selector = peer.selector;
  if (peer.namespaceSelector) out.namespaceSelector = peer.namespaceSelector;
  if (ports && ports.length > 0) out.ports = ports;
  if (peer.notNets.length > 0) out.notNets = peer.notNets;
  return out;
}

function k8sRuleToCalico(peers: readonly unknown[], ports: readonly unknown[], direction: 'ingress' | 'egress'): JsonObject[] {
  const peerList = peers.length === 0 ? [undefined] : peers;
  const groups = portsByProtocol(ports);
  const rules: JsonObject[] = [];
  for (const protocol of [...groups.keys()].sort()) {
    const group = groups.get(protocol);
    const simplified = group ? simplifyPorts(group) : null;
    for (const rawPeer of peerList) {
      const peer = peerFields(rawPeer);
      const rule: JsonObject = { action: 'Allow' };
      if (protocol !== '') rule.protocol = protocol;
      if (direction === 'ingress') {
        rule.source = entity(peer, null);
        rule.destination = entity({ selector: '', namespaceSelector: '', nets: [], notNets: [] }, simplified);
      } else {
        rule.destination = entity(peer, simplified);
      }
      rules.push(rule);
    }
  }
  return rules;
}

function convertRules(value: unknown, peerField: 'from' | 'to', direction: 'ingress' | 'egress'): JsonObject[] {
  const rules: JsonObject[] = [];
  for (const k8sRule of list(value) ?? []) {
    if (!isObject(k8sRule)) continue;
    try {
      rules.push(...k8sRuleToCalico(list(k8sRule[peerField]) ?? [], list(k8sRule.ports) ?? [], direction));
    } catch (err) {
      // Calico drops a Kubernetes rule it cannot convert and keeps the rest of the policy.
      if (!(err instanceof ValidationError)) throw err;
    }
  }
  return rules;
}

/** The Calico v3 NetworkPolicy spec a Kubernetes NetworkPolicy converts to. */
function k8sNetworkPolicyToCalicoSpec(object: RawObject): JsonObject {
  const spec = isObject(object.spec) ? object.spec : {};
  const policyTypes = list(spec.policyTypes) ?? [];
  let ingress = policyTypes.includes('Ingress');
  const egress = policyTypes.includes('Egress');
  if (!ingress && !egress) ingress = true;
  const types = [...(ingress ? ['Ingress'] : []), ...(egress ? ['Egress'] : [])];
  const out: JsonObject = {
    order: K8S_POLICY_ORDER,
    selector: k8sSelectorToCalico(spec.podSelector, 'pod'),
    types,
  };
  const ingressRules = convertRules(spec.ingress, 'from', 'ingress');
  const egressRules = convertRules(spec.egress, 'to', 'egress');
  if (ingressRules.length > 0) out.ingress = ingressRules;
  if (egressRules.length > 0) out.egress = egressRules;
  return out;
}

export function convertK8sNetworkPolicy(object: RawObject): ConvertedKV[] {
  const namespace = objectNamespace(object);
  const key = policyKey(`${namespace}/${K8S_POLICY_PREFIX}${objectName(object)}`);
  return validatedKV(key, () => networkPolicyValue(namespace, k8sNetworkPolicyToCalicoSpec(object)));
}
