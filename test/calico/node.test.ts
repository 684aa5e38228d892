import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseASNumber } from '../../src/calico/node.ts';
import { KINDS, assertKVs, convert, only, valueOf } from './support.ts';

const k8sNode = {
  apiVersion: 'v1', kind: 'Node',
  metadata: {
    name: 'node1', uid: 'n-uid', resourceVersion: '123', creationTimestamp: '2021-06-01T00:00:00Z',
    labels: { 'kubernetes.io/hostname': 'node1', 'a&b': '<x>' },
    annotations: {
      'projectcalico.org/IPv4Address': '10.0.0.1/24',
      'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.0.1',
      'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.1.1',
      'projectcalico.org/VXLANTunnelMACAddr': '66:AA:BB:CC:DD:EE',
      'projectcalico.org/ASNumber': '1.10',
      'projectcalico.org/IPv4WireguardInterfaceAddr': '192.168.2.1',
      'projectcalico.org/WireguardPublicKey': 'jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY=',
      'projectcalico.org/labels': '{"calico-only":"yes"}',
      'node.alpha.kubernetes.io/ttl': '0',
    },
  },
  spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
  status: { addresses: [{ type: 'InternalIP', address: '172.16.0.1' }, { type: 'Hostname', address: 'node1' }, { type: 'ExternalIP', address: '1.2.3.4' }] },
};

const expectedV3 = {
  kind: 'Node', apiVersion: 'projectcalico.org/v3',
  metadata: {
    name: 'node1', uid: 'n-uid', creationTimestamp: '2021-06-01T00:00:00Z',
    labels: { 'a&b': '<x>', 'calico-only': 'yes', 'kubernetes.io/hostname': 'node1' },
    annotations: { 'projectcalico.org/kube-labels': '{"a\\u0026b":"\\u003cx\\u003e","kubernetes.io/hostname":"node1"}' },
  },
  spec: {
    bgp: { asNumber: 65546, ipv4Address: '10.0.0.1/24', ipv4IPIPTunnelAddr: '192.168.0.1' },
    ipv4VXLANTunnelAddr: '192.168.1.1',
    vxlanTunnelMACAddr: '66:AA:BB:CC:DD:EE',
    orchRefs: [{ nodeName: 'node1', orchestrator: 'k8s' }],
    wireguard: { interfaceIPv4Address: '192.168.2.1' },
    addresses: [
      { address: '10.0.0.1/24', type: 'CalicoNodeIP' }, { address: '172.16.0.1', type: 'InternalIP' }, { address: '1.2.3.4', type: 'ExternalIP' },
    ],
  },
  status: { wireguardPublicKey: 'jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY=', podCIDRs: ['10.244.0.0/24'] },
};

test('a Kubernetes node gives felix its host IP, tunnel config, v3 Node and wireguard keys', () => {
  assertKVs(convert(KINDS.nodes, k8sNode), [
    { key: '/calico/v1/host/node1/bird_ip', value: '10.0.0.1' },
    { key: '/calico/v1/host/node1/config/IpInIpTunnelAddr', value: '192.168.0.1' },
    { key: '/calico/v1/host/node1/config/IPv4VXLANTunnelAddr', value: '192.168.1.1' },
    { key: '/calico/v1/host/node1/config/VXLANTunnelMACAddr', value: '66:AA:BB:CC:DD:EE' },
    { key: '/calico/resources/v3/projectcalico.org/nodes/node1', value: expectedV3 },
    { key: '/calico/v1/host/node1/wireguard', value: { interfaceIPv4Addr: '192.168.2.1', publicKey: 'jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY=' } },
  ]);
});

test('the bgp and tunnel-ip-allocation syncers get only the v3 Node', () => {
  for (const syncer of ['bgp', 'tunnel-ip-allocation'] as const) {
    assertKVs(convert(KINDS.nodes, k8sNode, syncer), [{ key: '/calico/resources/v3/projectcalico.org/nodes/node1', value: expectedV3 }]);
  }
});

test('without a BGP address the host IP falls back to the first internal, then external IPv4 address', () => {
  const plain = { metadata: { name: 'n2' }, status: { addresses: [{ type: 'ExternalIP', address: '1.2.3.4' }, { type: 'InternalIP', address: 'fd00::1' }, { type: 'InternalIP', address: '172.16.0.9' }] } };
  assert.equal(valueOf(convert(KINDS.nodes, plain), '/calico/v1/host/n2/bird_ip'), '172.16.0.9');
  const external = { metadata: { name: 'n3' }, status: { addresses: [{ type: 'ExternalIP', address: '1.2.3.4' }] } };
  assert.equal(valueOf(convert(KINDS.nodes, external), '/calico/v1/host/n3/bird_ip'), '1.2.3.4');
});

test('a bare node gives only its v3 Node, with null kube-labels', () => {
  const kv = only(convert(KINDS.nodes, { metadata: { name: 'bare' } }));
  assert.deepEqual(kv.value, {
    kind: 'Node', apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'bare', creationTimestamp: null, annotations: { 'projectcalico.org/kube-labels': 'null' } },
    spec: { orchRefs: [{ nodeName: 'bare', orchestrator: 'k8s' }] },
    status: {},
  });
});

test('an invalid tunnel address fails the v3 Node but not the other keys', () => {
  const kvs = convert(KINDS.nodes, { metadata: { name: 'n', annotations: { 'projectcalico.org/IPv4VXLANTunnelAddr': 'nope', 'projectcalico.org/IPv4Address': '10.0.0.2/16' } } });
  assert.deepEqual(kvs.map((k) => [k.key, k.value === null]), [
    ['/calico/v1/host/n/bird_ip', false],
    ['/calico/resources/v3/projectcalico.org/nodes/n', true],
  ]);
  assert.match(kvs[1]?.error ?? '', /ipv4VXLANTunnelAddr/);
});

test('AS numbers may be plain or dotted', () => {
  assert.equal(parseASNumber('64512'), 64512);
  assert.equal(parseASNumber('1.10'), 65546);
  assert.equal(parseASNumber('1.70000'), undefined);
  assert.equal(parseASNumber('abc'), undefined);
});
