import { test } from 'node:test';
import { KINDS, assertKVs, convert } from './support.ts';

test('a discovery/v1 EndpointSlice is served in the v1beta1 shape without resourceVersion', () => {
  assertKVs(convert(KINDS.endpointSlices, {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', resourceVersion: '200', labels: { 'kubernetes.io/service-name': 'kubernetes' }, generation: 1 },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['172.18.0.2'], conditions: { ready: true }, nodeName: 'kind-control-plane', zone: 'z1', targetRef: { name: 'p', kind: 'Pod', namespace: 'default' } }],
    ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
  }), [{ key: '/calico/resources/v3/projectcalico.org/kubernetesendpointslices/default/kubernetes', value: {
    metadata: { name: 'kubernetes', namespace: 'default', generation: 1, creationTimestamp: null, labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{
      addresses: ['172.18.0.2'], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'default', name: 'p' },
      topology: { 'kubernetes.io/hostname': 'kind-control-plane', 'topology.kubernetes.io/zone': 'z1' }, nodeName: 'kind-control-plane',
    }],
    ports: [{ name: 'https', protocol: 'TCP', port: 6443 }],
  } }]);
});

test('an EndpointSlice without endpoints or ports carries null lists', () => {
  assertKVs(convert(KINDS.endpointSlices, { metadata: { name: 's', namespace: 'n' }, addressType: 'IPv6' }), [
    { key: '/calico/resources/v3/projectcalico.org/kubernetesendpointslices/n/s', value: { metadata: { name: 's', namespace: 'n', creationTimestamp: null }, addressType: 'IPv6', endpoints: null, ports: null } },
  ]);
});
