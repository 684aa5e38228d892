/**
 * Kubernetes core/v1 Node → Calico v3 Node (libcalico-go `resources/node.go` `K8sNodeToCalico`)
 * → the felix keys (`felixnodeprocessor.go`): host IP, tunnel-address config keys, wireguard,
 * and the whole v3 Node as a ResourceKey. The bgp and tunnel-ip-allocation syncers get only
 * the v3 Node. Calico IPAM is assumed (Typha's default), so no BlockKeys come from podCIDRs.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, list, str, stringMap, type JsonObject } from './fields.ts';
import { hostConfigKey, hostIPKey, resourceKey, wireguardKey } from './keys.ts';
import { goObjectMeta, objectName, v3Header } from './meta.ts';
import { addressOfCIDROrIP, formatIP, parseIP } from './net.ts';

const A = 'projectcalico.org/';
const HEX2 = '[0-9A-Fa-f]{2}';
/**
 * What Go's `net.ParseMAC` accepts (the v3 validator's `mac` rule): 6, 8 or 20 octets, as pairs
 * of hex digits all joined by `:` or all by `-`, or as groups of four joined by `.`.
 */
const GO_MAC_FORMS: readonly RegExp[] = [6, 8, 20].flatMap((n) => [
  new RegExp(`^${HEX2}(?::${HEX2}){${n - 1}}$`),
  new RegExp(`^${HEX2}(?:-${HEX2}){${n - 1}}$`),
  new RegExp(`^${HEX2}${HEX2}(?:\\.${HEX2}${HEX2}){${n / 2 - 1}}$`),
]);
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/** Go's JSON encoder escapes these for HTML safety; `kube-labels` must match it byte for byte. */
function goJSONString(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
}

/** `numorstring.ASNumberFromString`: plain, or dotted `a.b` meaning a·65536+b. */
export function parseASNumber(text: string): number | undefined {
  const plain = /^\d+$/.exec(text);
  if (plain) {
    const n = Number(text);
    return n <= 0xffffffff ? n : undefined;
  }
  const dotted = /^(\d+)\.(\d+)$/.exec(text);
  if (!dotted) return undefined;
  const hi = Number(dotted[1]);
  const lo = Number(dotted[2]);
  return hi <= 0xffff && lo <= 0xffff ? hi * 65536 + lo : undefined;
}

/**
 * The `projectcalico.org/labels` / `annotations` annotations, unmarshalled as Go does into a
 * `map[string]string` (`SetCalicoMetadataFromK8sAnnotations`): anything but an object of
 * strings fails the whole unmarshal and the annotation is ignored; a `null` member is `""`.
 */
function parseJSONMap(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObject(parsed)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v !== null && typeof v !== 'string') return {};
    out[k] = v ?? '';
  }
  return stringMap(out);
}

/** The v3 Node JSON Calico builds from a Kubernetes Node (in Go struct order). */
function k8sNodeToCalico(node: RawObject): JsonObject {
  const name = objectName(node);
  const k8sLabels = stringMap(node.metadata.labels);
  const annotations = stringMap(node.metadata.annotations);
  const labels = { ...parseJSONMap(annotations[`${A}labels`]), ...k8sLabels };
  const calicoAnnotations = parseJSONMap(annotations[`${A}annotations`]);
  calicoAnnotations[`${A}kube-labels`] = Object.keys(k8sLabels).length > 0 ? goJSONString(k8sLabels) : 'null';

  const bgp: JsonObject = {};
  const asText = annotations[`${A}ASNumber`];
  const asNumber = asText !== undefined ? parseASNumber(asText) : undefined;
  if (asNumber !== undefined) bgp.asNumber = asNumber;
  const setIf = (target: JsonObject, field: string, annotation: string): void => {
    const v = annotations[A + annotation];
    if (v) target[field] = v;
  };
  setIf(bgp, 'ipv4Address', 'IPv4Address');
  setIf(bgp, 'ipv6Address', 'IPv6Address');
  setIf(bgp, 'ipv4IPIPTunnelAddr', 'IPv4IPIPTunnelAddr');
  setIf(bgp, 'routeReflectorClusterID', 'RouteReflectorClusterID');

  const spec: JsonObject = {};
  if (Object.keys(bgp).length > 0) spec.bgp = bgp;
  setIf(spec, 'ipv4VXLANTunnelAddr', 'IPv4VXLANTunnelAddr');
  setIf(spec, 'vxlanTunnelMACAddr', 'VXLANTunnelMACAddr');
  spec.orchRefs = [{ nodeName: name, orchestrator: 'k8s' }];
  const wireguard: JsonObject = {};
  setIf(wireguard, 'interfaceIPv4Address', 'IPv4WireguardInterfaceAddr');
  if (Object.keys(wireguard).length > 0) spec.wireguard = wireguard;
  const addresses: JsonObject[] = [];
  for (const field of ['ipv4Address', 'ipv6Address']) {
    if (typeof bgp[field] === 'string') addresses.push({ address: bgp[field], type: 'CalicoNodeIP' });
  }
  const k8sStatus = isObject(node.status) ? node.status : {};
  for (const addr of list(k8sStatus.addresses) ?? []) {
    if (!isObject(addr)) continue;
    if (addr.type === 'InternalIP' || addr.type === 'ExternalIP') addresses.push({ address: str(addr.address) ?? '', type: addr.type });
  }
  if (addresses.length > 0) spec.addresses = addresses;

  const status: JsonObject = {};
  setIf(status, 'wireguardPublicKey', 'WireguardPublicKey');
  const k8sSpec = isObject(node.spec) ? node.spec : {};
  const podCIDRs = (list(k8sSpec.podCIDRs) ?? []).filter((c): c is string => typeof c === 'string');
  if (podCIDRs.length > 0) status.podCIDRs = podCIDRs;

  const meta = goObjectMeta({
    name, uid: node.metadata.uid, creationTimestamp: node.metadata.creationTimestamp, labels, annotations: calicoAnnotations,
  });
  return { ...v3Header('Node', meta), spec, status };
}

/**
 * The field rules Typha's v3 validator applies to a Node (libcalico-go `lib/apis/v3/node.go`
 * tags, `lib/validator/v3`): `cidrv4`/`cidrv6` take a CIDR or a bare IP and look at the
 * address's version (`validateCIDRv4`), `ipv4` is go-playground's (`net.ParseIP` + `To4`),
 * `mac` is `net.ParseMAC`, the public key must decode to 32 bytes. `spec.addresses` entries are
 * not validated (the slice has no `dive`).
 */
function validateNode(v3: JsonObject): void {
  const spec = isObject(v3.spec) ? v3.spec : {};
  const bgp = isObject(spec.bgp) ? spec.bgp : {};
  const check = (value: unknown, ok: (s: string) => boolean, what: string): void => {
    if (typeof value === 'string' && !ok(value)) throw new ValidationError(`${what} ${JSON.stringify(value)} is invalid`);
  };
  const ipv4 = (s: string): boolean => parseIP(s)?.version === 4;
  check(bgp.ipv4Address, (s) => addressOfCIDROrIP(s)?.version === 4, 'spec.bgp.ipv4Address');
  check(bgp.ipv6Address, (s) => addressOfCIDROrIP(s)?.version === 6, 'spec.bgp.ipv6Address');
  check(bgp.ipv4IPIPTunnelAddr, ipv4, 'spec.bgp.ipv4IPIPTunnelAddr');
  check(bgp.routeReflectorClusterID, ipv4, 'spec.bgp.routeReflectorClusterID');
  check(spec.ipv4VXLANTunnelAddr, ipv4, 'spec.ipv4VXLANTunnelAddr');
  check(spec.vxlanTunnelMACAddr, (s) => GO_MAC_FORMS.some((form) => form.test(s)), 'spec.vxlanTunnelMACAddr');
  check(isObject(spec.wireguard) ? spec.wireguard.interfaceIPv4Address : undefined, ipv4, 'spec.wireguard.interfaceIPv4Address');
  const status = isObject(v3.status) ? v3.status : {};
  check(status.wireguardPublicKey, (s) => BASE64_KEY.test(s), 'status.wireguardPublicKey');
}

export function nodeResourceKV(name: string, v3: JsonObject): ConvertedKV {
  const key = resourceKey('nodes', name);
  try {
    validateNode(v3);
    return { key, value: v3 };
  } catch (err) {
    if (err instanceof ValidationError) return { key, value: null, error: err.message };
    throw err;
  }
}

/**
 * The address Felix uses for the host (`felixnodeprocessor.go`): the BGP IPv4 address when it
 * parses (Go checks no version there), else the first IPv4 internal, else external, address
 * (`FindNodeAddress`, which does check `To4()`).
 */
function hostIP(v3: JsonObject): string | undefined {
  const spec = isObject(v3.spec) ? v3.spec : {};
  const bgp = isObject(spec.bgp) ? spec.bgp : {};
  const fromBGP = typeof bgp.ipv4Address === 'string' ? addressOfCIDROrIP(bgp.ipv4Address) : undefined;
  if (fromBGP) return formatIP(fromBGP);
  const addresses = (list(spec.addresses) ?? []).filter(isObject);
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of addresses) {
      const ip = a.type === type && typeof a.address === 'string' ? addressOfCIDROrIP(a.address) : undefined;
      if (ip?.version === 4) return formatIP(ip);
    }
  }
  return undefined;
}

/** `cnet.ParseIP(...).String()`: a bare address only (a CIDR does not parse), re-printed. */
function printedIP(value: unknown): string | undefined {
  const ip = typeof value === 'string' ? parseIP(value) : undefined;
  return ip ? formatIP(ip) : undefined;
}

/** Felix's processor copies the MAC annotation as it is, unparsed, when it is not empty. */
function verbatim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** All felix keys for one Kubernetes Node. */
export function convertNodeForFelix(node: RawObject): ConvertedKV[] {
  return felixNodeKVs(objectName(node), k8sNodeToCalico(node));
}

/** The felix keys of one v3 Node (`felixnodeprocessor.go`), however it was obtained. */
export function felixNodeKVs(name: string, v3: JsonObject): ConvertedKV[] {
  const spec = isObject(v3.spec) ? v3.spec : {};
  const bgp = isObject(spec.bgp) ? spec.bgp : {};
  const kvs: ConvertedKV[] = [];
  const ip = hostIP(v3);
  if (ip !== undefined) kvs.push({ key: hostIPKey(name), value: ip });
  // Felix's processor re-prints the addresses it can parse and leaves out those it cannot.
  const configs: [string, string | undefined][] = [
    ['IpInIpTunnelAddr', printedIP(bgp.ipv4IPIPTunnelAddr)],
    ['IPv4VXLANTunnelAddr', printedIP(spec.ipv4VXLANTunnelAddr)],
    ['VXLANTunnelMACAddr', verbatim(spec.vxlanTunnelMACAddr)],
  ];
  for (const [configName, value] of configs) {
    if (value !== undefined) kvs.push({ key: hostConfigKey(name, configName), value });
  }
  kvs.push(nodeResourceKV(name, v3));
  const wgAddr = printedIP(isObject(spec.wireguard) ? spec.wireguard.interfaceIPv4Address : undefined);
  const wgKey = str(isObject(v3.status) ? v3.status.wireguardPublicKey : undefined);
  if (wgAddr || wgKey) {
    const value: JsonObject = {};
    if (wgAddr) value.interfaceIPv4Addr = wgAddr;
    if (wgKey) value.publicKey = wgKey;
    kvs.push({ key: wireguardKey(name), value });
  }
  return kvs;
}

/** The bgp and tunnel-ip-allocation syncers carry the v3 Node only. */
export function convertNodeResource(node: RawObject): ConvertedKV[] {
  return [nodeResourceKV(objectName(node), k8sNodeToCalico(node))];
}
