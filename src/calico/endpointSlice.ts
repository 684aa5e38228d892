/**
 * EndpointSlices pass through the felix syncer whole, as `kubernetesendpointslices` ResourceKeys
 * (new in v3.20, for service-based egress rules). Calico v3.20 read discovery.k8s.io/v1beta1;
 * Kubernetes 1.25+ serves only v1, so Cattail reads v1 and writes the value in the v1beta1
 * shape the v3.20 agents decode: `zone` and `deprecatedTopology` fold back into `topology`,
 * as the API server's own v1 → v1beta1 conversion does.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { isObject, jsonCopy, list, stringMap, type JsonObject } from './fields.ts';
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

function endpoint(value: unknown): JsonObject {
  const e = isObject(value) ? value : {};
  const out: JsonObject = {
    addresses: (list(e.addresses) ?? []).filter((a) => typeof a === 'string'),
    conditions: conditions(e.conditions),
  };
  if (typeof e.hostname === 'string') out.hostname = e.hostname;
  if (isObject(e.targetRef)) out.targetRef = objectReference(e.targetRef);
  // v1beta1 kept topology as a map; v1 split the zone out of it.
  const topology = isObject(e.topology) ? stringMap(e.topology) : stringMap(e.deprecatedTopology);
  if (typeof e.zone === 'string') topology['topology.kubernetes.io/zone'] = e.zone;
  const sortedTopology = stringMap(topology);
  if (Object.keys(sortedTopology).length > 0) out.topology = sortedTopology;
  if (typeof e.nodeName === 'string') out.nodeName = e.nodeName;
  if (isObject(e.hints)) out.hints = jsonCopy(e.hints);
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
