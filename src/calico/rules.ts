/**
 * v3 policy rules → v1 model rules (libcalico-go `updateprocessors/rules.go`), with the v3.20
 * service match (`destination.services` → `dst_service`, `dst_service_ns`). The v1 rule's
 * fields are written in Go struct order with omitempty, so an allow-all rule is `{"action":"allow"}`.
 * Fields are carried as Go carries them (actions lower-cased, service matches and HTTP matches
 * copied, unparsable source nets skipped). What Typha's v1 validator would reject later (bad
 * protocols, ICMP ranges, ip versions, selectors, ports without a port protocol) is rejected here
 * too, failing the whole policy as the filter drops the whole value; docs/DATA-MODEL.md lists
 * the rule-by-rule audit against libcalico-go e9d17133.
 */
import { ValidationError, isObject, list, optInt, optString, stringList, type JsonObject } from './fields.ts';
import { canonicalCIDROrIP } from './net.ts';
import { attachPrefix, parseSelector, printSelector, validateSelector } from './selectors.ts';

export type PolicyScope =
  | { readonly kind: 'global' }
  | { readonly kind: 'namespaced'; readonly namespace: string };

type Port = number | string;

const PROTOCOL_NAMES = ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'udplite'];
const PORT_PROTOCOLS = new Set<unknown>(['tcp', 'udp', 'sctp', 6, 17, 132]);

/** A v3 protocol (number or name) in its v1 form: names lower-cased, numbers kept. */
function protocolToV1(value: unknown, what: string): number | string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 255) throw new ValidationError(`${what} ${value} is out of range`);
    return value;
  }
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return protocolToV1(Number(value), what);
    const lower = value.toLowerCase();
    if (PROTOCOL_NAMES.includes(lower)) return lower;
  }
  throw new ValidationError(`${what} ${JSON.stringify(value)} is not a valid protocol`);
}

/**
 * A `numorstring.Port` as Go decodes it (`UnmarshalJSON`, `PortFromString`) and marshals it
 * again: a number 0-65535, `"min:max"` (a single number when min == max), or a name of 1-128
 * characters from `[a-zA-Z0-9_.-]`. Whether a port is acceptable in a v1 rule (from 1, names
 * as Kubernetes port names) is Typha's v1 validator's question, asked of the output.
 */
export function normalizePort(value: unknown, what: string): Port {
  const inRange = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof value === 'number') {
    if (!inRange(value)) throw new ValidationError(`${what} ${value} is out of range`);
    return value;
  }
  if (typeof value === 'string') {
    const range = /^(\d+)(?::(\d+))?$/.exec(value);
    if (range) {
      const min = Number(range[1]);
      const max = range[2] === undefined ? min : Number(range[2]);
      if (!inRange(min) || !inRange(max) || min > max) throw new ValidationError(`${what} ${JSON.stringify(value)} is not a valid port range`);
      return min === max ? min : `${min}:${max}`;
    }
    if (/^[a-zA-Z0-9_.-]{1,128}$/.test(value)) return value;
  }
  throw new ValidationError(`${what} ${JSON.stringify(value)} is not a valid port`);
}

export function portList(value: unknown, what: string): Port[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be a list`);
  return value.map((p, i) => normalizePort(p, `${what}[${i}]`));
}

/**
 * `NormalizeIPNets` (destination nets): each entry masked to its network. Go writes a JSON
 * `null` in place of an entry it cannot parse; Cattail rejects the value instead (see
 * docs/DATA-MODEL.md, "Where Cattail differs from Go").
 */
function dstNetList(value: unknown, what: string): string[] {
  return stringList(value, what).map((n, i) => {
    const canonical = canonicalCIDROrIP(n);
    if (canonical === undefined) throw new ValidationError(`${what}[${i}] ${JSON.stringify(n)} is not a valid CIDR`);
    return canonical;
  });
}

/** `ConvertStringsToNets` (source nets): an entry that does not parse is skipped, the rest kept. */
function srcNetList(value: unknown, what: string): string[] {
  return stringList(value, what).flatMap((n) => canonicalCIDROrIP(n) ?? []);
}

/** `ruleActionAPIV2ToBackend`: `Pass` → `next-tier`, anything else lower-cased. */
function actionToV1(value: unknown, what: string): string {
  const action = optString(value, what) ?? '';
  return action === 'Pass' ? 'next-tier' : action.toLowerCase();
}

function serviceAccountSelector(match: JsonObject, what: string): string {
  const selector = optString(match.selector, `${what}.selector`) ?? '';
  const names = stringList(match.names, `${what}.names`);
  const prefixed = selector === '' ? '' : attachPrefix(selector, 'pcsa.');
  if (names.length === 0) return prefixed;
  const byName = printSelector(parseSelector(
    `projectcalico.org/serviceaccount in { '${names.join("', '")}' }`,
  ));
  return prefixed === '' ? byName : `(${prefixed}) && (${byName})`;
}

/** Calico's `GetEntityRuleSelector`: one selector for everything an entity rule matches. */
function entitySelector(entity: JsonObject, scope: PolicyScope, what: string): string {
  const nsSelector = optString(entity.namespaceSelector, `${what}.namespaceSelector`) ?? '';
  const selector = optString(entity.selector, `${what}.selector`) ?? '';
  const notSelector = optString(entity.notSelector, `${what}.notSelector`) ?? '';
  validateSelector(selector, `${what}.selector`);
  validateSelector(notSelector, `${what}.notSelector`);
  const sa = isObject(entity.serviceAccounts) ? serviceAccountSelector(entity.serviceAccounts, `${what}.serviceAccounts`) : '';

  let nsPart = '';
  if (nsSelector !== '') {
    nsPart = attachPrefix(nsSelector, 'pcns.')
      .replaceAll('all()', 'has(projectcalico.org/namespace)')
      .replaceAll('global()', '!has(projectcalico.org/namespace)');
  } else if (scope.kind === 'namespaced') {
    nsPart = `projectcalico.org/namespace == '${scope.namespace}'`;
  }
  const parts = [sa, selector].filter((s) => s !== '');
  let combined = parts.length === 2 ? `(${parts[0]}) && (${parts[1]})` : (parts[0] ?? '');
  if (nsPart !== '' && (combined !== '' || notSelector !== '' || nsSelector !== '')) {
    combined = combined === '' ? nsPart : `(${nsPart}) && (${combined})`;
  }
  return combined;
}

/** The v3.20 service match: Go copies `destination.services` name and namespace as they are. */
function serviceMatch(entity: JsonObject, what: string): { name: string; namespace: string } | undefined {
  if (entity.services === undefined || entity.services === null) return undefined;
  if (!isObject(entity.services)) throw new ValidationError(`${what}.services must be an object`);
  return {
    name: optString(entity.services.name, `${what}.services.name`) ?? '',
    namespace: optString(entity.services.namespace, `${what}.services.namespace`) ?? '',
  };
}

function icmpFields(value: unknown, what: string): { type?: number; code?: number } {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new ValidationError(`${what} must be an object`);
  const type = optInt(value.type, `${what}.type`);
  const code = optInt(value.code, `${what}.code`);
  if (type !== undefined && (type < 0 || type > 254)) throw new ValidationError(`${what}.type must be 0-254`);
  if (code !== undefined && (code < 0 || code > 255)) throw new ValidationError(`${what}.code must be 0-255`);
  return { ...(type !== undefined && { type }), ...(code !== undefined && { code }) };
}

/** `model.HTTPMatch{Methods, Paths}`, copied; `apiv3.HTTPPath`'s `exact`/`prefix` are omitempty. */
function httpMatch(value: unknown, what: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new ValidationError(`${what} must be an object`);
  const out: JsonObject = {};
  const methods = stringList(value.methods, `${what}.methods`);
  if (methods.length > 0) out.methods = methods;
  const paths = (list(value.paths) ?? []).map((p, i) => {
    if (!isObject(p)) throw new ValidationError(`${what}.paths[${i}] must be an object`);
    const path: JsonObject = {};
    put(path, 'exact', optString(p.exact, `${what}.paths[${i}].exact`));
    put(path, 'prefix', optString(p.prefix, `${what}.paths[${i}].prefix`));
    return path;
  });
  if (paths.length > 0) out.paths = paths;
  return out;
}

function put(out: JsonObject, key: string, value: unknown): void {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return;
  out[key] = value;
}

/** One v3 rule → one v1 rule. `scope` supplies the namespace a namespaced policy adds. */
function ruleToV1(rule: unknown, scope: PolicyScope, what: string): JsonObject {
  if (!isObject(rule)) throw new ValidationError(`${what} must be an object`);
  const src = rule.source ?? {};
  const dst = rule.destination ?? {};
  if (!isObject(src) || !isObject(dst)) throw new ValidationError(`${what} source and destination must be objects`);
  const protocol = protocolToV1(rule.protocol, `${what}.protocol`);
  const notProtocol = protocolToV1(rule.notProtocol, `${what}.notProtocol`);
  const ipVersion = optInt(rule.ipVersion, `${what}.ipVersion`);
  if (ipVersion !== undefined && ipVersion !== 4 && ipVersion !== 6) throw new ValidationError(`${what}.ipVersion must be 4 or 6`);
  const icmp = icmpFields(rule.icmp, `${what}.icmp`);
  const notIcmp = icmpFields(rule.notICMP, `${what}.notICMP`);
  const ports = {
    src: portList(src.ports, `${what}.source.ports`), notSrc: portList(src.notPorts, `${what}.source.notPorts`),
    dst: portList(dst.ports, `${what}.destination.ports`), notDst: portList(dst.notPorts, `${what}.destination.notPorts`),
  };
  if ((ports.src.length || ports.notSrc.length || ports.dst.length || ports.notDst.length) && !PORT_PROTOCOLS.has(protocol)) {
    throw new ValidationError(`${what}: ports are only allowed with protocol TCP, UDP or SCTP`);
  }
  const service = serviceMatch(dst, `${what}.destination`);
  const srcSA = isObject(src.serviceAccounts) ? src.serviceAccounts : {};
  const dstSA = isObject(dst.serviceAccounts) ? dst.serviceAccounts : {};

  const out: JsonObject = {};
  put(out, 'action', actionToV1(rule.action, `${what}.action`));
  put(out, 'ip_version', ipVersion);
  put(out, 'protocol', protocol);
  put(out, '!protocol', notProtocol);
  put(out, 'icmp_type', icmp.type);
  put(out, 'icmp_code', icmp.code);
  put(out, '!icmp_type', notIcmp.type);
  put(out, '!icmp_code', notIcmp.code);
  put(out, 'src_nets', srcNetList(src.nets, `${what}.source.nets`));
  put(out, 'src_selector', entitySelector(src, scope, `${what}.source`));
  put(out, 'src_ports', ports.src);
  put(out, 'dst_selector', entitySelector(dst, scope, `${what}.destination`));
  put(out, 'dst_nets', dstNetList(dst.nets, `${what}.destination.nets`));
  put(out, 'dst_ports', ports.dst);
  put(out, 'dst_service', service?.name);
  put(out, 'dst_service_ns', service?.namespace);
  put(out, '!src_nets', srcNetList(src.notNets, `${what}.source.notNets`));
  put(out, '!src_selector', src.notSelector);
  put(out, '!src_ports', ports.notSrc);
  put(out, '!dst_selector', dst.notSelector);
  put(out, '!dst_nets', dstNetList(dst.notNets, `${what}.destination.notNets`));
  put(out, '!dst_ports', ports.notDst);
  put(out, 'orig_src_selector', src.selector);
  put(out, 'orig_src_namespace_selector', src.namespaceSelector);
  put(out, 'orig_dst_selector', dst.selector);
  put(out, 'orig_dst_namespace_selector', dst.namespaceSelector);
  put(out, '!orig_src_selector', src.notSelector);
  put(out, '!orig_dst_selector', dst.notSelector);
  put(out, 'orig_src_service_acct_names', stringList(srcSA.names, `${what}.source.serviceAccounts.names`));
  put(out, 'orig_src_service_acct_selector', srcSA.selector);
  put(out, 'orig_dst_service_acct_names', stringList(dstSA.names, `${what}.destination.serviceAccounts.names`));
  put(out, 'orig_dst_service_acct_selector', dstSA.selector);
  const http = httpMatch(rule.http, `${what}.http`);
  if (http) out.http = http;
  // Go builds `metadata` whenever the v3 rule's annotations map is non-nil, even empty, and
  // `RuleMetadata.Annotations` is omitempty: `annotations: {}` gives `"metadata":{}`.
  if (isObject(rule.metadata) && isObject(rule.metadata.annotations)) {
    const annotations: Record<string, string> = {};
    for (const k of Object.keys(rule.metadata.annotations).sort()) annotations[k] = String(rule.metadata.annotations[k]);
    out.metadata = Object.keys(annotations).length > 0 ? { annotations } : {};
  }
  return out;
}

/** A list of v3 rules → v1 rules, or `undefined` for none (Go's omitempty on a nil slice). */
export function rulesToV1(rules: unknown, scope: PolicyScope, what: string): JsonObject[] | undefined {
  if (rules === undefined || rules === null) return undefined;
  if (!Array.isArray(rules)) throw new ValidationError(`${what} must be a list`);
  if (rules.length === 0) return undefined;
  return rules.map((r, i) => ruleToV1(r, scope, `${what}[${i}]`));
}
