/**
 * Calico v3.20's etcd layout (libcalico-go `lib/backend/model`, default paths), read back into
 * the raw-object shape the conversions take:
 *
 * - v3 resources (`model.ResourceKey`, `resource.go` `defaultPath`): the resource's JSON under
 *   `/calico/resources/v3/projectcalico.org/<plural>/<name>`, namespaced ones under
 *   `.../<plural>/<namespace>/<name>`. The key names the object: its name and namespace come
 *   from the path, as `KeyFromDefaultPath` takes them, whatever the stored metadata says.
 * - IPAM blocks (`model.BlockKey`, `block.go`): the v1 `AllocationBlock` JSON under
 *   `/calico/ipam/v2/assignment/ipv<4|6>/block/<a.b.c.d-nn>`.
 * - Block affinities (`model.BlockAffinityKey`, `block_affinity.go`): `{"state", "deleted"}`
 *   under `/calico/ipam/v2/host/<host>/ipv<4|6>/block/<a.b.c.d-nn>`.
 *
 * The IPAM values are presented in the shape of the IPAMBlock / BlockAffinity CRDs (the v1
 * field names are the CRD spec's; host and CIDR come from the key), so the same conversions
 * serve both datastores. A value that is not valid JSON, or a key of the wrong shape, becomes an
 * object carrying `decodeError`: the conversion table refuses it, so its keys are deleted, the
 * reason is logged and `cattail_datastore_invalid_objects_total` counts it.
 */
import type { KindInfo } from '../kinds.ts';
import type { RawObject } from '../types.ts';

export const V3_RESOURCES_PREFIX = '/calico/resources/v3/projectcalico.org/';
export const IPAM_BLOCKS_PREFIX = '/calico/ipam/v2/assignment/';
export const BLOCK_AFFINITIES_PREFIX = '/calico/ipam/v2/host/';

/** Set on an object whose etcd key or value could not be read; the reason. */
export const DECODE_ERROR = 'decodeError';

export interface KindLayout {
  /** Every key of the kind starts with this (it ends with `/`). */
  readonly prefix: string;
  /** The raw object one etcd key-value holds; `value` undefined for a deletion without a previous value. */
  decode(key: string, value: Buffer | undefined, modRevision: string): RawObject;
}

/** Where a kind lives in etcd; undefined for a kind Calico does not store in etcd. */
export function layoutOf(kind: KindInfo): KindLayout | undefined {
  if (kind.id === 'ipamblocks.crd.projectcalico.org') return { prefix: IPAM_BLOCKS_PREFIX, decode: decodeBlock };
  if (kind.id === 'blockaffinities.crd.projectcalico.org') return { prefix: BLOCK_AFFINITIES_PREFIX, decode: decodeAffinity };
  if (kind.group !== 'crd.projectcalico.org' && kind.group !== 'projectcalico.org') return undefined;
  const prefix = `${V3_RESOURCES_PREFIX}${kind.plural}/`;
  return { prefix, decode: (key, value, rev) => decodeResource(kind, prefix, key, value, rev) };
}

function invalid(name: string, namespace: string | undefined, rev: string, reason: string): RawObject {
  return { metadata: { name, ...(namespace !== undefined ? { namespace } : {}), resourceVersion: rev }, [DECODE_ERROR]: reason };
}

function parseJSONObject(value: Buffer | undefined): Record<string, unknown> | string {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return `value is not JSON (${(err as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'value is not a JSON object';
  return parsed as Record<string, unknown>;
}

function decodeResource(kind: KindInfo, prefix: string, key: string, value: Buffer | undefined, rev: string): RawObject {
  const parts = key.slice(prefix.length).split('/');
  const expected = kind.namespaced ? 2 : 1;
  const name = parts[parts.length - 1] || key;
  const namespace = kind.namespaced ? parts[0] : undefined;
  if (parts.length !== expected || parts.some((p) => p === '')) {
    return invalid(key, undefined, rev, `key ${key} is not ${prefix}${kind.namespaced ? '<namespace>/' : ''}<name>`);
  }
  const parsed = parseJSONObject(value);
  if (typeof parsed === 'string') return invalid(name, namespace, rev, `${key}: ${parsed}`);
  const stored = typeof parsed.metadata === 'object' && parsed.metadata !== null && !Array.isArray(parsed.metadata)
    ? parsed.metadata as Record<string, unknown>
    : {};
  const metadata: RawObject['metadata'] = { ...stored, name, resourceVersion: rev };
  if (namespace !== undefined) metadata.namespace = namespace;
  else delete metadata.namespace;
  return { ...parsed, apiVersion: 'projectcalico.org/v3', kind: kind.kind, metadata };
}

/** `a.b.c.d-nn` (or an IPv6 address with `-nn`) back to `a.b.c.d/nn`. */
function cidrOfSegment(segment: string): string {
  const dash = segment.lastIndexOf('-');
  return dash < 0 ? segment : `${segment.slice(0, dash)}/${segment.slice(dash + 1)}`;
}

const BLOCK_PATH = /^ipv[46]\/block\/([^/]+)$/;
const AFFINITY_PATH = /^([^/]+)\/ipv[46]\/block\/([^/]+)$/;

function decodeBlock(key: string, value: Buffer | undefined, rev: string): RawObject {
  const rest = key.slice(IPAM_BLOCKS_PREFIX.length);
  const m = BLOCK_PATH.exec(rest);
  if (!m) return invalid(rest, undefined, rev, `key ${key} is not an IPAM block key`);
  const name = m[1] as string;
  const parsed = parseJSONObject(value);
  if (typeof parsed === 'string') return invalid(name, undefined, rev, `${key}: ${parsed}`);
  return {
    apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock',
    metadata: { name, resourceVersion: rev },
    spec: { ...parsed, cidr: parsed.cidr ?? cidrOfSegment(name) },
  };
}

function decodeAffinity(key: string, value: Buffer | undefined, rev: string): RawObject {
  const rest = key.slice(BLOCK_AFFINITIES_PREFIX.length);
  const m = AFFINITY_PATH.exec(rest);
  if (!m) return invalid(rest, undefined, rev, `key ${key} is not a block affinity key`);
  const host = m[1] as string;
  const cidr = cidrOfSegment(m[2] as string);
  const parsed = parseJSONObject(value);
  if (typeof parsed === 'string') return invalid(rest, undefined, rev, `${key}: ${parsed}`);
  // The v1 value's `deleted` is a bool; the CRD's (which the conversion reads) a string.
  const deleted = parsed.deleted === true ? 'true' : parsed.deleted === false || parsed.deleted === undefined ? '' : parsed.deleted;
  return {
    apiVersion: 'crd.projectcalico.org/v1', kind: 'BlockAffinity',
    metadata: { name: rest, resourceVersion: rev },
    spec: { state: parsed.state, node: host, cidr, deleted },
  };
}
