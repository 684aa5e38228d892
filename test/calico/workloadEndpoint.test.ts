import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interfaceName, isFinished, podIPs, v3WorkloadEndpointLabels, workloadEndpointName } from '../../src/calico/workloadEndpoint.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { KINDS, assertError, assertKVs, convert, only } from './support.ts';

const NGINX_KEY = '/calico/v1/host/node1/workload/k8s/default%2fnginx/endpoint/eth0';

function pod(overrides: { metadata?: object; spec?: object; status?: object } = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'nginx', namespace: 'default', resourceVersion: '42', labels: { app: 'nginx' }, ...overrides.metadata },
    spec: { nodeName: 'node1', serviceAccountName: 'default', ...overrides.spec },
    status: { podIP: '10.244.1.5', phase: 'Running', ...overrides.status },
  };
}

test('a pod in default named podA gets interface cali7f94ce7c295', () => {
  assert.equal(interfaceName('default', 'podA'), 'cali7f94ce7c295');
});

test('the v3 endpoint name doubles every dash in each segment', () => {
  assert.equal(workloadEndpointName('node-1', 'my-pod'), 'node--1-k8s-my--pod-eth0');
});

test('the reference nginx pod converts to the exact v1 workload endpoint bytes', () => {
  const kv = only(convert(KINDS.pods, pod()));
  assert.equal(kv.key, NGINX_KEY);
  assert.equal(JSON.stringify(kv.value),
    '{"state":"active","name":"calic440f455693","active_instance_id":"","mac":null,"profile_ids":["kns.default","ksa.default.default"],"ipv4_nets":["10.244.1.5/32"],"ipv6_nets":null,"labels":{"app":"nginx","projectcalico.org/namespace":"default","projectcalico.org/orchestrator":"k8s","projectcalico.org/serviceaccount":"default"}}');
});

test('host-network pods produce no keys', () => {
  assert.deepEqual(convert(KINDS.pods, pod({ spec: { hostNetwork: true } })), []);
});

test('unscheduled pods produce no keys', () => {
  assert.deepEqual(convert(KINDS.pods, pod({ spec: { nodeName: '' } })), []);
  assert.deepEqual(convert(KINDS.pods, pod({ spec: { nodeName: undefined } })), []);
});

test('succeeded, failed and completed pods produce no keys', () => {
  for (const phase of ['Succeeded', 'Failed', 'Completed']) {
    assert.deepEqual(convert(KINDS.pods, pod({ status: { phase } })), [], phase);
  }
});

test('a pod without any IP yet produces no keys', () => {
  assert.deepEqual(convert(KINDS.pods, pod({ status: { podIP: undefined } })), []);
});

test('#1446: a terminating pod whose Calico podIP annotation is empty is finished', () => {
  const terminating = pod({ metadata: { deletionTimestamp: '2021-06-01T00:00:00Z', annotations: { 'cni.projectcalico.org/podIP': '' } } });
  assert.equal(isFinished(terminating as unknown as RawObject), true);
  assert.deepEqual(convert(KINDS.pods, terminating), []);
});

test('#1446: a terminating pod without the Calico annotation keeps its IPs during the grace period', () => {
  const terminating = pod({ metadata: { deletionTimestamp: '2021-06-01T00:00:00Z' } });
  assert.equal(isFinished(terminating as unknown as RawObject), false);
  assert.equal(only(convert(KINDS.pods, terminating)).key, NGINX_KEY);
});

test('#1446: a terminating pod with a non-empty Calico annotation falls back to its phase', () => {
  const running = pod({ metadata: { deletionTimestamp: 'x', annotations: { 'cni.projectcalico.org/podIP': '10.244.1.5/32' } } });
  assert.equal(isFinished(running as unknown as RawObject), false);
  const done = pod({ metadata: { deletionTimestamp: 'x', annotations: { 'cni.projectcalico.org/podIP': '10.244.1.5/32' } }, status: { phase: 'Succeeded' } });
  assert.equal(isFinished(done as unknown as RawObject), true);
});

test('an empty podIP annotation does not finish a pod that is not being deleted', () => {
  const p = pod({ metadata: { annotations: { 'cni.projectcalico.org/podIP': '' } } });
  assert.equal(isFinished(p as unknown as RawObject), false);
});

test('pod IPs come from status.podIPs first, then status.podIP, then the podIPs and podIP annotations', () => {
  const ips = (p: Record<string, unknown>): string[] => podIPs(p as unknown as RawObject).map((n) => `${n.ip.bytes.join('.')}/${n.prefix}`);
  const annotations = { 'cni.projectcalico.org/podIPs': '10.0.0.3/32,10.0.0.4', 'cni.projectcalico.org/podIP': '10.0.0.5/32' };
  assert.deepEqual(ips(pod({ metadata: { annotations }, status: { podIPs: [{ ip: '10.0.0.1' }], podIP: '10.0.0.2' } })), ['10.0.0.1/32']);
  assert.deepEqual(ips(pod({ metadata: { annotations }, status: { podIP: '10.0.0.2' } })), ['10.0.0.2/32']);
  assert.deepEqual(ips(pod({ metadata: { annotations }, status: { podIP: undefined } })), ['10.0.0.3/32', '10.0.0.4/32']);
  assert.deepEqual(ips(pod({ metadata: { annotations: { 'cni.projectcalico.org/podIP': '10.0.0.5/32' } }, status: { podIP: undefined } })), ['10.0.0.5/32']);
});

test('dual-stack pods split addresses into ipv4_nets and ipv6_nets', () => {
  const value = only(convert(KINDS.pods, pod({ status: { podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00:0:0::1' }] } }))).value as Record<string, unknown>;
  assert.deepEqual(value.ipv4_nets, ['10.0.0.1/32']);
  assert.deepEqual(value.ipv6_nets, ['fd00::1/128']);
});

test('a malformed pod IP is a validation error on the endpoint key', () => {
  assertError(convert(KINDS.pods, pod({ status: { podIP: '10.0.0.999' } })), NGINX_KEY, /not a valid IP/);
});

test('#1422: a 63-character service account keeps its full name in the v1 label and profile', () => {
  const sa = 'a'.repeat(63);
  const p = pod({ spec: { serviceAccountName: sa } });
  const value = only(convert(KINDS.pods, p)).value as Record<string, any>;
  assert.equal(value.labels['projectcalico.org/serviceaccount'], sa);
  assert.deepEqual(value.profile_ids, ['kns.default', `ksa.default.${sa}`]);
  assert.equal(v3WorkloadEndpointLabels(p as unknown as RawObject)['projectcalico.org/serviceaccount'], undefined);
});

test('#1422: a 62-character service account is also labelled on the v3 endpoint', () => {
  const sa = 'b'.repeat(62);
  assert.equal(v3WorkloadEndpointLabels(pod({ spec: { serviceAccountName: sa } }) as unknown as RawObject)['projectcalico.org/serviceaccount'], sa);
});

test('a pod without a service account has only the namespace profile and no service-account label', () => {
  const value = only(convert(KINDS.pods, pod({ spec: { serviceAccountName: undefined } }))).value as Record<string, any>;
  assert.deepEqual(value.profile_ids, ['kns.default']);
  assert.equal('projectcalico.org/serviceaccount' in value.labels, false);
});

test('pod labels cannot fake profile labels with the pcns. or pcsa. prefixes', () => {
  const value = only(convert(KINDS.pods, pod({ metadata: { labels: { 'pcns.x': '1', 'pcsa.y': '2', z: '3' } } }))).value as Record<string, any>;
  assert.deepEqual(Object.keys(value.labels), ['projectcalico.org/namespace', 'projectcalico.org/orchestrator', 'projectcalico.org/serviceaccount', 'z']);
});

test('named container ports become v1 ports with lower-case protocols; unnamed ones are dropped', () => {
  const containers = [{ ports: [
    { name: 'http', containerPort: 80 }, { name: 'dns', containerPort: 53, protocol: 'UDP' },
    { containerPort: 8080 }, { name: 'sctp', containerPort: 9, protocol: 'SCTP' },
  ] }];
  const value = only(convert(KINDS.pods, pod({ spec: { containers } }))).value as Record<string, any>;
  assert.deepEqual(value.ports, [
    { name: 'http', protocol: 'tcp', port: 80 }, { name: 'dns', protocol: 'udp', port: 53 }, { name: 'sctp', protocol: 'sctp', port: 9 },
  ]);
});

test('floating IPs become NAT mappings from the pod address; generateName is carried', () => {
  const kvs = convert(KINDS.pods, pod({ metadata: { generateName: 'nginx-5d59d-', annotations: { 'cni.projectcalico.org/floatingIPs': '["1.2.3.4"]' } } }));
  assertKVs(kvs, [{ key: NGINX_KEY, value: {
    state: 'active', name: 'calic440f455693', active_instance_id: '', mac: null,
    profile_ids: ['kns.default', 'ksa.default.default'], ipv4_nets: ['10.244.1.5/32'], ipv6_nets: null,
    ipv4_nat: [{ int_ip: '10.244.1.5', ext_ip: '1.2.3.4' }],
    labels: { app: 'nginx', 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s', 'projectcalico.org/serviceaccount': 'default' },
    generate_name: 'nginx-5d59d-',
  } }]);
});

test('a pod with wrongly typed fields converts without crashing', () => {
  const kvs = convert(KINDS.pods, { metadata: { name: 'p', namespace: 'n', labels: 7 }, spec: { nodeName: 'n1', containers: 'x' }, status: { podIPs: 'x', podIP: '10.0.0.1' } });
  assert.equal(only(kvs).key, '/calico/v1/host/n1/workload/k8s/n%2fp/endpoint/eth0');
});

test('a pod without a namespace cannot name a key and throws', () => {
  assert.throws(() => convert(KINDS.pods, { metadata: { name: 'p' }, spec: { nodeName: 'n1' } }), /namespace/);
});
