import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert } from './support.ts';

test('a namespaced network set gains the namespace label and the namespace profile', () => {
  assertKVs(convert(KINDS.networkSets, { metadata: { name: 'external-database', namespace: 'staging', labels: { role: 'db' } }, spec: { nets: ['198.51.100.0/28', '203.0.113.5'] } }), [
    { key: '/calico/v1/netset/staging%2fexternal-database', value: {
      nets: ['198.51.100.0/28', '203.0.113.5/32'], labels: { 'projectcalico.org/namespace': 'staging', role: 'db' }, profile_ids: ['kns.staging'],
    } },
  ]);
});

test('a global network set has nets and labels only', () => {
  assertKVs(convert(KINDS.globalNetworkSets, { metadata: { name: 'a-name-for-the-set', labels: { role: 'external-database' } }, spec: { nets: ['198.51.100.0/28'] } }), [
    { key: '/calico/v1/netset/a-name-for-the-set', value: { nets: ['198.51.100.0/28'], labels: { role: 'external-database' } } },
  ]);
  assertKVs(convert(KINDS.globalNetworkSets, { metadata: { name: 'empty' } }), [{ key: '/calico/v1/netset/empty', value: {} }]);
});

// Vectors worked out from libcalico-go e9d17133 updateprocessors/globalnetworksetprocessor.go
// (convertGlobalNetworkSetV3ToV1) and networksetprocessor.go (convertNetworkSetV2ToV1Value).
test('a global network set skips a net that does not parse and keeps the rest, masked', () => {
  assertKVs(convert(KINDS.globalNetworkSets, { metadata: { name: 's' }, spec: { nets: ['300.0.0.0/8', '10.1.2.3/16', 'x', 'fd00::7'] } }), [
    { key: '/calico/v1/netset/s', value: { nets: ['10.1.0.0/16', 'fd00::7/128'] } },
  ]);
});

test('a global network set whose nets all fail to parse has no nets field (omitempty on a nil slice)', () => {
  assertKVs(convert(KINDS.globalNetworkSets, { metadata: { name: 's', labels: { a: 'b' } }, spec: { nets: ['bogus'] } }), [
    { key: '/calico/v1/netset/s', value: { labels: { a: 'b' } } },
  ]);
});

test('a namespaced network set with a net that does not parse is an error (Go would dereference nil and panic)', () => {
  assertError(convert(KINDS.networkSets, { metadata: { name: 's', namespace: 'n' }, spec: { nets: ['10.0.0.0/8', '300.0.0.0/8'] } }), '/calico/v1/netset/n%2fs', /spec.nets\[1\]/);
});

test('a wrongly typed nets field is an error for either kind', () => {
  assertError(convert(KINDS.networkSets, { metadata: { name: 's', namespace: 'n' }, spec: { nets: 'x' } }), '/calico/v1/netset/n%2fs', /list/);
  assertError(convert(KINDS.globalNetworkSets, { metadata: { name: 's' }, spec: { nets: [7] } }), '/calico/v1/netset/s', /string/);
});
