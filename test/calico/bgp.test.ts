import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert } from './support.ts';

test('a BGPPeer passes through as a v3 resource with maxRestartTime printed as Go does (120s → 2m0s)', () => {
  assertKVs(convert(KINDS.bgpPeers, {
    apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer',
    metadata: { name: 'peer-1', resourceVersion: '55', uid: 'p-uid', generation: 2, creationTimestamp: '2021-06-01T00:00:00Z' },
    spec: { maxRestartTime: '120s', sourceAddress: 'None', asNumber: 64512, peerIP: '10.192.0.4:166', keepOriginalNextHop: true, unknownField: 1 },
  }, 'bgp'), [{ key: '/calico/resources/v3/projectcalico.org/bgppeers/peer-1', value: {
    kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'peer-1', uid: 'p-uid', generation: 2, creationTimestamp: '2021-06-01T00:00:00Z' },
    spec: { peerIP: '10.192.0.4:166', asNumber: 64512, keepOriginalNextHop: true, sourceAddress: 'None', maxRestartTime: '2m0s' },
  } }]);
});

test('the confd maxRestartTime 10s vector keeps 10s', () => {
  const kvs = convert(KINDS.bgpPeers, { metadata: { name: 'p' }, spec: { peerIP: '[fd00::1]:179', maxRestartTime: '10s', node: 'n', password: { secretKeyRef: { name: 's', key: 'k' } } } }, 'bgp');
  assertKVs(kvs, [{ key: '/calico/resources/v3/projectcalico.org/bgppeers/p', value: {
    kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p', creationTimestamp: null },
    spec: { node: 'n', peerIP: '[fd00::1]:179', password: { secretKeyRef: { name: 's', key: 'k' } }, maxRestartTime: '10s' },
  } }]);
});

test('an invalid BGPPeer becomes null with an error', () => {
  const key = '/calico/resources/v3/projectcalico.org/bgppeers/p';
  assertError(convert(KINDS.bgpPeers, { metadata: { name: 'p' }, spec: { maxRestartTime: 'two minutes' } }, 'bgp'), key, /duration/);
  assertError(convert(KINDS.bgpPeers, { metadata: { name: 'p' }, spec: { peerIP: '10.0.0' } }, 'bgp'), key, /peerIP/);
  assertError(convert(KINDS.bgpPeers, { metadata: { name: 'p' }, spec: { nodeSelector: 'a ==' } }, 'bgp'), key, /selector/);
});

test('the docs BGPConfiguration passes through in Go field order for felix and bgp', () => {
  for (const syncer of ['felix', 'bgp'] as const) {
    assertKVs(convert(KINDS.bgpConfigurations, {
      apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration',
      metadata: { name: 'default', resourceVersion: '1', annotations: { 'projectcalico.org/metadata': '{"creationTimestamp":"2020-01-01T00:00:00Z"}' } },
      spec: {
        listenPort: 178, prefixAdvertisements: [{ cidr: '172.218.4.0/26', communities: ['100:200'] }],
        communities: [{ name: 'bgp-large-community', value: '63400:300:100' }],
        serviceExternalIPs: [{ cidr: '104.244.42.129/32' }], serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
        asNumber: 63400, nodeToNodeMeshEnabled: false, logSeverityScreen: 'Info',
      },
    }, syncer), [{ key: '/calico/resources/v3/projectcalico.org/bgpconfigurations/default', value: {
      kind: 'BGPConfiguration', apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'default', creationTimestamp: '2020-01-01T00:00:00Z' },
      spec: {
        logSeverityScreen: 'Info', nodeToNodeMeshEnabled: false, asNumber: 63400,
        serviceExternalIPs: [{ cidr: '104.244.42.129/32' }], serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
        communities: [{ name: 'bgp-large-community', value: '63400:300:100' }],
        prefixAdvertisements: [{ cidr: '172.218.4.0/26', communities: ['100:200'] }],
        listenPort: 178,
      },
    } }]);
  }
});
