import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS, assertKVs, convert } from './support.ts';

test('an IPAM block becomes a BlockKey with its allocation block', () => {
  assertKVs(convert(KINDS.ipamBlocks, {
    metadata: { name: '10-0-0-0-26' },
    spec: { cidr: '10.0.0.0/26', affinity: 'host:node1', strictAffinity: false, allocations: [0, null, 1], unallocated: [2, 3],
      attributes: [{ handle_id: 'k8s-pod-network.abc', secondary: { node: 'node1', pod: 'p', namespace: 'default' } }, { handle_id: 'ipip-tunnel-addr-node1', secondary: null }],
      deleted: false },
  }), [{ key: '/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26', value: {
    cidr: '10.0.0.0/26', affinity: 'host:node1', allocations: [0, null, 1], unallocated: [2, 3],
    attributes: [{ handle_id: 'k8s-pod-network.abc', secondary: { namespace: 'default', node: 'node1', pod: 'p' } }, { handle_id: 'ipip-tunnel-addr-node1', secondary: null }],
    deleted: false,
  } }]);
});

test('block affinities become BlockAffinityKeys for the bgp syncer, with the string deleted flag parsed', () => {
  assertKVs(convert(KINDS.blockAffinities, { metadata: { name: 'node1-10-0-0-0-26' }, spec: { state: 'confirmed', node: 'node1', cidr: '10.0.0.0/26', deleted: 'false' } }, 'bgp'), [
    { key: '/calico/ipam/v2/host/node1/ipv4/block/10.0.0.0-26', value: { state: 'confirmed', deleted: false } },
  ]);
  assertKVs(convert(KINDS.blockAffinities, { metadata: { name: 'x' }, spec: { state: 'pendingDeletion', node: 'n2', cidr: 'fd00::/122', deleted: 'true' } }, 'bgp'), [
    { key: '/calico/ipam/v2/host/n2/ipv6/block/fd00::-122', value: { state: 'pendingDeletion', deleted: true } },
  ]);
  assertKVs(convert(KINDS.blockAffinities, { metadata: { name: 'y' }, spec: { state: '', node: 'n3', cidr: '10.0.1.0/26', deleted: '' } }, 'bgp'), [
    { key: '/calico/ipam/v2/host/n3/ipv4/block/10.0.1.0-26', value: { state: '', deleted: false } },
  ]);
});

test('a block affinity without a node cannot name a key', () => {
  assert.throws(() => convert(KINDS.blockAffinities, { metadata: { name: 'z' }, spec: { cidr: '10.0.0.0/26' } }, 'bgp'), /spec.node/);
});
