import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrForKey, escapeName, policyKey, resourceKey, unescapeName, workloadEndpointKey } from '../../src/calico/keys.ts';
import { canonicalCIDR, canonicalCIDROrIP, formatIP, parseIP } from '../../src/calico/net.ts';

test('names escape % before / so escaping round-trips', () => {
  assert.equal(escapeName('a%2fb/c'), 'a%252fb%2fc');
  assert.equal(unescapeName(escapeName('a%2fb/c')), 'a%2fb/c');
  assert.equal(policyKey('ns/knp.default.p'), '/calico/v1/policy/tier/default/policy/ns%2fknp.default.p');
});

test('workload keys escape the workload id but not the hostname', () => {
  assert.equal(workloadEndpointKey('node/1', 'k8s', 'ns/pod', 'eth0'), '/calico/v1/host/node/1/workload/k8s/ns%2fpod/endpoint/eth0');
});

test('resource keys use the raw plural, namespace and name', () => {
  assert.equal(resourceKey('nodes', 'n1'), '/calico/resources/v3/projectcalico.org/nodes/n1');
  assert.equal(resourceKey('kubernetesendpointslices', 's', 'ns'), '/calico/resources/v3/projectcalico.org/kubernetesendpointslices/ns/s');
});

test('IPv6 addresses print in Go form', () => {
  const show = (s: string): string => formatIP(parseIP(s) ?? assert.fail(s));
  assert.equal(show('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(show('0:0:0:0:0:0:0:0'), '::');
  assert.equal(show('fd00:0:0:0:0:0:0:1'), 'fd00::1');
  assert.equal(show('1:0:1:0:1:0:1:0'), '1:0:1:0:1:0:1:0');
  // IPv4-compatible (not mapped) addresses stay IPv6, as in Go's IP.String().
  assert.equal(show('::1.2.3.4'), '::102:304');
});

test('CIDRs are masked and bare IPs become full-length networks', () => {
  assert.equal(canonicalCIDR('10.1.2.3/16'), '10.1.0.0/16');
  assert.equal(canonicalCIDR('10.1.2.3'), undefined);
  assert.equal(canonicalCIDROrIP('fd00::5'), 'fd00::5/128');
  assert.equal(canonicalCIDROrIP('10.0.0.0/40'), undefined);
  assert.throws(() => cidrForKey('nope', 'pool'), /pool "nope"/);
});
