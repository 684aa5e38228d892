/**
 * FelixConfiguration and ClusterInformation → one config key per spec field (libcalico-go
 * `configurationprocessor.go`). The resource named `default` is global (`/calico/v1/config/<Name>`),
 * `node.<host>` is per host (`/calico/v1/host/<host>/config/<Name>`); any other name is an
 * error in Calico, so it names no key here. Unset fields produce no key: the syncer turns a field
 * that disappears into a deletion, which is what Calico's nil value for that key means.
 * For FelixConfiguration only, `config.projectcalico.org/<Name>` annotations override fields or
 * add extra keys, unvalidated.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, optInt, optString, type JsonObject } from './fields.ts';
import { parseCIDROrIP } from './net.ts';
import { annotationsOf, objectName } from './meta.ts';
import { durationMillisV, durationSecondsV, parseGoDuration } from './duration.ts';
import { CLUSTER_INFO_FIELDS, FELIX_CONFIG_FIELDS, type ConfigField } from './felixConfigFields.ts';
import { READY_FLAG_KEY, globalConfigKey, hostConfigKey } from './keys.ts';
import { normalizePort } from './rules.ts';

const OVERRIDE_PREFIX = 'config.projectcalico.org/';

/** `undefined` host means global. */
function configHost(name: string, kind: string): string | undefined {
  if (name === 'default') return undefined;
  if (name.startsWith('node.') && name.length > 'node.'.length) return name.slice('node.'.length);
  throw new Error(`${kind} name ${JSON.stringify(name)} must be "default" or "node.<nodename>"`);
}

/**
 * `protoPortSliceToString` (`felixconfigprocessor.go`): `proto:port` or `proto:net:port`, the
 * protocol lower-cased, the net printed as written and bracketed when `cnet.ParseCIDROrIP`
 * reads it as IPv6 (an IPv4-mapped address reads as IPv4). An absent protocol or port is Go's
 * zero value. A net that does not parse makes Go dereference a nil IP and panic; Cattail gives
 * this key an error instead.
 */
function protoPortsToString(value: unknown, what: string): string {
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be a list`);
  if (value.length === 0) return 'none';
  return value.map((pp, i) => {
    if (!isObject(pp)) throw new ValidationError(`${what}[${i}] must be an object`);
    const protocol = (optString(pp.protocol, `${what}[${i}].protocol`) ?? '').toLowerCase();
    const port = optInt(pp.port, `${what}[${i}].port`) ?? 0;
    if (port < 0 || port > 65535) throw new ValidationError(`${what}[${i}].port must be 0-65535`);
    const net = optString(pp.net, `${what}[${i}].net`) ?? '';
    if (net === '') return `${protocol}:${port}`;
    const parsed = parseCIDROrIP(net);
    if (parsed === undefined) throw new ValidationError(`${what}[${i}].net ${JSON.stringify(net)} is not a valid CIDR or IP`);
    return parsed.ip.version === 6 ? `${protocol}:[${net}]:${port}` : `${protocol}:${net}:${port}`;
  }).join(',');
}

/** The config string for one field, or `undefined` when the field is unset. */
function configFieldValue(field: ConfigField, raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const what = field.json;
  const duration = (): bigint => {
    const ns = typeof raw === 'string' ? parseGoDuration(raw) : undefined;
    if (ns === undefined) throw new ValidationError(`${what} ${JSON.stringify(raw)} is not a duration`);
    return ns;
  };
  switch (field.type) {
    case 'bool':
      if (typeof raw !== 'boolean') throw new ValidationError(`${what} must be a boolean`);
      return String(raw);
    case 'int':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw new ValidationError(`${what} must be an integer`);
      return String(raw);
    case 'string':
      if (typeof raw !== 'string') throw new ValidationError(`${what} must be a string`);
      return raw === '' ? undefined : raw;
    case 'stringPtr':
      if (typeof raw !== 'string') throw new ValidationError(`${what} must be a string`);
      return raw;
    case 'seconds':
      return durationSecondsV(duration());
    case 'millis':
      return durationMillisV(duration());
    case 'stringList':
      if (!Array.isArray(raw) || !raw.every((s) => typeof s === 'string')) throw new ValidationError(`${what} must be a list of strings`);
      return raw.join(',');
    case 'protoPorts':
      return protoPortsToString(raw, what);
    case 'portList':
      // Go's %v of a slice: space-separated inside brackets.
      if (!Array.isArray(raw)) throw new ValidationError(`${what} must be a list`);
      return `[${raw.map((p, i) => String(normalizePort(p, `${what}[${i}]`))).join(' ')}]`;
    case 'port':
      return String(normalizePort(raw, what));
    case 'routeTableRange':
      // `routeTableRangeToString`: `%d-%d`, an absent bound being Go's zero value.
      if (!isObject(raw)) throw new ValidationError(`${what} must be an object`);
      return `${optInt(raw.min, `${what}.min`) ?? 0}-${optInt(raw.max, `${what}.max`) ?? 0}`;
  }
}

function configKVs(object: RawObject, kind: string, fields: readonly ConfigField[], allowOverrides: boolean): ConvertedKV[] {
  const host = configHost(objectName(object), kind);
  const keyOf = (name: string): string => (host === undefined ? globalConfigKey(name) : hostConfigKey(host, name));
  const spec: JsonObject = isObject(object.spec) ? object.spec : {};
  const overrides = new Map<string, string>();
  if (allowOverrides) {
    for (const [k, v] of Object.entries(annotationsOf(object))) {
      if (k.startsWith(OVERRIDE_PREFIX)) overrides.set(k.slice(OVERRIDE_PREFIX.length), v);
    }
  }
  const kvs: ConvertedKV[] = [];
  for (const field of fields) {
    if (field.v1 === 'DatastoreReady') {
      if (host !== undefined || spec.datastoreReady === undefined || spec.datastoreReady === null) continue;
      kvs.push(typeof spec.datastoreReady === 'boolean'
        ? { key: READY_FLAG_KEY, value: String(spec.datastoreReady) }
        : { key: READY_FLAG_KEY, value: null, error: 'datastoreReady must be a boolean' });
      continue;
    }
    const key = keyOf(field.v1);
    const override = overrides.get(field.v1);
    if (override !== undefined) {
      overrides.delete(field.v1);
      kvs.push({ key, value: override });
      continue;
    }
    try {
      const value = configFieldValue(field, spec[field.json]);
      if (value !== undefined) kvs.push({ key, value });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      kvs.push({ key, value: null, error: err.message });
    }
  }
  for (const name of [...overrides.keys()].sort()) kvs.push({ key: keyOf(name), value: overrides.get(name) as string });
  return kvs;
}

export function convertFelixConfiguration(object: RawObject): ConvertedKV[] {
  return configKVs(object, 'FelixConfiguration', FELIX_CONFIG_FIELDS, true);
}

export function convertClusterInformation(object: RawObject): ConvertedKV[] {
  return configKVs(object, 'ClusterInformation', CLUSTER_INFO_FIELDS, false);
}
