/**
 * BGPConfiguration and BGPPeer pass through Typha as whole v3 objects (ResourceKeys): confd
 * derives its own BGP model from them. They are rebuilt in Go struct order from the fields
 * v3.20 defines (as Go's decoder would, unknown fields are dropped), with BGPPeer's
 * `maxRestartTime` re-printed as Go prints durations (`120s` → `2m0s`, confd #543).
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, list, optBool, optString, validatedKV, type JsonObject } from './fields.ts';
import { formatGoDuration, parseGoDuration } from './duration.ts';
import { resourceKey } from './keys.ts';
import { calicoObjectMeta, objectName, v3Header } from './meta.ts';
import { parseIP } from './net.ts';
import { validateSelector } from './selectors.ts';
import { parseASNumber } from './node.ts';

function asNumber(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? (Number.isInteger(value) && value >= 0 && value <= 0xffffffff ? value : undefined)
    : typeof value === 'string' ? parseASNumber(value) : undefined;
  if (n === undefined) throw new ValidationError(`${what} ${JSON.stringify(value)} is not a valid AS number`);
  return n;
}

function copyList(value: unknown, fields: readonly string[], what: string): JsonObject[] | undefined {
  const items = list(value);
  if (!items || items.length === 0) return undefined;
  return items.map((item, i) => {
    if (!isObject(item)) throw new ValidationError(`${what}[${i}] must be an object`);
    const out: JsonObject = {};
    // Every field of these items is omitempty in Go: empty strings and empty lists are left out.
    for (const f of fields) {
      const v = item[f];
      if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)) out[f] = v;
    }
    return out;
  });
}

function set(out: JsonObject, field: string, value: unknown): void {
  if (value !== undefined && value !== '') out[field] = value;
}

function bgpConfigurationSpec(spec: JsonObject): JsonObject {
  const out: JsonObject = {};
  set(out, 'logSeverityScreen', optString(spec.logSeverityScreen, 'spec.logSeverityScreen'));
  set(out, 'nodeToNodeMeshEnabled', optBool(spec.nodeToNodeMeshEnabled, 'spec.nodeToNodeMeshEnabled'));
  set(out, 'asNumber', asNumber(spec.asNumber, 'spec.asNumber'));
  set(out, 'serviceLoadBalancerIPs', copyList(spec.serviceLoadBalancerIPs, ['cidr'], 'spec.serviceLoadBalancerIPs'));
  set(out, 'serviceExternalIPs', copyList(spec.serviceExternalIPs, ['cidr'], 'spec.serviceExternalIPs'));
  set(out, 'serviceClusterIPs', copyList(spec.serviceClusterIPs, ['cidr'], 'spec.serviceClusterIPs'));
  set(out, 'communities', copyList(spec.communities, ['name', 'value'], 'spec.communities'));
  // PrefixAdvertisement.Communities is `validate:"required"`, which for a Go slice means "not
  // nil": `communities: []` passes and an absent list fails. Judged here, on the object, because
  // the value omits an empty list (omitempty), where the output filter can no longer tell them apart.
  for (const [i, pa] of (list(spec.prefixAdvertisements) ?? []).entries()) {
    if (isObject(pa) && (pa.communities === undefined || pa.communities === null)) throw new ValidationError(`spec.prefixAdvertisements[${i}].communities is required`);
  }
  set(out, 'prefixAdvertisements', copyList(spec.prefixAdvertisements, ['cidr', 'communities'], 'spec.prefixAdvertisements'));
  if (spec.listenPort !== undefined && spec.listenPort !== null) {
    const port = spec.listenPort;
    // A uint16 in Go: anything else fails the decode; 0 is omitempty's zero and left out.
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError('spec.listenPort must be 0-65535');
    if (port !== 0) out.listenPort = port;
  }
  return out;
}

/** `ip`, `ip:port` or `[v6]:port`. */
function validPeerIP(text: string): boolean {
  if (parseIP(text)) return true;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  return m !== null && parseIP(m[1] as string) !== undefined && Number(m[2]) <= 65535;
}

function bgpPeerSpec(spec: JsonObject): JsonObject {
  const out: JsonObject = {};
  set(out, 'node', optString(spec.node, 'spec.node'));
  const nodeSelector = optString(spec.nodeSelector, 'spec.nodeSelector');
  validateSelector(nodeSelector, 'spec.nodeSelector');
  set(out, 'nodeSelector', nodeSelector);
  const peerIP = optString(spec.peerIP, 'spec.peerIP');
  if (peerIP && !validPeerIP(peerIP)) throw new ValidationError(`spec.peerIP ${JSON.stringify(peerIP)} is not ip, ip:port or [ip]:port`);
  set(out, 'peerIP', peerIP);
  // Not a pointer in BGPPeerSpec, so omitempty drops AS 0 (BGPConfiguration's pointer keeps it).
  const peerAS = asNumber(spec.asNumber, 'spec.asNumber');
  if (peerAS !== 0) set(out, 'asNumber', peerAS);
  const peerSelector = optString(spec.peerSelector, 'spec.peerSelector');
  validateSelector(peerSelector, 'spec.peerSelector');
  set(out, 'peerSelector', peerSelector);
  if (optBool(spec.keepOriginalNextHop, 'spec.keepOriginalNextHop')) out.keepOriginalNextHop = true;
  if (isObject(spec.password) && isObject(spec.password.secretKeyRef)) {
    const ref = spec.password.secretKeyRef;
    const secretKeyRef: JsonObject = {};
    set(secretKeyRef, 'name', optString(ref.name, 'spec.password.secretKeyRef.name'));
    secretKeyRef.key = optString(ref.key, 'spec.password.secretKeyRef.key') ?? '';
    if (typeof ref.optional === 'boolean') secretKeyRef.optional = ref.optional;
    out.password = { secretKeyRef };
  }
  const sourceAddress = optString(spec.sourceAddress, 'spec.sourceAddress');
  if (sourceAddress && sourceAddress !== 'UseNodeIP' && sourceAddress !== 'None') {
    throw new ValidationError('spec.sourceAddress must be UseNodeIP or None');
  }
  set(out, 'sourceAddress', sourceAddress);
  if (spec.maxRestartTime !== undefined && spec.maxRestartTime !== null) {
    const ns = typeof spec.maxRestartTime === 'string' ? parseGoDuration(spec.maxRestartTime) : undefined;
    if (ns === undefined) throw new ValidationError(`spec.maxRestartTime ${JSON.stringify(spec.maxRestartTime)} is not a duration`);
    out.maxRestartTime = formatGoDuration(ns);
  }
  return out;
}

function passThrough(object: RawObject, kind: string, plural: string, buildSpec: (spec: JsonObject) => JsonObject): ConvertedKV[] {
  const key = resourceKey(plural, objectName(object));
  return validatedKV(key, () => {
    const spec = object.spec === undefined || object.spec === null ? {} : object.spec;
    if (!isObject(spec)) throw new ValidationError('spec must be an object');
    return { ...v3Header(kind, calicoObjectMeta(object)), spec: buildSpec(spec) };
  });
}

export function convertBGPConfiguration(object: RawObject): ConvertedKV[] {
  return passThrough(object, 'BGPConfiguration', 'bgpconfigurations', bgpConfigurationSpec);
}

export function convertBGPPeer(object: RawObject): ConvertedKV[] {
  return passThrough(object, 'BGPPeer', 'bgppeers', bgpPeerSpec);
}
