import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert } from './support.ts';

test('the docs host endpoint some.name converts with split addresses and lower-case port protocols', () => {
  assertKVs(convert(KINDS.hostEndpoints, {
    metadata: { name: 'some.name', labels: { type: 'production' } },
    spec: {
      interfaceName: 'eth0', node: 'myhost', expectedIPs: ['192.168.0.1', '192.168.0.2', '2001:DB8::1'], profiles: ['profile1', 'profile2'],
      ports: [{ name: 'some-port', port: 1234, protocol: 'TCP' }, { name: 'another-port', port: 5432, protocol: 'UDP' }],
    },
  }), [{ key: '/calico/v1/host/myhost/endpoint/some.name', value: {
    name: 'eth0', expected_ipv4_addrs: ['192.168.0.1', '192.168.0.2'], expected_ipv6_addrs: ['2001:db8::1'],
    labels: { type: 'production' }, profile_ids: ['profile1', 'profile2'],
    ports: [{ name: 'some-port', protocol: 'tcp', port: 1234 }, { name: 'another-port', protocol: 'udp', port: 5432 }],
  } }]);
});

test('a host endpoint needs an interface or expected IPs', () => {
  assertError(convert(KINDS.hostEndpoints, { metadata: { name: 'h' }, spec: { node: 'n' } }), '/calico/v1/host/n/endpoint/h', /interfaceName/);
});

test('a host endpoint without a node cannot name its key', () => {
  assert.throws(() => convert(KINDS.hostEndpoints, { metadata: { name: 'h' }, spec: { interfaceName: 'eth0' } }), /spec.node/);
});
