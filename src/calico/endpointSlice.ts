/**
 * EndpointSlices pass through the felix syncer whole, as `kubernetesendpointslices` ResourceKeys
 * (new in v3.20, for service-based egress rules). Calico v3.20 read discovery.k8s.io/v1beta1;
 * Kubernetes 1.25+ serves only v1, so Cattail reads v1 and writes the value the API server
 * would have served as v1beta1 (kubernetes `pkg/apis/discovery/v1beta1/conversion.go`,
 * `Convert_discovery_Endpoint_To_v1beta1_Endpoint`): when any of `deprecatedTopology`, `zone`
 * or `nodeName` is set, `topology` is a copy of `deprecatedTopology`, then
 * `topology.kubernetes.io/zone` ← `zone`, then `kubernetes.io/hostname` ← `nodeName` unless
 * already set to a non-empty value. Every other field maps one to one. An endpoint written in
 * the v1beta1 shape (a `topology` map; the file datastore accepts v1beta1 documents) is first
 * stored as the API server stores it (`Convert_v1beta1_Endpoint_To_discovery_Endpoint`), so it
 * reads back exactly as a v1beta1 client of that API server would see it.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { isObject, list, str, stringMap, type JsonObject } from './fields.ts';
import { resourceKey } from './keys.ts';
import { goObjectMeta, objectName, objectNamespace } from './meta.ts';

function conditions(value: unknown): JsonObject {
  const out: JsonObject = {};
  if (!isObject(value)) return out;
  for (const f of ['ready', 'serving', 'terminating']) if (typeof value[f] === 'boolean') out[f] = value[f];
  return out;
}

/** core/v1 ObjectReference in Go field order. */
function objectReference(ref: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const f of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) {
    if (typeof ref[f] === 'string' && ref[f] !== '') out[f] = ref[f];
  }
  return out;
}

const ZONE_LABEL = 'topology.kubernetes.io/zone';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/**
 * A v1beta1 endpoint's topology as the API server stores it in v1: copied to
 * `deprecatedTopology`, the zone moved to `zone`, the hostname moved to `nodeName` when that is
 * unset (or dropped when equal to it), and an emptied map left nil.
 */
function storedAsV1(e: JsonObject): JsonObject {
  const topology = stringMap(e.topology);
  const out: JsonObject = { ...e };
  delete out.topology;
  delete out.zone;
  const deprecated: Record<string, string> = { ...topology };
  if (ZONE_LABEL in topology) {
    out.zone = topology[ZONE_LABEL];
    delete deprecated[ZONE_LABEL];
  }
  const host = topology[HOSTNAME_LABEL];
  if (host !== undefined) {
    if (typeof e.nodeName !== 'string') {
      out.nodeName = host;
      delete deprecated[HOSTNAME_LABEL];
    } else if (host === e.nodeName) {
      delete deprecated[HOSTNAME_LABEL];
    }
  }
  if (Object.keys(deprecated).length > 0) out.deprecatedTopology = deprecated;
  else delete out.deprecatedTopology;
  return out;
}

/** The v1beta1 `topology` of one v1 endpoint; `undefined` when the conversion leaves it nil. */
function topology(e: JsonObject): Record<string, string> | undefined {
  const deprecated = isObject(e.deprecatedTopology) ? e.deprecatedTopology : undefined;
  const zone = str(e.zone);
  const nodeName = str(e.nodeName);
  if (deprecated === undefined && zone === undefined && nodeName === undefined) return undefined;
  const out = stringMap(deprecated);
  if (zone !== undefined) out[ZONE_LABEL] = zone;
  if (nodeName !== undefined && (out[HOSTNAME_LABEL] ?? '') === '') out[HOSTNAME_LABEL] = nodeName;
  return stringMap(out);
}

/** `discovery.EndpointHints`: `forZones` (omitempty) of `{name}`. */
function hints(value: JsonObject): JsonObject {
  const zones = list(value.forZones);
  if (!zones || zones.length === 0) return {};
  return { forZones: zones.map((z) => ({ name: isObject(z) ? str(z.name) ?? '' : '' })) };
}

/** One v1beta1 Endpoint in Go field order; `addresses` has no omitempty, `conditions` is a struct. */
function endpoint(value: unknown): JsonObject {
  const given = isObject(value) ? value : {};
  const e = isObject(given.topology) ? storedAsV1(given) : given;
  const addresses = list(e.addresses);
  const out: JsonObject = {
    addresses: addresses ? addresses.filter((a) => typeof a === 'string') : null,
    conditions: conditions(e.conditions),
  };
  if (typeof e.hostname === 'string') out.hostname = e.hostname;
  if (isObject(e.targetRef)) out.targetRef = objectReference(e.targetRef);
  const t = topology(e);
  // A map with omitempty: an empty one is left out.
  if (t && Object.keys(t).length > 0) out.topology = t;
  if (typeof e.nodeName === 'string') out.nodeName = e.nodeName;
  if (isObject(e.hints)) out.hints = hints(e.hints);
  return out;
}

function port(value: unknown): JsonObject {
  const p = isObject(value) ? value : {};
  const out: JsonObject = {};
  if (typeof p.name === 'string') out.name = p.name;
  if (typeof p.protocol === 'string') out.protocol = p.protocol;
  if (typeof p.port === 'number') out.port = p.port;
  if (typeof p.appProtocol === 'string') out.appProtocol = p.appProtocol;
  return out;
}

/**
 * The slice as Go serialises a listed v1beta1 EndpointSlice: list items carry no TypeMeta, and
 * `endpoints`/`ports` have no omitempty, so absent lists are `null`.
 */
export function convertEndpointSlice(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const namespace = objectNamespace(object);
  const endpoints = list(object.endpoints);
  const ports = list(object.ports);
  const value: JsonObject = {
    metadata: goObjectMeta(object.metadata),
    addressType: typeof object.addressType === 'string' ? object.addressType : '',
    endpoints: endpoints ? endpoints.map(endpoint) : null,
    ports: ports ? ports.map(port) : null,
  };
  return [{ key: resourceKey('kubernetesendpointslices', name, namespace), value }];
}
