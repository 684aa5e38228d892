// Golden vectors for the v3 → v1 rule conversion. Every expected value is worked out by hand
// from libcalico-go e9d17133 lib/backend/syncersv1/updateprocessors/rules.go
// (RuleAPIV2ToBackend, GetEntityRuleSelector, parseServiceAccounts, ConvertStringsToNets,
// NormalizeIPNets) and the JSON tags of lib/backend/model/rule.go (every field omitempty, in
// struct order), with apiv3 and numorstring from projectcalico/api release-v3.20.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS, assertError, convert, only } from './support.ts';

const NP_KEY = '/calico/v1/policy/tier/default/policy/ns1%2fp';

function np(spec: object): object {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'ns1' }, spec };
}
function gnp(spec: object): object {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec };
}

/** The one v1 inbound rule a namespaced policy with one ingress rule converts to. */
function ingressRule(rule: object, policy: (spec: object) => object = np): Record<string, unknown> {
  const value = only(convert(policy === np ? KINDS.networkPolicies : KINDS.globalNetworkPolicies, policy({ ingress: [rule] }))).value as any;
  assert.equal(value.inbound_rules.length, 1);
  return value.inbound_rules[0];
}

/** Asserts content and field order, since values are encoded in insertion order. */
function assertRule(actual: unknown, expected: object): void {
  assert.deepEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

test('an empty annotations map gives an empty metadata object (RuleMetadata.Annotations is omitempty)', () => {
  assertRule(ingressRule({ action: 'Allow', metadata: { annotations: {} } }), { action: 'allow', metadata: {} });
});

test('rule metadata without an annotations map, or with a null one, is omitted (Go leaves Metadata nil)', () => {
  assertRule(ingressRule({ action: 'Allow', metadata: {} }), { action: 'allow' });
  assertRule(ingressRule({ action: 'Allow', metadata: { annotations: null } }), { action: 'allow' });
});

test('rule annotations are written with sorted keys after http, as the last model.Rule fields', () => {
  assertRule(ingressRule({ action: 'Allow', http: { methods: ['GET'] }, metadata: { annotations: { z: '1', a: '2' } } }),
    { action: 'allow', http: { methods: ['GET'] }, metadata: { annotations: { a: '2', z: '1' } } });
});

test('source nets that do not parse are skipped and the rest are kept masked (ConvertStringsToNets)', () => {
  assertRule(ingressRule({ action: 'Allow', source: { nets: ['10.1.2.3/16', 'not-a-net', '192.168.0.7', 'fd00::1/64'], notNets: ['bogus', '10.9.9.9/24'] } }),
    { action: 'allow', src_nets: ['10.1.0.0/16', '192.168.0.7/32', 'fd00::/64'], '!src_nets': ['10.9.9.0/24'] });
});

test('a rule whose source nets all fail to parse keeps no src_nets, as Go leaves the slice nil', () => {
  // Go widens the rule to any source here; the v1 validator has no rule on src_nets either.
  assertRule(ingressRule({ action: 'Allow', source: { nets: ['bogus'], notNets: ['10.0.0.0/33'] } }), { action: 'allow' });
});

test('a destination net that does not parse rejects the policy (Go would write a null entry)', () => {
  assertError(convert(KINDS.networkPolicies, np({ egress: [{ action: 'Allow', destination: { nets: ['10.0.0.0/8', 'bogus'] } }] })), NP_KEY, /destination.nets\[1\]/);
  assertError(convert(KINDS.networkPolicies, np({ egress: [{ action: 'Allow', destination: { notNets: ['300.0.0.1'] } }] })), NP_KEY, /destination.notNets\[0\]/);
});

test('destination nets are masked to their network (NormalizeIPNets)', () => {
  assertRule(ingressRule({ action: 'Allow', destination: { nets: ['10.1.2.3/16', '2001:db8::5'] } }), { action: 'allow', dst_nets: ['10.1.0.0/16', '2001:db8::5/128'] });
});

test('http paths are copied with exact and prefix both kept when both are set, and an empty http match stays', () => {
  assertRule(ingressRule({ action: 'Allow', http: { paths: [{ exact: '/a', prefix: '/b' }, {}] } }),
    { action: 'allow', http: { paths: [{ exact: '/a', prefix: '/b' }, {}] } });
  assertRule(ingressRule({ action: 'Allow', http: {} }), { action: 'allow', http: {} });
});

test('an ICMP code without a type is copied; only the v3 validator forbids it', () => {
  assertRule(ingressRule({ action: 'Allow', protocol: 'ICMP', icmp: { code: 3 }, notICMP: { type: 8 } }),
    { action: 'allow', protocol: 'icmp', icmp_code: 3, '!icmp_type': 8 });
});

test('ports decode as numorstring.Port: a one-number range is a number, names may use _ . and capitals', () => {
  assertRule(ingressRule({ action: 'Allow', protocol: 'TCP', destination: { ports: ['Http_Alt.1', '8080:8080', '80:90'] } }),
    { action: 'allow', protocol: 'tcp', dst_ports: ['Http_Alt.1', 8080, '80:90'] });
  assertError(convert(KINDS.networkPolicies, np({ ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['http:90'] } }] })), NP_KEY, /port/);
});

test('service-account names become a sorted set ANDed after the prefixed selector (parseServiceAccounts)', () => {
  const rule = ingressRule({ action: 'Allow', source: { serviceAccounts: { names: ['b', 'a', 'b'], selector: "role == 'db'" } } }, gnp);
  assertRule(rule, {
    action: 'allow',
    src_selector: '(pcsa.role == "db") && (projectcalico.org/serviceaccount in {"a", "b"})',
    orig_src_service_acct_names: ['b', 'a', 'b'],
    orig_src_service_acct_selector: "role == 'db'",
  });
});

test('in a namespaced policy the service-account and endpoint selectors are joined, then the namespace (getEndpointSelector)', () => {
  const rule = ingressRule({ action: 'Allow', source: { selector: "app == 'x'", serviceAccounts: { names: ['a'] } } });
  assert.equal(rule.src_selector,
    "(projectcalico.org/namespace == 'ns1') && ((projectcalico.org/serviceaccount in {\"a\"}) && (app == 'x'))");
});

test('a rule namespace selector is re-printed with its run of ! collapsed while the endpoint selector is copied', () => {
  const rule = ingressRule({ action: 'Allow', source: { namespaceSelector: "!!team == 'a'", selector: "!!x == 'y'" } }, gnp);
  assertRule(rule, {
    action: 'allow',
    src_selector: "(pcns.team == \"a\") && (!!x == 'y')",
    orig_src_selector: "!!x == 'y'",
    orig_src_namespace_selector: "!!team == 'a'",
  });
});

test('a v3 protocol given as a number or a numeric string is kept as a number; names are lower-cased (Protocol.ToV1)', () => {
  assertRule(ingressRule({ action: 'Allow', protocol: 132, notProtocol: 'UDPLite' }), { action: 'allow', protocol: 132, '!protocol': 'udplite' });
  assertRule(ingressRule({ action: 'Allow', protocol: '17' }), { action: 'allow', protocol: 17 });
});

test('service-account names Go cannot parse reject the policy, where Go would drop the whole service-account part (declared)', () => {
  // parseServiceAccounts builds `... in { 'o'brien' }`, which fails to parse, and returns "".
  assertError(convert(KINDS.networkPolicies, np({ ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ["o'brien"] } } }] })), NP_KEY, /invalid selector/);
});

test("a global policy's all() rewrite covers its own selector too, as strings.Replace on the whole selector does", () => {
  const value = only(convert(KINDS.globalNetworkPolicies, gnp({ selector: 'all()', namespaceSelector: "a == 'b'" }))).value as any;
  assert.equal(value.selector, '(has(projectcalico.org/namespace)) && pcns.a == "b"');
});
