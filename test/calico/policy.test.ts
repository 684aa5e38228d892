import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert, only } from './support.ts';

function np(namespace: string, name: string, spec: object): object {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}
function gnp(name: string, spec: object): object {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name }, spec };
}
const rulesOf = (kvs: readonly { value: unknown }[], field = 'inbound_rules'): any[] => (only(kvs as any).value as any)[field];

test('a namespaced policy ANDs the namespace and the pcsa.-prefixed service-account selector (libcalico-go vector)', () => {
  const kv = only(convert(KINDS.networkPolicies, np('namespace2', 'policy', {
    selector: "mylabel == 'selectme'", serviceAccountSelector: "role == 'development'", order: 101,
  })));
  assert.equal(kv.key, '/calico/v1/policy/tier/default/policy/namespace2%2fpolicy');
  assert.equal((kv.value as any).selector, "((mylabel == 'selectme') && projectcalico.org/namespace == 'namespace2') && pcsa.role == \"development\"");
});

test('the allow-tcp-6379 docs policy converts with namespaced rule selectors and rule metadata', () => {
  const kvs = convert(KINDS.networkPolicies, np('production', 'allow-tcp-6379', {
    selector: "role == 'database'", types: ['Ingress', 'Egress'],
    ingress: [{ action: 'Allow', metadata: { annotations: { from: 'frontend', to: 'database' } }, protocol: 'TCP',
      source: { selector: "role == 'frontend'" }, destination: { ports: [6379] } }],
    egress: [{ action: 'Allow' }],
  }));
  assertKVs(kvs, [{ key: '/calico/v1/policy/tier/default/policy/production%2fallow-tcp-6379', value: {
    namespace: 'production',
    inbound_rules: [{
      action: 'allow', protocol: 'tcp',
      src_selector: "(projectcalico.org/namespace == 'production') && (role == 'frontend')",
      dst_ports: [6379],
      orig_src_selector: "role == 'frontend'",
      metadata: { annotations: { from: 'frontend', to: 'database' } },
    }],
    outbound_rules: [{ action: 'allow' }],
    selector: "(role == 'database') && projectcalico.org/namespace == 'production'",
    apply_on_forward: true,
    types: ['ingress', 'egress'],
  } }]);
});

test('a global policy appends prefixed namespace and service-account selectors and rewrites all()', () => {
  const value = only(convert(KINDS.globalNetworkPolicies, gnp('g', {
    selector: "app == 'x'", namespaceSelector: 'all()', serviceAccountSelector: "role == 'y'",
    order: 0, doNotTrack: true, applyOnForward: true,
  }))).value as any;
  assert.deepEqual(value, {
    order: 0,
    selector: "((app == 'x') && has(projectcalico.org/namespace)) && pcsa.role == \"y\"",
    untracked: true,
    apply_on_forward: true,
  });
});

test('rule namespace selectors map all() and global() and service-account names become a set', () => {
  const rules = rulesOf(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [
    { action: 'Allow', source: { namespaceSelector: 'all()' } },
    { action: 'Deny', source: { namespaceSelector: 'global()', selector: 'a == "b"' } },
    { action: 'Pass', source: { serviceAccounts: { names: ['sa2', 'sa1'], selector: 'k == "v"' } } },
  ] })));
  assert.equal(rules[0].src_selector, 'has(projectcalico.org/namespace)');
  assert.equal(rules[1].src_selector, '(!has(projectcalico.org/namespace)) && (a == "b")');
  assert.equal(rules[1].action, 'deny');
  assert.equal(rules[2].action, 'next-tier');
  assert.equal(rules[2].src_selector, '(pcsa.k == "v") && (projectcalico.org/serviceaccount in {"sa1", "sa2"})');
  assert.deepEqual(rules[2].orig_src_service_acct_names, ['sa2', 'sa1']);
  assert.equal(rules[2].orig_src_service_acct_selector, 'k == "v"');
});

test('a namespaced rule with only nets gets no selector, but a notSelector pulls in the namespace', () => {
  const rules = rulesOf(convert(KINDS.networkPolicies, np('ns', 'p', { ingress: [
    { action: 'Allow', source: { nets: ['10.1.2.3/16'] } },
    { action: 'Allow', source: { notSelector: "x == 'y'" } },
  ] })));
  assert.deepEqual(rules[0], { action: 'allow', src_nets: ['10.1.0.0/16'] });
  assert.deepEqual(rules[1], {
    action: 'allow', src_selector: "projectcalico.org/namespace == 'ns'", '!src_selector': "x == 'y'", '!orig_src_selector': "x == 'y'",
  });
});

test('v3.20 service match: destination.services becomes dst_service and dst_service_ns', () => {
  const rules = rulesOf(convert(KINDS.networkPolicies, np('my-app', 'allow-api-access', {
    egress: [{ action: 'Allow', destination: { services: { name: 'kubernetes', namespace: 'default' } } }],
  })), 'outbound_rules');
  assert.deepEqual(rules, [{ action: 'allow', dst_service: 'kubernetes', dst_service_ns: 'default' }]);
});

test('v3.20 copies an empty service namespace of a namespaced policy unchanged', () => {
  const rules = rulesOf(convert(KINDS.networkPolicies, np('my-app', 'p', {
    egress: [{ action: 'Allow', destination: { services: { name: 'api' } } }],
  })), 'outbound_rules');
  assert.deepEqual(rules, [{ action: 'allow', dst_service: 'api' }]);
});

test('the allow-kube-dns global policy keeps its service namespace', () => {
  const rules = rulesOf(convert(KINDS.globalNetworkPolicies, gnp('allow-kube-dns', {
    egress: [{ action: 'Allow', destination: { services: { name: 'kube-dns', namespace: 'kube-system' } } }],
  })), 'outbound_rules');
  assert.deepEqual(rules, [{ action: 'allow', dst_service: 'kube-dns', dst_service_ns: 'kube-system' }]);
});

test('a service match is copied as RuleAPIV2ToBackend copies it, whatever the v3 validator said at write time', () => {
  // rules.go RuleAPIV2ToBackend reads only Destination.Services; Typha's v1 validator has no rule
  // for dst_service, so none of these is nulled on its way to Felix.
  const egressOf = (rule: object): unknown => rulesOf(convert(KINDS.globalNetworkPolicies, gnp('g', { egress: [rule] })), 'outbound_rules');
  assert.deepEqual(egressOf({ action: 'Allow', destination: { services: { namespace: 'x' } } }), [{ action: 'allow', dst_service_ns: 'x' }]);
  assert.deepEqual(egressOf({ action: 'Allow', source: { services: { name: 'a', namespace: 'x' } } }), [{ action: 'allow' }]);
  assert.deepEqual(egressOf({ action: 'Allow', protocol: 'TCP', destination: { ports: [80], services: { name: 'a', namespace: 'x' } } }),
    [{ action: 'allow', protocol: 'tcp', dst_ports: [80], dst_service: 'a', dst_service_ns: 'x' }]);
  assert.deepEqual(egressOf({ action: 'Allow', destination: { services: { name: 'a' } } }), [{ action: 'allow', dst_service: 'a' }]);
  assert.deepEqual(rulesOf(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [{ action: 'Allow', destination: { services: { name: 'a', namespace: 'x' } } }] }))),
    [{ action: 'allow', dst_service: 'a', dst_service_ns: 'x' }]);
});

test('invalid policies become a null value with an error', () => {
  const key = '/calico/v1/policy/tier/default/policy/g';
  assertError(convert(KINDS.globalNetworkPolicies, gnp('g', { selector: 'a ==' })), key, /selector/);
  assertError(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [{ action: 'Allow', destination: { nets: ['10.0.0.0/33'] } }] })), key, /CIDR/);
  assertError(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [{ action: 'Allow', protocol: 'ICMP', destination: { ports: [80] } }] })), key, /ports/);
  assertError(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [{ action: 'Allow', protocol: 'FOO' }] })), key, /protocol/);
  assertError(convert(KINDS.globalNetworkPolicies, gnp('g', { types: 'Ingress' })), key, /spec.types/);
});

test('actions, types and the preDNAT/doNotTrack flags are carried as the Go processors carry them', () => {
  // ruleActionAPIV2ToBackend lower-cases any action but Pass; policyTypesAPIV2ToBackend lower-cases
  // each type and keeps repeats; convertGlobalNetworkPolicyV2ToV1Value copies DoNotTrack, PreDNAT and
  // ApplyOnForward. The rules that forbid these are the v3 validator's, which Typha never runs on
  // a v1 Policy, and model.Policy/model.Rule carry no validate tag for them.
  assertKVs(convert(KINDS.globalNetworkPolicies, gnp('g', {
    order: 0, preDNAT: true, doNotTrack: true, types: ['Sideways', 'Ingress', 'Ingress'],
    ingress: [{ action: 'Explode' }, { action: 'Pass' }, { action: 'pass' }], egress: [{ action: 'Deny' }],
  })), [{ key: '/calico/v1/policy/tier/default/policy/g', value: {
    order: 0,
    inbound_rules: [{ action: 'explode' }, { action: 'next-tier' }, { action: 'pass' }],
    outbound_rules: [{ action: 'deny' }],
    selector: '', untracked: true, pre_dnat: true, types: ['sideways', 'ingress', 'ingress'],
  } }]);
});

test('icmp, ip version, negated protocol, http and port ranges are carried in v1 form', () => {
  const rules = rulesOf(convert(KINDS.globalNetworkPolicies, gnp('g', { ingress: [{
    action: 'Allow', ipVersion: 4, protocol: 'ICMP', icmp: { type: 8, code: 0 }, notICMP: { type: 3 },
  }, {
    action: 'Log', protocol: 6, notProtocol: 'UDPLite', http: { methods: ['GET'], paths: [{ exact: '/a' }, { prefix: '/b' }] },
    destination: { ports: ['1000:2000', 'web', '80:80'], notNets: ['fd00::1:0/112'] },
  }] })));
  assert.deepEqual(rules[0], { action: 'allow', ip_version: 4, protocol: 'icmp', icmp_type: 8, icmp_code: 0, '!icmp_type': 3 });
  assert.deepEqual(rules[1], {
    action: 'log', protocol: 6, '!protocol': 'udplite', dst_ports: ['1000:2000', 'web', 80], '!dst_nets': ['fd00::1:0/112'],
    http: { methods: ['GET'], paths: [{ exact: '/a' }, { prefix: '/b' }] },
  });
});

test('a raw CRD policy with a lower-case action converts', () => {
  const rules = rulesOf(convert(KINDS.globalNetworkPolicies, gnp('override', { ingress: [{ action: 'allow' }] })));
  assert.deepEqual(rules, [{ action: 'allow' }]);
});

test('the libcalico-go shared_test GNP converts every rule field in Go order (selectors quoted)', () => {
  const kvs = convert(KINDS.globalNetworkPolicies, gnp('simple', {
    order: 101, doNotTrack: true, applyOnForward: true, types: ['Ingress'], selector: "calico/k8s_ns == 'selectme'",
    ingress: [{
      action: 'Allow', ipVersion: 4, protocol: 'TCP', icmp: { type: 1, code: 4 }, notProtocol: 'UDP', notICMP: { type: 3, code: 6 },
      source: { nets: ['10.100.10.1'], selector: "calico/k8s_ns == 'selector1'", ports: [80], notNets: ['192.168.40.1'], notSelector: 'has(label1)', notPorts: [443] },
      destination: { nets: ['10.100.1.1'], selector: "calico/k8s_ns == 'selector2'", ports: [443], notNets: ['192.168.80.1'], notSelector: 'has(label2)', notPorts: [80] },
    }],
  }));
  assertKVs(kvs, [{ key: '/calico/v1/policy/tier/default/policy/simple', value: {
    order: 101,
    inbound_rules: [{
      action: 'allow', ip_version: 4, protocol: 'tcp', '!protocol': 'udp',
      icmp_type: 1, icmp_code: 4, '!icmp_type': 3, '!icmp_code': 6,
      src_nets: ['10.100.10.1/32'], src_selector: "calico/k8s_ns == 'selector1'", src_ports: [80],
      dst_selector: "calico/k8s_ns == 'selector2'", dst_nets: ['10.100.1.1/32'], dst_ports: [443],
      '!src_nets': ['192.168.40.1/32'], '!src_selector': 'has(label1)', '!src_ports': [443],
      '!dst_selector': 'has(label2)', '!dst_nets': ['192.168.80.1/32'], '!dst_ports': [80],
      orig_src_selector: "calico/k8s_ns == 'selector1'", orig_dst_selector: "calico/k8s_ns == 'selector2'",
      '!orig_src_selector': 'has(label1)', '!orig_dst_selector': 'has(label2)',
    }],
    selector: "calico/k8s_ns == 'selectme'",
    untracked: true,
    apply_on_forward: true,
    types: ['ingress'],
  } }]);
});

test("a namespaced policy keeps all() as its service-account selector; a global one rewrites it (libcalico-go vectors)", () => {
  const npValue = only(convert(KINDS.networkPolicies, np('namespace2', 'p', { selector: "mylabel == 'selectme'", serviceAccountSelector: 'all()' }))).value as any;
  assert.equal(npValue.selector, "((mylabel == 'selectme') && projectcalico.org/namespace == 'namespace2') && all()");
  const gnpValue = only(convert(KINDS.globalNetworkPolicies, gnp('g', { selector: "mylabel == 'selectme'", serviceAccountSelector: 'all()' }))).value as any;
  assert.equal(gnpValue.selector, "(mylabel == 'selectme') && has(projectcalico.org/serviceaccount)");
  const nsValue = only(convert(KINDS.globalNetworkPolicies, gnp('g', { selector: "mylabel == 'selectme'", namespaceSelector: "name == 'testing'" }))).value as any;
  assert.equal(nsValue.selector, "(mylabel == 'selectme') && pcns.name == \"testing\"");
});

test('an invalid service-account selector rejects the policy rather than dropping the clause', () => {
  assertError(convert(KINDS.networkPolicies, np('ns', 'p', { selector: "a == 'b'", serviceAccountSelector: 'role ==' })),
    '/calico/v1/policy/tier/default/policy/ns%2fp', /selector/);
});
