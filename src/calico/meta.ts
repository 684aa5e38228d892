/**
 * Object identity and Kubernetes ObjectMeta as Go serialises it. Whole-object values (v3
 * ResourceKeys, EndpointSlices) carry metadata in `metav1.ObjectMeta` field order with Go's
 * omitempty rules, and never `resourceVersion`: Typha blanks it so identical content compares
 * equal, and the revision travels beside the value.
 */
import type { RawObject } from '../datastore/types.ts';
import { ValidationError, isObject, jsonCopy, stringMap, type JsonObject } from './fields.ts';

/** The object's name; an object without one cannot name any key. */
export function objectName(object: RawObject): string {
  const name = isObject(object.metadata) ? object.metadata.name : undefined;
  if (typeof name !== 'string' || name === '') throw new Error('object has no metadata.name');
  return name;
}

export function objectNamespace(object: RawObject): string {
  const ns = isObject(object.metadata) ? object.metadata.namespace : undefined;
  if (typeof ns !== 'string' || ns === '') throw new Error(`object ${String(object.metadata?.name)} has no metadata.namespace`);
  return ns;
}

export function labelsOf(object: RawObject): Record<string, string> {
  return stringMap(isObject(object.metadata) ? object.metadata.labels : undefined);
}

export function annotationsOf(object: RawObject): Record<string, string> {
  return stringMap(isObject(object.metadata) ? object.metadata.annotations : undefined);
}

const STRING_FIELDS_BEFORE_RV = ['name', 'generateName', 'namespace', 'selfLink', 'uid'] as const;

/**
 * `metav1.ObjectMeta` in Go field order. `creationTimestamp` is a struct in Go, so omitempty
 * never drops it: a zero time is written as `null`. Maps are key-sorted as Go writes them.
 */
export function goObjectMeta(meta: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const field of STRING_FIELDS_BEFORE_RV) {
    const v = meta[field];
    if (typeof v === 'string' && v !== '') out[field] = v;
  }
  if (typeof meta.generation === 'number' && meta.generation !== 0) out.generation = meta.generation;
  out.creationTimestamp = typeof meta.creationTimestamp === 'string' && meta.creationTimestamp !== '' ? meta.creationTimestamp : null;
  if (typeof meta.deletionTimestamp === 'string' && meta.deletionTimestamp !== '') out.deletionTimestamp = meta.deletionTimestamp;
  if (typeof meta.deletionGracePeriodSeconds === 'number') out.deletionGracePeriodSeconds = meta.deletionGracePeriodSeconds;
  const labels = stringMap(meta.labels);
  if (Object.keys(labels).length > 0) out.labels = labels;
  const annotations = stringMap(meta.annotations);
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  for (const field of ['ownerReferences', 'finalizers'] as const) {
    const v = meta[field];
    if (Array.isArray(v) && v.length > 0) out[field] = jsonCopy(v);
  }
  if (typeof meta.clusterName === 'string' && meta.clusterName !== '') out.clusterName = meta.clusterName;
  if (Array.isArray(meta.managedFields) && meta.managedFields.length > 0) out.managedFields = jsonCopy(meta.managedFields);
  return out;
}

/**
 * Metadata of a CRD-backed Calico object as libcalico-go restores it: the
 * `projectcalico.org/metadata` annotation, when present, supplies the Calico metadata
 * (creationTimestamp, generation...), while name, namespace, labels, annotations and uid stay
 * those of the Kubernetes object, and the bookkeeping annotation itself is removed. An
 * annotation that is not a JSON object is a {@link ValidationError}, as it fails Go's decode.
 */
export function calicoObjectMeta(object: RawObject): JsonObject {
  const k8s: JsonObject = isObject(object.metadata) ? object.metadata : {};
  const annotations = stringMap(k8s.annotations);
  const stored = annotations['projectcalico.org/metadata'];
  delete annotations['projectcalico.org/metadata'];
  let base: JsonObject = k8s;
  if (stored !== undefined) {
    // `ConvertK8sResourceToCalicoResource` unmarshals it into an ObjectMeta: `null` leaves that
    // empty, anything but an object fails the conversion.
    let parsed: unknown;
    try {
      parsed = JSON.parse(stored);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && !isObject(parsed)) throw new ValidationError('annotation projectcalico.org/metadata is not a JSON object');
    base = parsed ?? {};
  }
  return goObjectMeta({
    ...base,
    name: k8s.name, namespace: k8s.namespace, uid: k8s.uid, labels: k8s.labels, annotations,
  });
}

/** The start of every v3 ResourceKey value: `kind`, `apiVersion`, `metadata`. */
export function v3Header(kind: string, metadata: JsonObject): JsonObject {
  return { kind, apiVersion: 'projectcalico.org/v3', metadata };
}
