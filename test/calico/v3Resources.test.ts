import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { syncerSpecs } from '../../src/calico/index.ts';
import { convertPod } from '../../src/calico/workloadEndpoint.ts';
import { convertNamespace } from '../../src/calico/profiles.ts';
import { convertNodeForFelix } from '../../src/calico/node.ts';
import { convertCalicoNodeForFelix, convertV3Profile, convertV3WorkloadEndpoint, dashSeparatedParts } from '../../src/calico/v3Resources.ts';
import { ETCD_KINDS, KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';

const wep = (spec: Record<string, unknown>, labels: Record<string, string> = {}, name = 'node--1-k8s-web--abc-eth0', namespace = 'shop'): RawObject => ({
  apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name, namespace, labels, generateName: 'web-', resourceVersion: '7' }, spec,
});

describe('v3 WorkloadEndpoint processor', () => {
  test('splits the name at single dashes, a double dash being a dash inside a part', () => {
    assert.deepEqual(dashSeparatedParts('node--1-k8s-web--abc-eth0', 4), ['node-1', 'k8s', 'web-abc', 'eth0']);
    assert.equal(dashSeparatedParts('node-k8s-eth0', 4), undefined);
  });

  test('gives the v1 endpoint of the same pod exactly as the Kubernetes path does', () => {
    const pod: RawObject = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'web-abc', namespace: 'shop', generateName: 'web-', labels: { app: 'web' }, annotations: { 'cni.projectcalico.org/podIP': '10.0.0.5/32' } },
      spec: { nodeName: 'node-1', serviceAccountName: 'web', containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
      status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }] },
    };
    const [fromPod] = convertPod(pod);
    const [fromWep] = convertV3WorkloadEndpoint(wep({
      orchestrator: 'k8s', node: 'node-1', pod: 'web-abc', endpoint: 'eth0', serviceAccountName: 'web', ipNetworks: ['10.0.0.5/32'],
      profiles: ['kns.shop', 'ksa.shop.web'], interfaceName: (fromPod!.value as { name: string }).name,
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    }, { app: 'web', 'projectcalico.org/namespace': 'shop', 'projectcalico.org/orchestrator': 'k8s' }));
    assert.equal(fromWep!.key, '/calico/v1/host/node-1/workload/k8s/shop%2fweb-abc/endpoint/eth0');
    assert.equal(fromWep!.key, fromPod!.key);
    assert.deepEqual(fromWep!.value, fromPod!.value);
  });

  test('converts MAC, gateways and NATs as Go prints them, drops unparsable NATs and the namespace/service-account label prefixes', () => {
    const [kv] = convertV3WorkloadEndpoint(wep({
      ipNetworks: ['10.0.0.5/32', 'fd00::5'], interfaceName: 'cali1', mac: 'AA-BB-CC-DD-EE-FF', ipv4Gateway: '10.0.0.1', profiles: ['p1'],
      ipNATs: [{ internalIP: '10.0.0.5', externalIP: '192.0.2.9' }, { internalIP: 'bogus', externalIP: '192.0.2.10' }],
    }, { app: 'web', 'pcns.fake': 'x', 'pcsa.fake': 'y' }));
    assert.deepEqual(kv!.value, {
      state: 'active', name: 'cali1', active_instance_id: '', mac: 'aa:bb:cc:dd:ee:ff', profile_ids: ['p1'],
      ipv4_nets: ['10.0.0.5/32'], ipv6_nets: ['fd00::5/128'], ipv4_nat: [{ int_ip: '10.0.0.5', ext_ip: '192.0.2.9' }],
      labels: { app: 'web' }, ipv4_gateway: '10.0.0.1', generate_name: 'web-',
    });
  });

  test('an endpoint without networks has no key; a bad network or MAC deletes its key with the reason; a bad name names none', () => {
    assert.deepEqual(convertV3WorkloadEndpoint(wep({ ipNetworks: [] })), []);
    const [bad] = convertV3WorkloadEndpoint(wep({ ipNetworks: ['10.0.0.300'] }));
    assert.equal(bad!.value, null);
    assert.match(bad!.error!, /ipNetworks/);
    assert.match(convertV3WorkloadEndpoint(wep({ ipNetworks: ['10.0.0.1'], mac: 'zz' }))[0]!.error!, /mac/);
    assert.throws(() => convertV3WorkloadEndpoint(wep({ ipNetworks: ['10.0.0.1'] }, {}, 'not-enough')), /does not name/);
  });
});

describe('v3 Profile processor', () => {
  test('a kns. profile as kube-controllers stores it gives the keys the Kubernetes path derives from the Namespace', () => {
    const ns: RawObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } };
    const rule = { action: 'Allow', source: {}, destination: {} };
    const stored: RawObject = {
      apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'kns.shop', resourceVersion: '9' },
      spec: { ingress: [rule], egress: [rule], labelsToApply: { 'pcns.team': 'a', 'pcns.projectcalico.org/name': 'shop' } },
    };
    const byKey = (kvs: readonly { key: string; value: unknown }[]) => new Map(kvs.map((kv) => [kv.key, kv.value]));
    assert.deepEqual(byKey(convertV3Profile(stored)), byKey(convertNamespace(ns)));
  });

  test('rules convert to v1 with their selectors; no rules is an empty rules value; the stored default-allow profile is ignored', () => {
    const kvs = convertV3Profile({
      apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'p' },
      spec: { ingress: [{ action: 'Deny', protocol: 'TCP', source: { selector: "app == 'x'" } }] },
    });
    const rules = kvs.find((kv) => kv.key === '/calico/v1/policy/profile/p/rules')!;
    assert.deepEqual(rules.value, { inbound_rules: [{ action: 'deny', protocol: 'tcp', src_selector: "app == 'x'", orig_src_selector: "app == 'x'" }] });
    assert.equal(kvs.some((kv) => kv.key.endsWith('/labels')), false);
    const empty = convertV3Profile({ apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'q' } });
    assert.deepEqual(empty.find((kv) => kv.key.endsWith('/rules'))!.value, {});
    assert.deepEqual(convertV3Profile({ metadata: { name: 'projectcalico-default-allow' }, spec: {} }), []);
  });

  test('a bad selector deletes the rules key with the reason, never the whole profile silently', () => {
    const kvs = convertV3Profile({ metadata: { name: 'p' }, spec: { ingress: [{ action: 'Allow', source: { selector: 'app ==' } }] } });
    const rules = kvs.find((kv) => kv.key.endsWith('/rules'))!;
    assert.equal(rules.value, null);
    assert.ok(rules.error);
  });
});

describe('Calico Node stored in etcd', () => {
  test('gives the felix keys of the equivalent Kubernetes Node', () => {
    const k8s: RawObject = {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: 'node-1', annotations: { 'projectcalico.org/IPv4Address': '192.168.0.1/24', 'projectcalico.org/IPv4IPIPTunnelAddr': '10.0.0.1' } },
    };
    const fromK8s = convertNodeForFelix(k8s);
    const stored: RawObject = {
      apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1', resourceVersion: '3' },
      spec: { bgp: { ipv4Address: '192.168.0.1/24', ipv4IPIPTunnelAddr: '10.0.0.1' } },
    };
    const fromEtcd = convertCalicoNodeForFelix(stored);
    const nonResource = (kvs: readonly { key: string; value: unknown }[]) => kvs.filter((kv) => !kv.key.startsWith('/calico/resources/'));
    assert.deepEqual(nonResource(fromEtcd), nonResource(fromK8s));
    const resource = fromEtcd.find((kv) => kv.key === '/calico/resources/v3/projectcalico.org/nodes/node-1')!;
    assert.deepEqual(resource.value, {
      kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'node-1', creationTimestamp: null },
      spec: { bgp: { ipv4Address: '192.168.0.1/24', ipv4IPIPTunnelAddr: '10.0.0.1' } }, status: {},
    });
  });
});

describe('the per-datastore kinds table', () => {
  test('etcd mode reads v3 WorkloadEndpoints, Profiles and Calico Nodes and no Kubernetes-only kinds; Kubernetes mode is unchanged', () => {
    const etcd = syncerSpecs('etcdv3');
    const ids = etcd.felix.kinds.map((k) => k.id);
    assert.ok(ids.includes(ETCD_KINDS.workloadEndpoints.id) && ids.includes(ETCD_KINDS.profiles.id) && ids.includes(ETCD_KINDS.nodes.id));
    for (const k of [KINDS.pods, KINDS.namespaces, KINDS.serviceAccounts, KINDS.nodes, KINDS.k8sNetworkPolicies, KINDS.endpointSlices]) {
      assert.ok(!ids.includes(k.id), `${k.id} is not read in etcd mode`);
    }
    assert.equal(ids.length, 13);
    assert.deepEqual(etcd.bgp.kinds.map((k) => k.id), ['ippools.crd.projectcalico.org', 'bgpconfigurations.crd.projectcalico.org', 'nodes.projectcalico.org', 'bgppeers.crd.projectcalico.org', 'blockaffinities.crd.projectcalico.org']);
    assert.deepEqual(etcd['tunnel-ip-allocation'].kinds.map((k) => k.id), ['ippools.crd.projectcalico.org', 'nodes.projectcalico.org']);
    assert.ok(syncerSpecs().felix.kinds.some((k) => k.id === KINDS.pods.id));
    assert.deepEqual(syncerSpecs('kubernetes').felix.kinds, syncerSpecs().felix.kinds);
  });

  test('an object the etcd datastore could not decode is refused with its reason', () => {
    const spec = syncerSpecs('etcdv3').felix;
    assert.throws(() => spec.convert(ETCD_KINDS.profiles, { metadata: { name: 'p' }, decodeError: 'value is not JSON' }), /value is not JSON/);
  });
});
