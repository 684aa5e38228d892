/**
 * The half of Typha's output filter that runs libcalico-go's v1 validator
 * (`lib/validator/v1/validator.go`, release-v3.20 @ e9d17133) on v1 model values. Go validates
 * only values that are pointers to structs, through their `validate:"..."` struct tags (in
 * `lib/backend/model`) and the struct-level functions registered for model types; a plain
 * string (config values, host IPs, the ready flag) or a map (profile labels) is never checked.
 *
 * Tags on fields whose type is a struct (`lib/net.IP`, `lib/net.IPNet`: `ipv4`, `ipv6`, `ip`,
 * `cidr`) are ignored by go-playground/validator v9, which descends into the struct instead, so
 * those tags check nothing and have no rule here. Each function returns the first failure.
 */
import { isObject, type JsonObject } from './fields.ts';
import { portNameProblem, v1LabelsProblem } from './k8sNames.ts';
import { validateSelector } from './selectors.ts';

export interface RuleFailure {
  /** The Go validator function (or tag) whose rule failed. */
  readonly rule: string;
  readonly reason: string;
}

export type ValueCheck = (value: JsonObject) => RuleFailure | undefined;

const fail = (rule: string, reason: string): RuleFailure => ({ rule, reason });

/** v1 `nameRegex`: profile ids, endpoint port names, tags. */
const V1_NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;
/** v1 `interfaceRegex` (or `*`). */
const V1_INTERFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;
const V1_PROTOCOL_RE = /^(tcp|udp|icmp|icmpv6|sctp|udplite)$/;

/**
 * `Uint8OrString.NumValue`: the protocol's number when it is one, or a string that parses as
 * a uint8 (Go's JSON decoding of `"6"` gives the number 6); undefined for a name.
 */
export function protocolNumber(p: unknown): number | undefined {
  if (typeof p === 'number') return p;
  if (typeof p === 'string' && /^\d+$/.test(p) && Number(p) <= 255) return Number(p);
  return undefined;
}

/** `numorstring.Protocol.SupportsPorts`: 6, 17 or 132, or TCP, UDP or SCTP in either spelling. */
export function protocolSupportsPorts(protocol: unknown): boolean {
  const n = protocolNumber(protocol);
  if (n !== undefined) return n === 6 || n === 17 || n === 132;
  return typeof protocol === 'string' && ['tcp', 'udp', 'sctp', 'TCP', 'UDP', 'SCTP'].includes(protocol);
}

/** `validateProtocol` with the given name pattern: a number 1-255, or a protocol name. */
export function protocolProblem(p: unknown, names: RegExp): string | undefined {
  const n = protocolNumber(p);
  if (n !== undefined) return n === 0 || n > 255 || !Number.isInteger(n) ? 'protocol number invalid' : undefined;
  return typeof p === 'string' && names.test(p) ? undefined : 'protocol name invalid';
}

/**
 * `validatePort` on a marshalled numorstring.Port: `n`, `"min:max"` or a name. A name also meets
 * the struct's `PortName` tag (`omitempty,portName`, Kubernetes `IsValidPortName`), which the
 * validator checks on every port it dives into.
 */
function portProblem(port: unknown, v1Wording: boolean): string | undefined {
  let min: number;
  let max: number;
  if (typeof port === 'number') {
    min = port;
    max = port;
  } else if (typeof port === 'string') {
    const range = /^(\d+):(\d+)$/.exec(port) ?? /^(\d+)$/.exec(port);
    if (range === null) {
      if (port === '') return 'port range invalid, port number must be between 1 and 65535';
      const nameProblem = portNameProblem(port);
      return nameProblem === undefined ? undefined : `port name ${JSON.stringify(port)} ${nameProblem}`;
    }
    min = Number(range[1]);
    max = Number(range[2] ?? range[1]);
  } else {
    return 'port must be a number, a range or a name';
  }
  if (min > max) return 'port range invalid';
  if (min < 1 || max < 1) return v1Wording ? 'port range invalid, port number must be between 0 and 65536' : 'port range invalid, port number must be between 1 and 65535';
  return undefined;
}

/** Exported for the v3 rules, which share the numorstring.Port struct validator. */
export function numorstringPortProblem(port: unknown): string | undefined {
  return portProblem(port, false);
}

function selectorProblem(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') return 'selector must be a string';
  try {
    validateSelector(value, 'selector');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const RULE_SELECTORS = [
  'src_selector', 'dst_selector', '!src_selector', '!dst_selector', 'orig_src_selector', 'orig_src_namespace_selector',
  'orig_dst_selector', 'orig_dst_namespace_selector', '!orig_src_selector', '!orig_dst_selector',
  'orig_src_service_acct_selector', 'orig_dst_service_acct_selector',
] as const;
const RULE_PORTS = ['src_ports', 'dst_ports', '!src_ports', '!dst_ports'] as const;

/** One `model.Rule`: its field tags, then `validateBackendRule`. */
function ruleFailure(rule: unknown, where: string): RuleFailure | undefined {
  if (!isObject(rule)) return fail('model.Rule', `${where} is not an object`);
  if (rule.ip_version !== undefined && rule.ip_version !== 4 && rule.ip_version !== 6) {
    return fail('validateIPVersion', `${where}.ip_version must be 4 or 6`);
  }
  for (const field of ['protocol', '!protocol'] as const) {
    if (rule[field] === undefined) continue;
    const p = protocolProblem(rule[field], V1_PROTOCOL_RE);
    if (p !== undefined) return fail('validateProtocol', `${where}.${field}: ${p}`);
  }
  for (const [field, max] of [['icmp_type', 254], ['!icmp_type', 254], ['icmp_code', 255], ['!icmp_code', 255]] as const) {
    const v = rule[field];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) return fail(`gte=0,${max === 254 ? 'lt=255' : 'lte=255'}`, `${where}.${field} must be 0-${max}`);
  }
  for (const field of ['src_tag', 'dst_tag', '!src_tag'] as const) {
    const v = rule[field];
    if (v !== undefined && v !== '' && !(typeof v === 'string' && V1_NAME_RE.test(v))) return fail('validateTag', `${where}.${field} is not a valid tag`);
  }
  for (const field of RULE_SELECTORS) {
    const p = selectorProblem(rule[field]);
    if (p !== undefined) return fail('validateSelector', `${where}.${field}: ${p}`);
  }
  for (const field of RULE_PORTS) {
    const ports = rule[field];
    if (ports === undefined) continue;
    if (!Array.isArray(ports)) return fail('validatePort', `${where}.${field} must be a list`);
    for (const [i, port] of ports.entries()) {
      const p = portProblem(port, true);
      if (p !== undefined) return fail('validatePort', `${where}.${field}[${i}]: ${p}`);
    }
    if (ports.length > 0 && !protocolSupportsPorts(rule.protocol)) {
      return fail('validateBackendRule', `${where}.${field}: rules that specify ports must set protocol to TCP or UDP or SCTP`);
    }
  }
  return undefined;
}

function rulesFailure(value: JsonObject, fields: readonly string[]): RuleFailure | undefined {
  for (const field of fields) {
    const rules = value[field];
    if (rules === undefined || rules === null) continue;
    if (!Array.isArray(rules)) return fail('model.Rule', `${field} must be a list`);
    for (const [i, r] of rules.entries()) {
      const f = ruleFailure(r, `${field}[${i}]`);
      if (f !== undefined) return f;
    }
  }
  return undefined;
}

/** `model.EndpointPort`: `name` tag, `gt=0` on the port, then `validateBackendEndpointPort`. */
function endpointPortsFailure(ports: unknown): RuleFailure | undefined {
  if (ports === undefined || ports === null) return undefined;
  if (!Array.isArray(ports)) return fail('model.EndpointPort', 'ports must be a list');
  for (const [i, port] of ports.entries()) {
    if (!isObject(port)) return fail('model.EndpointPort', `ports[${i}] is not an object`);
    if (!(typeof port.name === 'string' && V1_NAME_RE.test(port.name))) return fail('validateName', `ports[${i}].name ${JSON.stringify(port.name)} must be 1-128 of [a-zA-Z0-9_.-]`);
    const pp = protocolProblem(port.protocol, V1_PROTOCOL_RE);
    if (pp !== undefined) return fail('validateProtocol', `ports[${i}].protocol: ${pp}`);
    if (!(typeof port.port === 'number' && port.port > 0)) return fail('gt=0', `ports[${i}].port must be greater than 0`);
    if (!['tcp', 'udp', 'sctp'].includes(port.protocol as string)) return fail('validateBackendEndpointPort', `ports[${i}]: EndpointPort protocol must be 'tcp' or 'udp' or 'sctp'`);
  }
  return undefined;
}

function profileIdsFailure(ids: unknown): RuleFailure | undefined {
  if (!Array.isArray(ids)) return undefined;
  for (const [i, id] of ids.entries()) {
    if (!(typeof id === 'string' && V1_NAME_RE.test(id))) return fail('validateName', `profile_ids[${i}] ${JSON.stringify(id)} must be 1-128 of [a-zA-Z0-9_.-]`);
  }
  return undefined;
}

function labelsFailure(labels: unknown): RuleFailure | undefined {
  if (!isObject(labels)) return undefined;
  const p = v1LabelsProblem(labels);
  return p === undefined ? undefined : fail('validateLabels', p);
}

/** `model.Policy`: `selector` (always checked; empty means all()), then every rule. */
export const validateV1Policy: ValueCheck = (v) => {
  const p = selectorProblem(v.selector);
  if (p !== undefined) return fail('validateSelector', `selector: ${p}`);
  return rulesFailure(v, ['inbound_rules', 'outbound_rules']);
};

/** `model.ProfileRules`. */
export const validateV1ProfileRules: ValueCheck = (v) => rulesFailure(v, ['inbound_rules', 'outbound_rules']);

/**
 * `model.WorkloadEndpoint`: the ports' tags and struct rule; Typha's filter also nulls an
 * endpoint without an interface `name`. Labels and profile ids carry no tag here.
 */
export const validateV1WorkloadEndpoint: ValueCheck = (v) => {
  if (typeof v.name !== 'string' || v.name === '') return fail('ValidationFilter (missing name)', 'workload endpoint has no interface name');
  return endpointPortsFailure(v.ports);
};

/** `model.HostEndpoint`: `interface`, `labels`, `dive,name` on profile ids, ports. */
export const validateV1HostEndpoint: ValueCheck = (v) => {
  if (v.name !== undefined && v.name !== '' && !(typeof v.name === 'string' && (v.name === '*' || V1_INTERFACE_RE.test(v.name)))) {
    return fail('validateInterface', `name ${JSON.stringify(v.name)} must be "*" or 1-15 of [a-zA-Z0-9_.-]`);
  }
  return labelsFailure(v.labels) ?? profileIdsFailure(v.profile_ids) ?? endpointPortsFailure(v.ports);
};

/** `model.NetworkSet`: `labels` and `dive,name` on profile ids. */
export const validateV1NetworkSet: ValueCheck = (v) => labelsFailure(v.labels) ?? profileIdsFailure(v.profile_ids);
