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

test('a network set with an invalid net is a validation error', () => {
  assertError(convert(KINDS.globalNetworkSets, { metadata: { name: 's' }, spec: { nets: ['300.0.0.0/8'] } }), '/calico/v1/netset/s', /CIDR/);
  assertError(convert(KINDS.networkSets, { metadata: { name: 's', namespace: 'n' }, spec: { nets: 'x' } }), '/calico/v1/netset/n%2fs', /list/);
});
