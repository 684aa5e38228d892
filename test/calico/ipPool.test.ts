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

// Vectors worked out from libcalico-go e9d17133: lib/backend/k8s/resources/ippool.go
// (IPPoolv1v3Converter.ConvertFromK8s) then updateprocessors/ippoolprocessor.go (convertIPPoolV2ToV1).
const KEY = '/calico/v1/ipam/v4/pool/10.0.0.0-16';
const v1Pool = (fields: object): Record<string, unknown> => ({ cidr: '10.0.0.0/16', ipip: '', ipip_mode: '', vxlan_mode: '', masquerade: false, ipam: true, disabled: false, ...fields });
const poolAt = (spec: object): ReturnType<typeof convert> => convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.0/16', ...spec }));

test('a legacy ipip block overrides ipipMode whenever the CRD carries it (ConvertFromK8s)', () => {
  const tunnel = (mode: string): Record<string, unknown> => v1Pool({ ipip: 'tunl0', ipip_mode: mode });
  assertKVs(poolAt({ ipipMode: 'Always', ipip: { enabled: false } }), [{ key: KEY, value: v1Pool({}) }]);
  assertKVs(poolAt({ ipipMode: 'Never', ipip: { enabled: true } }), [{ key: KEY, value: tunnel('always') }]);
  assertKVs(poolAt({ ipipMode: 'CrossSubnet', ipip: { enabled: true, mode: 'always' } }), [{ key: KEY, value: tunnel('always') }]);
  assertKVs(poolAt({ ipipMode: 'Always', ipip: { enabled: true, mode: 'cross-subnet' } }), [{ key: KEY, value: tunnel('cross-subnet') }]);
  assertKVs(poolAt({ ipip: { enabled: true, mode: 'CrossSubnet' } }), [{ key: KEY, value: tunnel('always') }]);
  assertKVs(poolAt({ ipipMode: 'CrossSubnet', ipip: {} }), [{ key: KEY, value: v1Pool({}) }]);
  assertKVs(poolAt({ ipipMode: 'CrossSubnet', ipip: null }), [{ key: KEY, value: tunnel('cross-subnet') }]);
});

test('natOutgoing is the v3 flag ORed with the legacy nat-outgoing (ConvertFromK8s)', () => {
  assertKVs(poolAt({ natOutgoing: false, 'nat-outgoing': true }), [{ key: KEY, value: v1Pool({ masquerade: true }) }]);
  assertKVs(poolAt({ natOutgoing: true, 'nat-outgoing': false }), [{ key: KEY, value: v1Pool({ masquerade: true }) }]);
});

test('an encapsulation mode the Go switches do not name is off, and the switches are case-sensitive', () => {
  assertKVs(poolAt({ ipipMode: 'Sometimes', vxlanMode: 'always' }), [{ key: KEY, value: v1Pool({}) }]);
  assertKVs(poolAt({ ipipMode: 'Never', vxlanMode: 'Never' }), [{ key: KEY, value: v1Pool({}) }]);
});

test('IPIP and VXLAN both on, IPIP on IPv6, and any blockSize or nodeSelector pass through as Go writes them', () => {
  assertKVs(poolAt({ ipipMode: 'Always', vxlanMode: 'CrossSubnet', blockSize: 8, nodeSelector: 'a ==' }) as any,
    [{ key: KEY, value: v1Pool({ ipip: 'tunl0', ipip_mode: 'always', vxlan_mode: 'cross-subnet' }) }]);
  assertKVs(convert(KINDS.ipPools, pool('v6', { cidr: 'fd00::/120', ipipMode: 'Always' })), [
    { key: '/calico/v1/ipam/v6/pool/fd00::-120', value: { cidr: 'fd00::/120', ipip: 'tunl0', ipip_mode: 'always', vxlan_mode: '', masquerade: false, ipam: true, disabled: false } },
  ]);
});

test('disabled turns IPAM off; the CIDR is masked (cnet.ParseCIDR)', () => {
  assertKVs(convert(KINDS.ipPools, pool('p', { cidr: '10.0.7.9/16', disabled: true })), [{ key: KEY, value: v1Pool({ ipam: false, disabled: true }) }]);
});

test('a wrongly typed field is an error on the pool key; a pool without a CIDR, or with a bare IP, names no key', () => {
  assertError(poolAt({ ipipMode: 5 }), KEY, /ipipMode/);
  assertError(poolAt({ ipip: 'yes' }), KEY, /spec.ipip/);
  assertError(poolAt({ ipip: { enabled: 'yes' } }), KEY, /spec.ipip.enabled/);
  assert.throws(() => convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.300/16' })), /CIDR/);
  assert.throws(() => convert(KINDS.ipPools, pool('p', { cidr: '10.0.0.1' })), /CIDR/);
  assert.throws(() => convert(KINDS.ipPools, pool('p', {})), /CIDR/);
});

test('every syncer type that reads pools gets the same pool key', () => {
  for (const syncer of ['felix', 'bgp', 'tunnel-ip-allocation'] as const) {
    assert.equal(convert(KINDS.ipPools, pool('p', { cidr: '10.9.0.0/16' }), syncer)[0]?.key, '/calico/v1/ipam/v4/pool/10.9.0.0-16');
  }
});
