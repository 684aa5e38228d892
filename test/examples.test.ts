import assert from 'node:assert/strict';
import { BlockList, isIPv4 } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileDatastore } from '../src/datastore/file/index.ts';
import { ALL_KINDS, KINDS, type KindInfo } from '../src/datastore/kinds.ts';
import type { RawObject } from '../src/datastore/types.ts';
import { silentLogger } from '../src/logger.ts';

const CLUSTER_DIR = join(import.meta.dirname, '..', 'examples', 'cluster');

// Narrow accessors for the fields these checks read; the objects are plain parsed YAML.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test code reading free-form YAML
type Json = Record<string, any>;
const spec = (o: RawObject): Json => (o.spec ?? {}) as Json;
const status = (o: RawObject): Json => (o.status ?? {}) as Json;

function inCidr(ip: string, cidr: string): boolean {
  const [network, prefix] = cidr.split('/');
  const list = new BlockList();
  list.addSubnet(network as string, Number(prefix), 'ipv4');
  return list.check(ip, 'ipv4');
}

describe('the demo cluster in examples/cluster', () => {
  const objects = new Map<string, RawObject[]>();
  let datastore: FileDatastore;

  before(async () => {
    datastore = new FileDatastore({ dir: CLUSTER_DIR, logger: silentLogger(), pollIntervalMs: 0 });
    for (const kind of ALL_KINDS) {
      datastore.subscribe(kind, {
        replaced: (listed) => objects.set(kind.id, [...listed]),
        changed: () => {},
        connection: () => {},
      });
    }
    await datastore.start();
  });

  after(() => datastore.close());

  const of = (kind: KindInfo): RawObject[] => objects.get(kind.id) ?? [];
  const named = (kind: KindInfo, name: string, namespace?: string): RawObject => {
    const found = of(kind).find((o) => o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
    assert.ok(found, `${kind.kind} ${namespace ? `${namespace}/` : ''}${name} exists`);
    return found;
  };

  it('loads every document with no problems', () => {
    assert.deepEqual(datastore.problems(), []);
    assert.ok(objects.size === ALL_KINDS.length, 'every kind was listed');
  });

  it('has three nodes with Calico BGP annotations, podCIDRs and InternalIP addresses', () => {
    const nodes = of(KINDS.nodes);
    assert.equal(nodes.length, 3);
    for (const node of nodes) {
      const annotations = node.metadata.annotations ?? {};
      const internal = (status(node).addresses as Json[]).find((a) => a.type === 'InternalIP')?.address as string;
      assert.ok(isIPv4(internal), `${node.metadata.name} has an InternalIP`);
      assert.equal(annotations['projectcalico.org/IPv4Address']?.split('/')[0], internal);
      assert.ok(inCidr(annotations['projectcalico.org/IPv4IPIPTunnelAddr'] ?? '', '10.244.0.0/16'));
      assert.match(annotations['projectcalico.org/ASNumber'] ?? '', /^\d+$/);
      assert.ok(Array.isArray(spec(node).podCIDRs) && spec(node).podCIDRs.length > 0);
    }
  });

  it('has three labelled namespaces and a service account name longer than 63 characters', () => {
    const namespaces = of(KINDS.namespaces);
    assert.deepEqual(namespaces.map((n) => n.metadata.name).sort(), ['backend', 'frontend', 'monitoring']);
    for (const ns of namespaces) assert.ok(Object.keys(ns.metadata.labels ?? {}).length > 1);
    assert.ok(of(KINDS.serviceAccounts).some((sa) => sa.metadata.name.length > 63));
  });

  it('has at least twenty pods, including a terminating, a host-network and an unscheduled one', () => {
    const pods = of(KINDS.pods);
    assert.ok(pods.length >= 20, `${pods.length} pods`);
    assert.ok(pods.some((p) => p.metadata.deletionTimestamp && status(p).phase === 'Running'), 'a terminating pod');
    assert.ok(pods.some((p) => spec(p).hostNetwork === true), 'a host-network pod');
    assert.ok(pods.some((p) => !spec(p).nodeName && status(p).phase === 'Pending'), 'an unscheduled pod');
    const nodesUsed = new Set(pods.map((p) => spec(p).nodeName).filter(Boolean));
    assert.equal(nodesUsed.size, 3, 'pods spread over every node');
  });

  it('gives every pod a consistent node, namespace, service account and address', () => {
    const nodeIps = new Map(of(KINDS.nodes).map((n) => [n.metadata.name, (status(n).addresses as Json[])[0]?.address]));
    const namespaces = new Set(of(KINDS.namespaces).map((n) => n.metadata.name));
    const accounts = new Set(of(KINDS.serviceAccounts).map((sa) => `${sa.metadata.namespace}/${sa.metadata.name}`));
    for (const pod of of(KINDS.pods)) {
      const name = `${pod.metadata.namespace}/${pod.metadata.name}`;
      assert.ok(namespaces.has(pod.metadata.namespace as string), `${name}: namespace exists`);
      assert.ok(accounts.has(`${pod.metadata.namespace}/${spec(pod).serviceAccountName}`), `${name}: service account exists`);
      const nodeName = spec(pod).nodeName as string | undefined;
      if (!nodeName) {
        assert.equal(status(pod).podIP, undefined, `${name}: unscheduled pods have no IP`);
        continue;
      }
      assert.ok(nodeIps.has(nodeName), `${name}: node exists`);
      const ip = status(pod).podIP as string;
      assert.deepEqual(status(pod).podIPs, [{ ip }], `${name}: podIPs agree with podIP`);
      if (spec(pod).hostNetwork) {
        assert.equal(ip, nodeIps.get(nodeName), `${name}: host-network pods have the node's IP`);
      } else {
        assert.ok(inCidr(ip, '10.244.0.0/16'), `${name}: IP in the pool`);
        // Each node's IPIP tunnel address is the first address of its affine /26 block.
        const tunnel = of(KINDS.nodes).find((n) => n.metadata.name === nodeName)?.metadata.annotations?.['projectcalico.org/IPv4IPIPTunnelAddr'];
        assert.ok(inCidr(ip, `${tunnel}/26`), `${name}: IP in ${nodeName}'s block`);
        assert.equal(pod.metadata.annotations?.['cni.projectcalico.org/podIP'], `${ip}/32`, `${name}: CNI annotation`);
      }
      for (const container of spec(pod).containers as Json[]) {
        for (const port of container.ports ?? []) assert.ok(port.name && port.containerPort > 0, `${name}: named ports`);
      }
    }
  });

  it('has EndpointSlices whose endpoints are the pods behind each service', () => {
    const slices = of(KINDS.endpointSlices);
    assert.ok(slices.length >= 5);
    const podIps = new Map(of(KINDS.pods).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, status(p).podIP]));
    for (const slice of slices) {
      assert.ok(slice.metadata.labels?.['kubernetes.io/service-name']);
      for (const endpoint of slice.endpoints as Json[]) {
        const target = `${endpoint.targetRef.namespace}/${endpoint.targetRef.name}`;
        assert.deepEqual(endpoint.addresses, [podIps.get(target)], `${slice.metadata.name}: ${target}`);
      }
    }
  });

  it('has Kubernetes network policies with pod, namespace and ipBlock-with-except peers', () => {
    const peers = of(KINDS.k8sNetworkPolicies).flatMap((p) => (spec(p).ingress ?? []).flatMap((r: Json) => r.from ?? []));
    assert.ok(peers.some((peer: Json) => peer.namespaceSelector && peer.podSelector));
    assert.ok(peers.some((peer: Json) => peer.ipBlock?.except?.length > 0));
  });

  it('has a Calico network policy with a service-based egress rule, and a global network policy', () => {
    const rules = of(KINDS.networkPolicies).flatMap((p) => (spec(p).egress ?? []) as Json[]);
    assert.ok(rules.some((r) => r.destination?.services?.name === 'api' && r.destination.services.namespace === 'backend'));
    assert.ok(of(KINDS.globalNetworkPolicies).length >= 1);
    assert.ok(of(KINDS.globalNetworkSets).length >= 1);
  });

  it('has the Calico configuration singletons, a pool and a BGP peer with maxRestartTime', () => {
    assert.equal(spec(named(KINDS.bgpPeers, 'rack-1-tor')).maxRestartTime, '120s');
    const info = spec(named(KINDS.clusterInformations, 'default'));
    assert.equal(info.datastoreReady, true);
    assert.equal(info.calicoVersion, 'v3.20.0');
    assert.ok(info.clusterGUID);
    const felix = spec(named(KINDS.felixConfigurations, 'default'));
    assert.ok(felix.logSeverityScreen && felix.reportingInterval && felix.failsafeInboundHostPorts);
    named(KINDS.bgpConfigurations, 'default');
    assert.equal(spec(named(KINDS.ipPools, 'default-ipv4-ippool')).cidr, '10.244.0.0/16');
  });

  it('has an IPAM block whose allocations match the pods on its node', () => {
    const block = spec(named(KINDS.ipamBlocks, '10-244-120-64-26'));
    const base = 64; // the block 10.244.120.64/26 starts at .64
    const attributes = block.attributes as Json[];
    for (const pod of of(KINDS.pods).filter((p) => spec(p).nodeName === 'node-1' && !spec(p).hostNetwork)) {
      const ordinal = Number((status(pod).podIP as string).split('.')[3]) - base;
      const attribute = attributes[block.allocations[ordinal]];
      assert.equal(attribute?.secondary?.pod, pod.metadata.name);
    }
    assert.equal(block.allocations.length, 64);
    named(KINDS.blockAffinities, 'node-1-10-244-120-64-26');
  });
});
