/**
 * Golden vectors for the node-side conversions (Kubernetes Nodes, IPAM, BGP resources) and the
 * address rules they share. Every expected value is worked out by hand from libcalico-go
 * release-v3.20 at e9d17133 (and projectcalico/api release-v3.20 for the v3 struct tags), not
 * from our output; each vector names the Go function it follows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalCIDR, canonicalCIDROrIP } from '../../src/calico/net.ts';
import { KINDS, assertKVs, convert, valueOf } from './support.ts';

const NODE_RESOURCE = '/calico/resources/v3/projectcalico.org/nodes/rack4-n2';

function k8sNode(annotations: Record<string, string>, addresses: object[] = []): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: 'rack4-n2', annotations }, status: { addresses } };
}

function keyed(kvs: readonly { key: string }[]): string[] {
  return kvs.map((kv) => kv.key);
}

// FelixNodeUpdateProcessor.Process: `vxlanTunlMac = mac` whenever the spec field is not empty;
// no net.ParseMAC, no re-printing. K8sNodeToCalico copies the annotation into the spec as is.
test('the VXLAN tunnel MAC reaches felix exactly as the annotation spells it', () => {
  for (const mac of ['66-AA-bb-CC-dd-EE', '66:aa:bb:cc:dd:ee', '66:AA:BB:CC:DD:EE']) {
    const kvs = convert(KINDS.nodes, k8sNode({ 'projectcalico.org/VXLANTunnelMACAddr': mac }));
    assert.equal(valueOf(kvs, '/calico/v1/host/rack4-n2/config/VXLANTunnelMACAddr'), mac);
    assert.equal((valueOf(kvs, NODE_RESOURCE) as { spec: { vxlanTunnelMACAddr: string } }).spec.vxlanTunnelMACAddr, mac);
  }
});

// Process parses the IPIP and VXLAN tunnel addresses with cnet.ParseIP and prints String(): a
// mapped address comes out dotted, a CIDR does not parse and gives no key. The wireguard
// interface address goes through the same ParseIP; the public key is copied whatever it is.
test('tunnel addresses are bare IPs re-printed by Go, mapped ones dotted, CIDRs left out', () => {
  const kvs = convert(KINDS.nodes, k8sNode({
    'projectcalico.org/IPv4IPIPTunnelAddr': '::ffff:10.244.8.1',
    'projectcalico.org/IPv4VXLANTunnelAddr': '10.244.9.1/32',
    'projectcalico.org/IPv4WireguardInterfaceAddr': '10.244.10.1/32',
    'projectcalico.org/WireguardPublicKey': 'pk',
  }));
  assert.equal(valueOf(kvs, '/calico/v1/host/rack4-n2/config/IpInIpTunnelAddr'), '10.244.8.1');
  assert.ok(!keyed(kvs).includes('/calico/v1/host/rack4-n2/config/IPv4VXLANTunnelAddr'));
  assert.deepEqual(valueOf(kvs, '/calico/v1/host/rack4-n2/wireguard'), { publicKey: 'pk' });
});

// Process: the BGP IPv4Address goes through cnet.ParseCIDROrIP with no version check, so an
// IPv6 value is the host IP; FindNodeAddress (used only without one) requires To4() and so
// accepts a mapped InternalIP, which String() prints dotted. spec.addresses keeps the text.
test('the host IP is any parsable BGP address, else the first IPv4 internal address, mapped ones included', () => {
  const fromBGP = convert(KINDS.nodes, k8sNode({ 'projectcalico.org/IPv4Address': 'fd00:4::2/64' }));
  assert.equal(valueOf(fromBGP, '/calico/v1/host/rack4-n2/bird_ip'), 'fd00:4::2');
  const fromStatus = convert(KINDS.nodes, k8sNode({}, [{ type: 'InternalIP', address: 'fd00:4::2' }, { type: 'InternalIP', address: '::ffff:172.20.4.2' }]));
  assert.equal(valueOf(fromStatus, '/calico/v1/host/rack4-n2/bird_ip'), '172.20.4.2');
  assert.deepEqual((valueOf(fromStatus, NODE_RESOURCE) as { spec: { addresses: unknown } }).spec.addresses, [
    { address: 'fd00:4::2', type: 'InternalIP' }, { address: '::ffff:172.20.4.2', type: 'InternalIP' },
  ]);
});

// The v3 Node rules of Typha's filter (libcalico-go lib/apis/v3/node.go tags): validateCIDRv4
// takes cnet.ParseCIDROrIP's address and checks Version() == 4, so a bare IP passes and a
// mapped address is IPv4 whatever its prefix (the host IP is that address too); `mac` is
// net.ParseMAC: 6, 8 or 20 octets with one separator throughout, or dotted groups of four.
test('v3 Node addresses and MACs are judged by the rules Go validates them with', () => {
  const v3 = (annotations: Record<string, string>): unknown => valueOf(convert(KINDS.nodes, k8sNode(annotations)), NODE_RESOURCE);
  assert.notEqual(v3({ 'projectcalico.org/IPv4Address': '172.20.4.2' }), null);
  const mapped = convert(KINDS.nodes, k8sNode({ 'projectcalico.org/IPv4Address': '::ffff:172.20.4.2/64' }));
  assert.notEqual(valueOf(mapped, NODE_RESOURCE), null);
  assert.equal(valueOf(mapped, '/calico/v1/host/rack4-n2/bird_ip'), '172.20.4.2');
  assert.equal(v3({ 'projectcalico.org/IPv6Address': '::ffff:172.20.4.2/64' }), null);
  for (const mac of ['0200.5e10.0001', '02:00:5e:10:00:00:00:01', '02-00-5E-10-00-01']) {
    assert.notEqual(v3({ 'projectcalico.org/VXLANTunnelMACAddr': mac }), null, mac);
  }
  for (const mac of ['02:00-5e:10:00:01', '02:00:5e:10:00', '0200.5e10.00.01']) {
    const kvs = convert(KINDS.nodes, k8sNode({ 'projectcalico.org/VXLANTunnelMACAddr': mac }));
    assert.equal(valueOf(kvs, NODE_RESOURCE), null, mac);
    // Felix's processor copies it all the same: the config key does not depend on validation.
    assert.equal(valueOf(kvs, '/calico/v1/host/rack4-n2/config/VXLANTunnelMACAddr'), mac);
  }
});

// SetCalicoMetadataFromK8sAnnotations unmarshals into map[string]string: a member that is not
// a string fails the whole unmarshal (annotation ignored, only kube labels remain); a null
// member decodes to "".
test('the Calico labels annotation is taken whole or not at all, as Go unmarshals it', () => {
  const labelsOf = (annotation: string): unknown =>
    (valueOf(convert(KINDS.nodes, k8sNode({ 'projectcalico.org/labels': annotation })), NODE_RESOURCE) as { metadata: { labels?: unknown } }).metadata.labels;
  assert.equal(labelsOf('{"zone":"a","rack":4}'), undefined);
  assert.equal(labelsOf('["zone"]'), undefined);
  assert.deepEqual(labelsOf('{"zone":"a","rack":null}'), { rack: '', zone: 'a' });
});

// ipamBlockClient.toV1 starts from `attrs := []model.AllocationAttribute{}`, so `attributes`
// is `[]` when the CRD has none; `affinity`, `allocations`, `unallocated` have no omitempty
// and are copied nil → null. AllocationAttribute fields have no omitempty in the v1 model.
test('an IPAM block without attributes writes an empty list, never null', () => {
  assertKVs(convert(KINDS.ipamBlocks, { metadata: { name: 'b' }, spec: { cidr: '10.244.8.64/26' } }), [
    { key: '/calico/ipam/v2/assignment/ipv4/block/10.244.8.64-26', value: {
      cidr: '10.244.8.64/26', affinity: null, allocations: null, unallocated: null, attributes: [], deleted: false,
    } },
  ]);
  assertKVs(convert(KINDS.ipamBlocks, { metadata: { name: 'b' }, spec: { cidr: '10.244.8.64/26', attributes: [{}] } }), [
    { key: '/calico/ipam/v2/assignment/ipv4/block/10.244.8.64-26', value: {
      cidr: '10.244.8.64/26', affinity: null, allocations: null, unallocated: null, attributes: [{ handle_id: null, secondary: null }], deleted: false,
    } },
  ]);
});

// cnet.ParseCIDR of a mapped CIDR: Go masks the 16 bytes, IPNet.String() prints the IPv4
// network of prefix − 96 and Version() is 4, so BlockKey.defaultPath says ipv4.
test('an IPAM block with an IPv4-mapped CIDR is an IPv4 block', () => {
  assertKVs(convert(KINDS.ipamBlocks, { metadata: { name: 'b' }, spec: { cidr: '::ffff:10.244.8.70/122', attributes: [] } }), [
    { key: '/calico/ipam/v2/assignment/ipv4/block/10.244.8.64-26', value: {
      cidr: '10.244.8.64/26', affinity: null, allocations: null, unallocated: null, attributes: [], deleted: false,
    } },
  ]);
});

// ipamBlockClient.toV1 copies what Go's decoder put in libcalico-go's v3 IPAMBlockSpec:
// []*int keeps a null element, []int decodes null to 0, a null attribute is the zero struct,
// a null map member is "", no range is checked; a wrong JSON type fails the decode, so the
// object does not convert (our null value with the error).
test('IPAM block fields are read as Go decodes them into IPAMBlockSpec', () => {
  assertKVs(convert(KINDS.ipamBlocks, { metadata: { name: 'b' }, spec: {
    cidr: '10.244.8.64/26', allocations: [null, -1], unallocated: [null, 3], attributes: [null, { handle_id: 'h', secondary: { pod: null } }],
  } }), [{ key: '/calico/ipam/v2/assignment/ipv4/block/10.244.8.64-26', value: {
    cidr: '10.244.8.64/26', affinity: null, allocations: [null, -1], unallocated: [0, 3],
    attributes: [{ handle_id: null, secondary: null }, { handle_id: 'h', secondary: { pod: '' } }], deleted: false,
  } }]);
  for (const bad of [{ allocations: 'all' }, { attributes: 3 }, { attributes: ['h'] }, { unallocated: [1.5] }, { affinity: 7 }, { deleted: 'false' }]) {
    const [kv] = convert(KINDS.ipamBlocks, { metadata: { name: 'b' }, spec: { cidr: '10.244.8.64/26', ...bad } });
    assert.equal(kv?.value, null, JSON.stringify(bad));
    assert.match(kv?.error ?? '', /spec\./);
  }
});

const AFFINITY_KEY = '/calico/ipam/v2/host/rack4-n2/ipv4/block/10.244.8.64-26';

// blockAffinityClient.toV1: the state string is cast unchecked; `deleted` is "" → false, else
// strconv.ParseBool, whose error fails the conversion (our null value with the error). A JSON
// boolean cannot decode into the CRD's string field at all.
test('block affinities copy the state and parse deleted exactly as strconv.ParseBool', () => {
  const affinity = (spec: object): ReturnType<typeof convert> =>
    convert(KINDS.blockAffinities, { metadata: { name: 'a' }, spec: { node: 'rack4-n2', cidr: '10.244.8.64/26', ...spec } }, 'bgp');
  assertKVs(affinity({ state: 'releasing', deleted: 'T' }), [{ key: AFFINITY_KEY, value: { state: 'releasing', deleted: true } }]);
  assertKVs(affinity({ state: 'confirmed', deleted: 'False' }), [{ key: AFFINITY_KEY, value: { state: 'confirmed', deleted: false } }]);
  assertKVs(affinity({ state: 'confirmed' }), [{ key: AFFINITY_KEY, value: { state: 'confirmed', deleted: false } }]);
  for (const deleted of ['yes', 'tRUE', true]) {
    const [kv] = affinity({ state: 'confirmed', deleted });
    assert.equal(kv?.key, AFFINITY_KEY);
    assert.equal(kv?.value, null);
    assert.match(kv?.error ?? '', /spec.deleted/);
  }
});

// projectcalico/api v3.20 BGPPeerSpec.ASNumber is a plain numorstring.ASNumber with omitempty
// (0 is dropped); BGPConfigurationSpec.ASNumber is a pointer (0 is kept); ListenPort is a
// uint16 with omitempty; PrefixAdvertisement.Communities is a []string with omitempty.
test('BGP specs drop exactly the zero values Go omitempty drops', () => {
  const peer = valueOf(convert(KINDS.bgpPeers, { metadata: { name: 'tor' }, spec: { peerIP: '172.20.0.1', asNumber: 0 } }, 'bgp'),
    '/calico/resources/v3/projectcalico.org/bgppeers/tor') as { spec: unknown };
  assert.deepEqual(peer.spec, { peerIP: '172.20.0.1' });
  const config = valueOf(convert(KINDS.bgpConfigurations, {
    metadata: { name: 'default' },
    spec: { asNumber: 0, listenPort: 0, prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: [] }] },
  }, 'bgp'), '/calico/resources/v3/projectcalico.org/bgpconfigurations/default') as { spec: unknown };
  assert.equal(JSON.stringify(config.spec), '{"asNumber":0,"prefixAdvertisements":[{"cidr":"10.244.0.0/16"}]}');
});

// cnet.ParseCIDR / ParseCIDROrIP then IPNet.String(): a mapped CIDR of prefix ≥ 96 prints as
// IPv4 with prefix − 96; below 96 the mask clears the ffff marker and it prints as IPv6; a bare
// mapped address becomes a /32; Go's dtoi reads the prefix with leading zeros.
test('CIDR parsing treats IPv4-mapped addresses and prefixes as Go does', () => {
  assert.equal(canonicalCIDR('::ffff:10.1.2.3/120'), '10.1.2.0/24');
  assert.equal(canonicalCIDR('::ffff:10.1.2.3/96'), '0.0.0.0/0');
  assert.equal(canonicalCIDR('::ffff:10.1.2.3/64'), '::/64');
  assert.equal(canonicalCIDROrIP('::ffff:10.1.2.3'), '10.1.2.3/32');
  assert.equal(canonicalCIDROrIP('::10.1.2.3'), '::a01:203/128');
  assert.equal(canonicalCIDR('10.1.2.3/024'), '10.1.2.0/24');
  assert.equal(canonicalCIDR('10.1.2.3/33'), undefined);
});

// resources.go ConvertK8sResourceToCalicoResource: json.Unmarshal of the annotation into a
// metav1.ObjectMeta; an error fails the conversion (our null value with the error), `null`
// leaves the ObjectMeta empty before name, namespace, labels, annotations and uid are written
// back from the CRD (so the CRD's own creationTimestamp is not used).
test('the projectcalico.org/metadata annotation is decoded as Go decodes it, or fails the object', () => {
  const peer = (stored: string): ReturnType<typeof convert> => convert(KINDS.bgpPeers, {
    metadata: { name: 'tor', uid: 'u-tor', creationTimestamp: '2021-07-01T00:00:00Z', annotations: { 'projectcalico.org/metadata': stored, note: 'x' } },
    spec: { peerIP: '172.20.0.1' },
  }, 'bgp');
  assertKVs(peer('null'), [{ key: '/calico/resources/v3/projectcalico.org/bgppeers/tor', value: {
    kind: 'BGPPeer', apiVersion: 'projectcalico.org/v3',
    metadata: { name: 'tor', uid: 'u-tor', creationTimestamp: null, annotations: { note: 'x' } }, spec: { peerIP: '172.20.0.1' },
  } }]);
  for (const stored of ['{"creationTimestamp":', '["x"]']) {
    const [kv] = peer(stored);
    assert.equal(kv?.value, null);
    assert.match(kv?.error ?? '', /projectcalico.org\/metadata/);
  }
});
