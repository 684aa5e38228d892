import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simplifyPorts } from '../../src/calico/k8sNetworkPolicy.ts';
import { KINDS, assertKVs, convert, only } from './support.ts';

function knp(namespace: string, name: string, spec: object): object {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, resourceVersion: '3' }, spec };
}

test('the stars/backend-policy demo converts to the reference v1 policy', () => {
  const kvs = convert(KINDS.k8sNetworkPolicies, knp('stars', 'backend-policy', {
    podSelector: { matchLabels: { role: 'backend' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
  }));
  assertKVs(kvs, [{ key: '/calico/v1/policy/tier/default/policy/stars%2fknp.default.backend-policy', value: {
    namespace: 'stars',
    order: 1000,
    inbound_rules: [{
      action: 'allow', protocol: 'tcp',
      src_selector: "(projectcalico.org/namespace == 'stars') && (projectcalico.org/orchestrator == 'k8s' && role == 'frontend')",
      dst_ports: [6379],
      orig_src_selector: "projectcalico.org/orchestrator == 'k8s' && role == 'frontend'",
    }],
    selector: "(projectcalico.org/orchestrator == 'k8s' && role == 'backend') && projectcalico.org/namespace == 'stars'",
    apply_on_forward: true,
    types: ['ingress'],
  } }]);
});

test('a peer with namespaceSelector {} selects pods in every namespace (libcalico-go vector)', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('ns', 'p', {
    podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.inbound_rules, [{
    action: 'allow',
    src_selector: "(has(projectcalico.org/namespace)) && (projectcalico.org/orchestrator == 'k8s')",
    orig_src_selector: "projectcalico.org/orchestrator == 'k8s'",
    orig_src_namespace_selector: 'all()',
  }]);
  assert.equal(value.selector, "(projectcalico.org/orchestrator == 'k8s') && projectcalico.org/namespace == 'ns'");
});

test('a namespaceSelector with labels is prefixed with pcns. and re-printed with double quotes', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('stars', 'allow-ui', {
    podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: 'management-ui' } } }] }],
  }))).value as Record<string, any>;
  assert.equal(value.inbound_rules[0].src_selector, "(pcns.role == \"management-ui\") && (projectcalico.org/orchestrator == 'k8s')");
});

test('default-deny with no rules gives an ingress policy with no rules', () => {
  assertKVs(convert(KINDS.k8sNetworkPolicies, knp('client', 'default-deny', { podSelector: { matchLabels: {} } })), [{
    key: '/calico/v1/policy/tier/default/policy/client%2fknp.default.default-deny',
    value: { namespace: 'client', order: 1000, selector: "(projectcalico.org/orchestrator == 'k8s') && projectcalico.org/namespace == 'client'", apply_on_forward: true, types: ['ingress'] },
  }]);
});

test('matchExpressions follow sorted matchLabels in the policy selector', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', { podSelector: {
    matchLabels: { b: '2', a: '1' },
    matchExpressions: [
      { key: 'env', operator: 'In', values: ['x', 'y'] }, { key: 'tier', operator: 'NotIn', values: ['z'] },
      { key: 'k', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist' },
    ],
  } }))).value as Record<string, any>;
  assert.equal(value.selector,
    "(projectcalico.org/orchestrator == 'k8s' && a == '1' && b == '2' && env in { 'x', 'y' } && tier not in { 'z' } && has(k) && ! has(d)) && projectcalico.org/namespace == 'n'");
});

test('ports are grouped by sorted protocol with one rule per protocol and peer', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {},
    ingress: [{
      from: [{ podSelector: { matchLabels: { a: '1' } } }, { ipBlock: { cidr: '10.0.0.5/8', except: ['10.1.0.0/16'] } }],
      ports: [{ port: 81 }, { protocol: 'UDP', port: 53 }, { port: 80 }, { port: 'http' }, { protocol: 'SCTP' }, { port: 82, endPort: 90 }],
    }],
  }))).value as Record<string, any>;
  const summary = value.inbound_rules.map((r: any) => [r.protocol, r.dst_ports, r.src_selector, r.src_nets, r['!src_nets']]);
  assert.deepEqual(summary, [
    ['sctp', undefined, "(projectcalico.org/namespace == 'n') && (projectcalico.org/orchestrator == 'k8s' && a == '1')", undefined, undefined],
    ['sctp', undefined, undefined, ['10.0.0.0/8'], ['10.1.0.0/16']],
    ['tcp', ['http', '80:90'], "(projectcalico.org/namespace == 'n') && (projectcalico.org/orchestrator == 'k8s' && a == '1')", undefined, undefined],
    ['tcp', ['http', '80:90'], undefined, ['10.0.0.0/8'], ['10.1.0.0/16']],
    ['udp', [53], "(projectcalico.org/namespace == 'n') && (projectcalico.org/orchestrator == 'k8s' && a == '1')", undefined, undefined],
    ['udp', [53], undefined, ['10.0.0.0/8'], ['10.1.0.0/16']],
  ]);
});

test('a port-less entry for a protocol allows all of its ports', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {}, ingress: [{ ports: [{ port: 80 }, { protocol: 'TCP' }] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.inbound_rules, [{ action: 'allow', protocol: 'tcp' }]);
});

// SimplifyPorts vectors, each worked out from libcalico-go e9d17133
// lib/backend/k8s/conversion/conversion.go SimplifyPorts and appendPortRange.
test('SimplifyPorts returns a list of at most one port unchanged', () => {
  assert.deepEqual(simplifyPorts([]), []);
  assert.deepEqual(simplifyPorts(['http']), ['http']);
  assert.deepEqual(simplifyPorts(['1:65535']), ['1:65535']);
});

test('SimplifyPorts returns the list unchanged, in input order, when it holds at most one numeric port', () => {
  assert.deepEqual(simplifyPorts([80, 'http']), [80, 'http']);
  assert.deepEqual(simplifyPorts([443, 'https', 'http']), [443, 'https', 'http']);
  assert.deepEqual(simplifyPorts(['b', 'a']), ['b', 'a']);
});

test('SimplifyPorts counts the ports a range expands to, so one two-port range is merged like two ports', () => {
  assert.deepEqual(simplifyPorts(['x', '81:82']), ['x', '81:82']);
  assert.deepEqual(simplifyPorts(['80:81', 'x']), ['x', '80:81']);
});

test('SimplifyPorts puts named ports first in input order, then merges sorted numbers into ranges', () => {
  assert.deepEqual(simplifyPorts([80, 81, 82, 9090, 'foo']), ['foo', '80:82', 9090]);
  assert.deepEqual(simplifyPorts([90, 80, 'b', 'a']), ['b', 'a', 80, 90]);
  assert.deepEqual(simplifyPorts([5, '1:3', 4]), ['1:5']);
  assert.deepEqual(simplifyPorts(['3:5', '1:2']), ['1:5']);
  assert.deepEqual(simplifyPorts(['10:20', 15, '18:25']), ['10:25']);
});

test('SimplifyPorts absorbs duplicate ports into one', () => {
  assert.deepEqual(simplifyPorts([22, 22]), [22]);
  assert.deepEqual(simplifyPorts([22, 'ssh', 22, 23]), ['ssh', '22:23']);
});

test('a Kubernetes rule with one numeric and one named port keeps their order in dst_ports', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {}, ingress: [{ ports: [{ port: 8443 }, { port: 'metrics' }] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.inbound_rules, [{ action: 'allow', protocol: 'tcp', dst_ports: [8443, 'metrics'] }]);
});

test('egress rules go to the destination with the peer fields and keep the Egress type', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {}, policyTypes: ['Egress', 'Ingress'],
    egress: [{ to: [{ ipBlock: { cidr: '1.2.3.4/32' } }], ports: [{ port: 443 }] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.outbound_rules, [{ action: 'allow', protocol: 'tcp', dst_nets: ['1.2.3.4/32'], dst_ports: [443] }]);
  assert.deepEqual(value.types, ['ingress', 'egress']);
});

test('a rule with an invalid ipBlock is dropped and the rest of the policy kept', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'bogus' } }] }, { from: [] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.inbound_rules, [{ action: 'allow' }]);
});

test('an egress-only policy with ports and no peers converts as libcalico-go expects (np1 vector)', () => {
  assertKVs(convert(KINDS.k8sNetworkPolicies, knp('default', 'test.policy', {
    podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 80 }] }],
  })), [{ key: '/calico/v1/policy/tier/default/policy/default%2fknp.default.test.policy', value: {
    namespace: 'default', order: 1000,
    outbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: [80] }],
    selector: "(projectcalico.org/orchestrator == 'k8s') && projectcalico.org/namespace == 'default'",
    apply_on_forward: true, types: ['egress'],
  } }]);
});

// Vectors worked out from libcalico-go e9d17133 conversion.go k8sRuleToCalico and
// k8sProtocolToCalico (numorstring.ProtocolFromString matches names case-insensitively).
test('port protocols are matched case-insensitively, so tcp and TCP share one rule, and sorted by canonical name', () => {
  const value = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', {
    podSelector: {}, ingress: [{ ports: [{ protocol: 'udp', port: 53 }, { protocol: 'tcp', port: 80 }, { protocol: 'TCP', port: 81 }, { protocol: 'Sctp', port: 9 }] }],
  }))).value as Record<string, any>;
  assert.deepEqual(value.inbound_rules, [
    { action: 'allow', protocol: 'sctp', dst_ports: [9] },
    { action: 'allow', protocol: 'tcp', dst_ports: ['80:81'] },
    { action: 'allow', protocol: 'udp', dst_ports: [53] },
  ]);
});

test('an empty port protocol is not defaulted to TCP, so its ports lack a protocol and the policy is rejected', () => {
  // Go keeps the empty protocol (the default applies only to a nil one); the resulting v1 rule
  // has ports without a protocol, which Typha's v1 validator (validateBackendRule) rejects.
  const kv = only(convert(KINDS.k8sNetworkPolicies, knp('n', 'p', { podSelector: {}, ingress: [{ ports: [{ protocol: '', port: 80 }] }] })));
  assert.equal(kv.value, null);
  assert.match(kv.error ?? '', /ports are only allowed/);
});

/** SimplifyPorts exactly as Go runs it: every range expanded into its numbers, sorted, re-merged. */
function goSimplifyPorts(ports: readonly (number | string)[]): (number | string)[] {
  if (ports.length <= 1) return [...ports];
  const out: (number | string)[] = [];
  const numbers: number[] = [];
  for (const p of ports) {
    if (typeof p === 'number') numbers.push(p);
    else if (/^\d+:\d+$/.test(p)) {
      const [lo, hi] = p.split(':').map(Number) as [number, number];
      for (let n = lo; n <= hi; n++) numbers.push(n);
    } else out.push(p);
  }
  if (numbers.length <= 1) return [...ports];
  numbers.sort((a, b) => a - b);
  for (let i = 0; i < numbers.length;) {
    const first = numbers[i] as number;
    let last = first;
    for (i++; i < numbers.length && (numbers[i] as number) <= last + 1; i++) last = numbers[i] as number;
    out.push(first === last ? first : `${first}:${last}`);
  }
  return out;
}

test('SimplifyPorts gives what Go\'s expand-sort-merge gives on 5,000 random lists of ports, ranges and names', () => {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 5000; i++) {
    const ports = Array.from({ length: rnd(6) }, (): number | string => {
      const lo = 1 + rnd(30);
      return [() => lo, () => `${lo}:${lo + rnd(8)}`, () => ['http', 'dns', 'x'][rnd(3)] as string][rnd(3)]!();
    });
    assert.deepEqual(simplifyPorts(ports), goSimplifyPorts(ports), JSON.stringify(ports));
  }
});

test('a NetworkPolicy of 3,000 full-range ports (port 1, endPort 65535) converts at once, without expanding the ranges', () => {
  const started = performance.now();
  const kvs = convert(KINDS.k8sNetworkPolicies, knp('ns', 'wide', {
    podSelector: {}, ingress: [{ ports: Array.from({ length: 3000 }, () => ({ port: 1, endPort: 65535 })) }],
  }));
  assert.deepEqual((only(kvs).value as { inbound_rules: unknown }).inbound_rules, [{ action: 'allow', protocol: 'tcp', dst_ports: ['1:65535'] }]);
  // Expanding would be 196 million numbers (gigabytes and minutes); merging ranges takes milliseconds.
  assert.ok(performance.now() - started < 10_000, `${performance.now() - started} ms`);
});
