import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert } from './support.ts';

const pool = (name: string, spec: object): object => ({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec });

test('the docs pool my.ippool-1 gives a cross-subnet IPIP pool key', () => {
  assertKVs(convert(KINDS.ipPools, pool('my.ippool-1', { cidr: '10.1.0.0/16', ipipMode: 'CrossSubnet', natOutgoing: true, disabled: false, nodeSelector: 'all()' })), [
    { key: '/calico/v1/ipam/v4/pool/10.1.0.0-16', value: { cidr: '10.1.0.0/16', ipip: 'tunl0', ipip_mode: 'cross-subnet', vxlan_mode: '', masquerade: true, ipam: true, disabled: false } },
  ]);
});

test('an IPv6 VXLAN pool is keyed by its masked CIDR', () => {
  assertKVs(convert(KINDS.ipPools, pool('v6', { cidr: 'fd00:0::1/122', vxlanMode: 'Always', disabled: true })), [
    { key: '/calico/v1/ipam/v6/pool/fd00::-122', value: { cidr: 'fd00::/122', ipip: '', ipip_mode: '', vxlan_mode: 'always', masquerade: false, ipam: false, disabled: true } },
  ]);
});

test('legacy ipip and nat-outgoing fields are upgraded', () => {
  assertKVs(convert(KINDS.ipPools, pool('old', { cidr: '10.2.0.0/16', ipip: { enabled: true, mode: 'cross-subnet' }, 'nat-outgoing': true })), [
    { key: '/calico/v1/ipam/v4/pool/10.2.0.0-16', value: { cidr: '10.2.0.0/16', ipip: 'tunl0', ipip_mode: 'cross-subnet', vxlan_mode: '', masquerade: true, ipam: true, disabled: false } },
  ]);
  const alwaysPool = convert(KINDS.ipPools, pool('old2', { cidr: '10.3.0.0/16', ipip: { enabled: true } }));
  assert.equal((alwaysPool[0]?.value as any).ipip_mode, 'always');
});

test('invalid pools become null with an error; a pool without a CIDR throws', () => {
  assertError(convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' })), '/calico/v1/ipam/v4/pool/10.0.0.0-16', /both/);
  assertError(convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.0/16', ipipMode: 'Sometimes' })), '/calico/v1/ipam/v4/pool/10.0.0.0-16', /ipipMode/);
  assertError(convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.0/16', blockSize: 8 })), '/calico/v1/ipam/v4/pool/10.0.0.0-16', /blockSize/);
  assert.throws(() => convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.300/16' })), /CIDR/);
  assert.throws(() => convert(KINDS.ipPools, pool('p', {})), /CIDR/);
});

test('every syncer type that reads pools gets the same pool key', () => {
  for (const syncer of ['felix', 'bgp', 'tunnel-ip-allocation'] as const) {
    assert.equal(convert(KINDS.ipPools, pool('p', { cidr: '10.9.0.0/16' }), syncer)[0]?.key, '/calico/v1/ipam/v4/pool/10.9.0.0-16');
  }
});
