/**
 * Update processors for the resources Calico's etcd mode stores as v3 resources, where KDD mode
 * derives them from Kubernetes objects: WorkloadEndpoint (`workloadendpointprocessor.go`),
 * Profile (`profileprocessor.go`) and the Calico Node (`felixnodeprocessor.go`, shared with the
 * Kubernetes path through `node.ts`). Every other kind arrives in the same v3 shape in both modes
 * and goes through the same conversion.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, errorMessage, isObject, jsonCopy, list, str, stringMap, validatedKV, type JsonObject } from './fields.ts';
import { profileLabelsKey, profileRulesKey, resourceKey, workloadEndpointKey } from './keys.ts';
import { goObjectMeta, labelsOf, objectName, v3Header } from './meta.ts';
import { formatIP, formatNet, maskNet, parseCIDROrIP, parseIP, type IPNet } from './net.ts';
import { felixNodeKVs, nodeResourceKV } from './node.ts';
import { DEFAULT_ALLOW_PROFILE } from './profiles.ts';
import { rulesToV1 } from './rules.ts';

const NAMESPACE_LABEL_PREFIX = 'pcns.';
const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';

/**
 * `names.ExtractDashSeparatedParms`: the name split at single dashes, `--` standing for a dash
 * inside a part (the first character is never a separator); undefined unless exactly `count`.
 */
export function dashSeparatedParts(name: string, count: number): string[] | undefined {
  if (name.length < 2 * count - 1) return undefined;
  const parts: string[] = [];
  let last = -1;
  for (let i = 1; i < name.length; i++) {
    if (name[i] !== '-') continue;
    if (i < name.length - 1 && name[i + 1] === '-') {
      i++;
      continue;
    }
    parts.push(name.slice(last + 1, i).replaceAll('--', '-'));
    last = i;
  }
  parts.push(name.slice(last + 1).replaceAll('--', '-'));
  return parts.length === count ? parts : undefined;
}

/** Go's `net.ParseMAC` then `HardwareAddr.String()`: 6, 8 or 20 octets, printed `aa:bb:...`. */
function goMAC(text: string): string | undefined {
  let hex: string[] | undefined;
  if (/^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2})*$/.test(text)) hex = text.split(/[:-]/);
  else if (/^[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4})*$/.test(text)) hex = text.split('.').flatMap((g) => [g.slice(0, 2), g.slice(2)]);
  if (hex === undefined || ![6, 8, 20].includes(hex.length)) return undefined;
  return hex.map((h) => h.toLowerCase()).join(':');
}

function specOf(object: RawObject): JsonObject {
  if (object.spec === undefined || object.spec === null) return {};
  if (!isObject(object.spec)) throw new ValidationError('spec must be an object');
  return object.spec;
}

function singleIP(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const net = typeof value === 'string' ? parseCIDROrIP(value) : undefined;
  if (!net) throw new ValidationError(`${what} ${JSON.stringify(value)} is not an IP address`);
  return formatIP(net.ip);
}

/** The v1 WorkloadEndpoint, in `model.WorkloadEndpoint` field order with its omitempty rules. */
function workloadEndpointValue(object: RawObject, spec: JsonObject): JsonObject | undefined {
  const networks = list(spec.ipNetworks) ?? [];
  // A WEP without networks is filtered out: Felix cannot render its rules yet.
  if (networks.length === 0) return undefined;
  const nets: IPNet[] = networks.map((n, i) => {
    const net = typeof n === 'string' ? parseCIDROrIP(n) : undefined;
    if (!net) throw new ValidationError(`spec.ipNetworks[${i}] ${JSON.stringify(n)} is not a CIDR or IP`);
    return maskNet(net);
  });
  const nat4: JsonObject[] = [];
  const nat6: JsonObject[] = [];
  for (const nat of list(spec.ipNATs) ?? []) {
    if (!isObject(nat)) continue;
    // `ConvertV2ToV1IPNAT`: a pair whose addresses do not both parse is left out.
    const int = typeof nat.internalIP === 'string' ? parseIP(nat.internalIP) : undefined;
    const ext = typeof nat.externalIP === 'string' ? parseIP(nat.externalIP) : undefined;
    if (!int || !ext) continue;
    (int.version === 4 ? nat4 : nat6).push({ int_ip: formatIP(int), ext_ip: formatIP(ext) });
  }
  const gw4 = singleIP(spec.ipv4Gateway, 'spec.ipv4Gateway');
  const gw6 = singleIP(spec.ipv6Gateway, 'spec.ipv6Gateway');
  let mac: string | null = null;
  if (typeof spec.mac === 'string' && spec.mac !== '') {
    mac = goMAC(spec.mac) ?? null;
    if (mac === null) throw new ValidationError(`spec.mac ${JSON.stringify(spec.mac)} is not a MAC address`);
  }
  const ports: JsonObject[] = [];
  for (const [i, p] of (list(spec.ports) ?? []).entries()) {
    if (!isObject(p)) throw new ValidationError(`spec.ports[${i}] must be an object`);
    const protocol = typeof p.protocol === 'string' ? p.protocol.toLowerCase() : p.protocol;
    ports.push({ name: str(p.name) ?? '', protocol: protocol ?? '', port: typeof p.port === 'number' ? p.port : 0 });
  }
  // A workload cannot claim the labels its namespace and service-account profiles provide.
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsOf(object))) {
    if (!k.startsWith(NAMESPACE_LABEL_PREFIX) && !k.startsWith(SERVICE_ACCOUNT_LABEL_PREFIX)) labels[k] = v;
  }
  const serviceAccount = str(spec.serviceAccountName) ?? '';
  if (serviceAccount !== '') labels[LABEL_SERVICE_ACCOUNT] = serviceAccount;
  const profiles = list(spec.profiles);
  const v4 = nets.filter((n) => n.ip.version === 4).map(formatNet);
  const v6 = nets.filter((n) => n.ip.version === 6).map(formatNet);
  const value: JsonObject = {
    state: 'active',
    name: str(spec.interfaceName) ?? '',
    active_instance_id: '',
    mac,
    profile_ids: profiles ? profiles.map((p) => String(p)) : null,
    ipv4_nets: v4.length > 0 ? v4 : null,
    ipv6_nets: v6.length > 0 ? v6 : null,
  };
  if (nat4.length > 0) value.ipv4_nat = nat4;
  if (nat6.length > 0) value.ipv6_nat = nat6;
  if (Object.keys(labels).length > 0) value.labels = stringMap(labels);
  if (gw4 !== undefined) value.ipv4_gateway = gw4;
  if (gw6 !== undefined) value.ipv6_gateway = gw6;
  if (ports.length > 0) value.ports = ports;
  const generateName = object.metadata.generateName;
  if (typeof generateName === 'string' && generateName !== '') value.generate_name = generateName;
  return value;
}

/** A v3 WorkloadEndpoint → its v1 key `/calico/v1/host/<node>/workload/<orch>/<ns>%2f<workload>/endpoint/<ep>`. */
export function convertV3WorkloadEndpoint(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const namespace = typeof object.metadata.namespace === 'string' ? object.metadata.namespace : '';
  const parts = dashSeparatedParts(name, 4);
  if (parts === undefined || namespace === '') {
    throw new Error(`WorkloadEndpoint ${name} does not name <node>-<orchestrator>-<workload>-<endpoint> in a namespace`);
  }
  const [node, orchestrator, workload, endpoint] = parts as [string, string, string, string];
  const key = workloadEndpointKey(node, orchestrator, `${namespace}/${workload}`, endpoint);
  try {
    const value = workloadEndpointValue(object, specOf(object));
    return value === undefined ? [] : [{ key, value }];
  } catch (err) {
    if (err instanceof ValidationError) return [{ key, value: null, error: errorMessage(err) }];
    throw err;
  }
}

/** Rules re-encoded as Go writes `apiv3.Rule`: the entity rules are structs, so always present. */
function v3Rules(value: unknown, what: string): JsonObject[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be a list`);
  return value.map((r, i) => {
    if (!isObject(r)) throw new ValidationError(`${what}[${i}] must be an object`);
    const rule = jsonCopy(r);
    rule.source = isObject(rule.source) ? rule.source : {};
    rule.destination = isObject(rule.destination) ? rule.destination : {};
    return rule;
  });
}

/**
 * A v3 Profile → the v1 rules key, the v1 labels key (only with labels to apply) and the whole
 * v3 Profile. The stored `projectcalico-default-allow` is ignored: libcalico-go's etcd client
 * always lists its own static one instead (the spec's static keys).
 */
export function convertV3Profile(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  if (name === DEFAULT_ALLOW_PROFILE) return [];
  let spec: JsonObject;
  try {
    spec = specOf(object);
  } catch (err) {
    const error = errorMessage(err);
    return [profileRulesKey(name), resourceKey('profiles', name)].map((key) => ({ key, value: null, error }));
  }
  const kvs: ConvertedKV[] = [];
  const labels = stringMap(spec.labelsToApply);
  if (Object.keys(labels).length > 0) kvs.push({ key: profileLabelsKey(name), value: labels });
  kvs.push(...validatedKV(profileRulesKey(name), () => {
    const rules: JsonObject = {};
    const inbound = rulesToV1(spec.ingress, { kind: 'global' }, 'spec.ingress');
    const outbound = rulesToV1(spec.egress, { kind: 'global' }, 'spec.egress');
    if (inbound !== undefined && inbound.length > 0) rules.inbound_rules = inbound;
    if (outbound !== undefined && outbound.length > 0) rules.outbound_rules = outbound;
    return rules;
  }));
  kvs.push(...validatedKV(resourceKey('profiles', name), () => {
    const v3spec: JsonObject = {};
    const ingress = v3Rules(spec.ingress, 'spec.ingress');
    const egress = v3Rules(spec.egress, 'spec.egress');
    if (ingress !== undefined && ingress.length > 0) v3spec.ingress = ingress;
    if (egress !== undefined && egress.length > 0) v3spec.egress = egress;
    if (Object.keys(labels).length > 0) v3spec.labelsToApply = labels;
    return { ...v3Header('Profile', goObjectMeta(object.metadata)), spec: v3spec };
  }));
  return kvs;
}

/** A stored v3 Node as Go re-encodes it: metadata without the revision, spec and status always present. */
function storedNode(object: RawObject): JsonObject {
  const spec = isObject(object.spec) ? jsonCopy(object.spec) : {};
  const status = isObject(object.status) ? jsonCopy(object.status) : {};
  return { ...v3Header('Node', goObjectMeta(object.metadata)), spec, status };
}

/** A stored v3 Node → the felix keys (host IP, tunnel config, wireguard, the v3 Node). */
export function convertCalicoNodeForFelix(object: RawObject): ConvertedKV[] {
  return felixNodeKVs(objectName(object), storedNode(object));
}

/** The bgp and tunnel-ip-allocation syncers carry the v3 Node only. */
export function convertCalicoNodeResource(object: RawObject): ConvertedKV[] {
  return [nodeResourceKV(objectName(object), storedNode(object))];
}
