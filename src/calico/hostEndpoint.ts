/**
 * HostEndpoint → v1 `model.HostEndpoint` at `/calico/v1/host/<spec.node>/endpoint/<name>`.
 * The key depends on `spec.node`, so a HostEndpoint without a node cannot name a key.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, list, optString, stringList, validatedKV, type JsonObject } from './fields.ts';
import { hostEndpointKey } from './keys.ts';
import { labelsOf, objectName } from './meta.ts';
import { formatIP, parseIP } from './net.ts';
import { normalizePort } from './rules.ts';

function endpointPorts(value: unknown): JsonObject[] {
  return (list(value) ?? []).map((p, i) => {
    const what = `spec.ports[${i}]`;
    if (!isObject(p)) throw new ValidationError(`${what} must be an object`);
    const name = optString(p.name, `${what}.name`) ?? '';
    if (name === '') throw new ValidationError(`${what}.name is required`);
    const protocol = typeof p.protocol === 'string' ? p.protocol.toLowerCase() : '';
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new ValidationError(`${what}.protocol must be TCP, UDP or SCTP`);
    const port = normalizePort(p.port, `${what}.port`);
    if (typeof port !== 'number' || port === 0) throw new ValidationError(`${what}.port must be a single port number`);
    return { name, protocol, port };
  });
}

function hostEndpointValue(object: RawObject, spec: Record<string, unknown>): JsonObject {
  const interfaceName = optString(spec.interfaceName, 'spec.interfaceName') ?? '';
  const expectedTexts = stringList(spec.expectedIPs, 'spec.expectedIPs');
  // `convertHostEndpointV2ToV1` keeps the addresses `cnet.ParseIP` accepts and skips the rest.
  const expected = expectedTexts.flatMap((text) => parseIP(text) ?? []);
  // Calico's v3 validator rule, on the spec as written (so skipped addresses still count).
  if (interfaceName === '' && expectedTexts.length === 0) {
    throw new ValidationError('a HostEndpoint needs an interfaceName or expectedIPs');
  }
  const v4 = expected.filter((ip) => ip.version === 4).map(formatIP);
  const v6 = expected.filter((ip) => ip.version === 6).map(formatIP);
  const labels = labelsOf(object);
  const profiles = stringList(spec.profiles, 'spec.profiles');
  const ports = endpointPorts(spec.ports);
  const out: JsonObject = {};
  if (interfaceName !== '') out.name = interfaceName;
  if (v4.length > 0) out.expected_ipv4_addrs = v4;
  if (v6.length > 0) out.expected_ipv6_addrs = v6;
  if (Object.keys(labels).length > 0) out.labels = labels;
  if (profiles.length > 0) out.profile_ids = profiles;
  if (ports.length > 0) out.ports = ports;
  return out;
}

export function convertHostEndpoint(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const node = spec.node;
  if (typeof node !== 'string' || node === '') throw new Error(`HostEndpoint ${name} has no spec.node`);
  const key = hostEndpointKey(node, name);
  return validatedKV(key, () => hostEndpointValue(object, spec));
}
