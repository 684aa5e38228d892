/**
 * Golden vectors for the endpoint conversions (Pods, HostEndpoints, EndpointSlices). Every
 * expected value is worked out by hand from the upstream Go, not from our output: libcalico-go
 * release-v3.20 at e9d17133 (the commit Typha v3.20 pins) and, for EndpointSlices, the API
 * server's v1 → v1beta1 conversion. Each vector names the Go function it follows.
 */
import { test } from 'node:test';
import { KINDS, assertError, assertKVs, convert } from './support.ts';

const WEP_KEY = '/calico/v1/host/worker-7/workload/k8s/shop%2fcart-0/endpoint/eth0';
// VethNameForWorkload: "cali" + the first 11 hex digits of sha1("shop.cart-0") (sha1sum: 18582a65b10...).
const CART_LABELS = { 'projectcalico.org/namespace': 'shop', 'projectcalico.org/orchestrator': 'k8s', tier: 'web' };

/** A pod `shop/cart-0` on `worker-7` without a service account, so only `kns.shop` applies. */
function cart(status: object, annotations: Record<string, string> = {}, extra: object = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'cart-0', namespace: 'shop', labels: { tier: 'web' }, annotations, ...extra },
    spec: { nodeName: 'worker-7' },
    status: { phase: 'Running', ...status },
  };
}

/** The v1 WorkloadEndpoint Go writes for `cart`, in `model.WorkloadEndpoint` field order. */
function cartWEP(v4: string[] | null, v6: string[] | null, nat: object = {}): Record<string, unknown> {
  return {
    state: 'active', name: 'cali18582a65b10', active_instance_id: '', mac: null, profile_ids: ['kns.shop'],
    ipv4_nets: v4, ipv6_nets: v6, ...nat, labels: CART_LABELS,
  };
}

// podToDefaultWorkloadEndpoint pairs each entry by strings.Contains(ip, ":") with the pod's
// address of that family; ConvertV2ToV1IPNAT then drops the pair when cnet.ParseIP fails on
// either side. "gateway" has no colon, pairs with 10.30.0.4, and fails to parse: dropped.
// "fd00:9::1" has a colon but the pod has no IPv6 address: never paired.
test('a floating IP that does not parse is skipped and the endpoint is still sent', () => {
  const pod = cart({ podIP: '10.30.0.4' }, { 'cni.projectcalico.org/floatingIPs': '["gateway","198.51.100.20","fd00:9::1"]' });
  assertKVs(convert(KINDS.pods, pod), [{ key: WEP_KEY, value: cartWEP(['10.30.0.4/32'], null, {
    ipv4_nat: [{ int_ip: '10.30.0.4', ext_ip: '198.51.100.20' }],
  }) }]);
});

// A colon sends "fd00::zz" to the IPv6 side, where cnet.ParseIP rejects it; the IPv6 entry
// after it survives. The v4 entry has no v4 pod address to pair with.
test('a bad IPv6 floating IP costs only that entry', () => {
  const pod = cart({ podIPs: [{ ip: 'fd00:30::4' }] }, { 'cni.projectcalico.org/floatingIPs': '["fd00::zz","2001:db8::20","198.51.100.20"]' });
  assertKVs(convert(KINDS.pods, pod), [{ key: WEP_KEY, value: cartWEP(null, ['fd00:30::4/128'], {
    ipv6_nat: [{ int_ip: 'fd00:30::4', ext_ip: '2001:db8::20' }],
  }) }]);
});

// "::ffff:198.51.100.9" contains a colon, so Go pairs it with the IPv6 pod address; ParseIP
// makes it IPv4 and String() prints it dotted; the pair is filed under ipv6_nat because
// convertWorkloadEndpointV2ToV1Value files by the internal address's version.
test('an IPv4-mapped floating IP pairs with the IPv6 pod address and prints dotted', () => {
  const pod = cart({ podIPs: [{ ip: '10.30.0.4' }, { ip: 'fd00:30::4' }] }, { 'cni.projectcalico.org/floatingIPs': '["::ffff:198.51.100.9"]' });
  assertKVs(convert(KINDS.pods, pod), [{ key: WEP_KEY, value: cartWEP(['10.30.0.4/32'], ['fd00:30::4/128'], {
    ipv6_nat: [{ int_ip: 'fd00:30::4', ext_ip: '198.51.100.9' }],
  }) }]);
});

// The Go loop over podIPNets overwrites podnetV4, so the last IPv4 address is the NAT target.
test('floating IPs target the last pod address of their family', () => {
  const pod = cart({ podIPs: [{ ip: '10.30.0.4' }, { ip: '10.30.0.5' }] }, { 'cni.projectcalico.org/floatingIPs': '["198.51.100.20"]' });
  assertKVs(convert(KINDS.pods, pod), [{ key: WEP_KEY, value: cartWEP(['10.30.0.4/32', '10.30.0.5/32'], null, {
    ipv4_nat: [{ int_ip: '10.30.0.5', ext_ip: '198.51.100.20' }],
  }) }]);
});

// json.Unmarshal of `null` into []string leaves a nil list: no floating IPs, no error.
test('a null floatingIPs annotation means no floating IPs', () => {
  const pod = cart({ podIP: '10.30.0.4' }, { 'cni.projectcalico.org/floatingIPs': 'null' });
  assertKVs(convert(KINDS.pods, pod), [{ key: WEP_KEY, value: cartWEP(['10.30.0.4/32'], null) }]);
});

// These are errors of podToDefaultWorkloadEndpoint itself (the pod does not convert at all):
// json.Unmarshal fails for a non-list or a non-string member, and every pod address must be a
// single address as soon as the annotation is present, even an empty list.
test('a floatingIPs annotation that is not a list of strings, or a pod CIDR beside one, fails the endpoint', () => {
  for (const annotation of ['{"ip":"198.51.100.20"}', '["198.51.100.20", 7]', '[198.51.100.20']) {
    assertError(convert(KINDS.pods, cart({ podIP: '10.30.0.4' }, { 'cni.projectcalico.org/floatingIPs': annotation })), WEP_KEY, /floatingIPs/);
  }
  assertError(convert(KINDS.pods, cart({ podIP: '10.30.0.0/28' }, { 'cni.projectcalico.org/floatingIPs': '[]' })), WEP_KEY, /single address/);
});

// getPodIPs: cnet.ParseCIDROrIP turns the mapped address into IPv4, Network() gives /32; a
// mapped CIDR of prefix 112 is the IPv4 network of prefix 16 (Go's IPNet.String()).
test('IPv4-mapped pod addresses are IPv4 networks', () => {
  assertKVs(convert(KINDS.pods, cart({ podIPs: [{ ip: '::ffff:10.30.0.4' }, { ip: 'FD00:30:0::4' }] })), [
    { key: WEP_KEY, value: cartWEP(['10.30.0.4/32'], ['fd00:30::4/128']) },
  ]);
  assertKVs(convert(KINDS.pods, cart({}, { 'cni.projectcalico.org/podIP': '::ffff:10.30.7.9/112' })), [
    { key: WEP_KEY, value: cartWEP(['10.30.0.0/16'], null) },
  ]);
});

// getPodIPs neither trims nor skips: " 10.30.0.5" and "" fail cnet.ParseCIDROrIP, and one
// failure fails the conversion. It also runs before IsFinished, so a finished pod with a
// malformed address is still an error.
test('a malformed pod address fails the endpoint, with no trimming and even once the pod is finished', () => {
  assertError(convert(KINDS.pods, cart({}, { 'cni.projectcalico.org/podIPs': '10.30.0.4, 10.30.0.5' })), WEP_KEY, /" 10.30.0.5"/);
  assertError(convert(KINDS.pods, cart({ podIPs: [{ ip: '10.30.0.4' }, { ip: '' }] })), WEP_KEY, /""/);
  assertError(convert(KINDS.pods, cart({ phase: 'Succeeded', podIP: '10.30.0.300' })), WEP_KEY, /10.30.0.300/);
});

const HEP_KEY = '/calico/v1/host/edge-2/endpoint/uplink';

// convertHostEndpointV2ToV1 keeps what cnet.ParseIP accepts, filed by Version() (a mapped
// address is 4), printed by String(); everything else is skipped, not an error.
test('host endpoint expected IPs skip what does not parse and file mapped addresses as IPv4', () => {
  assertKVs(convert(KINDS.hostEndpoints, {
    metadata: { name: 'uplink' },
    spec: { node: 'edge-2', interfaceName: 'bond0', expectedIPs: ['192.0.2.10', 'uplink.example', '::ffff:192.0.2.11', 'FD00:0:0::10', '192.0.2.300'] },
  }), [{ key: HEP_KEY, value: { name: 'bond0', expected_ipv4_addrs: ['192.0.2.10', '192.0.2.11'], expected_ipv6_addrs: ['fd00::10'] } }]);
});

// Nothing parses and there is no interface: Go still sends model.HostEndpoint, every field
// omitempty, so the value is an empty object.
test('a host endpoint whose only expected IP does not parse is sent empty', () => {
  assertKVs(convert(KINDS.hostEndpoints, { metadata: { name: 'uplink' }, spec: { node: 'edge-2', expectedIPs: ['192.0.2'] } }), [
    { key: HEP_KEY, value: {} },
  ]);
});

const SLICE_KEY = '/calico/resources/v3/projectcalico.org/kubernetesendpointslices/shop/cart-x7k2p';

function slice(endpoints: object[], apiVersion = 'discovery.k8s.io/v1'): Record<string, unknown> {
  return { apiVersion, kind: 'EndpointSlice', metadata: { name: 'cart-x7k2p', namespace: 'shop' }, addressType: 'IPv4', endpoints, ports: [] };
}

function sliceValue(endpoints: object[]): Record<string, unknown> {
  return { metadata: { name: 'cart-x7k2p', namespace: 'shop', creationTimestamp: null }, addressType: 'IPv4', endpoints, ports: [] };
}

// Convert_discovery_Endpoint_To_v1beta1_Endpoint: topology is built when any of
// deprecatedTopology, zone, nodeName is set; zone overwrites; nodeName fills
// kubernetes.io/hostname only where that is absent or empty; nodeName itself is kept.
test('EndpointSlice topology folds deprecatedTopology, zone and nodeName as the API server does', () => {
  assertKVs(convert(KINDS.endpointSlices, slice([
    { addresses: ['10.30.0.4'], nodeName: 'worker-7' },
    { addresses: ['10.30.0.5'], nodeName: 'worker-8', zone: 'z-b', deprecatedTopology: { 'kubernetes.io/hostname': 'legacy-8', 'topology.kubernetes.io/zone': 'z-a', rack: 'r1' } },
    { addresses: ['10.30.0.6'], nodeName: 'worker-9', deprecatedTopology: { 'kubernetes.io/hostname': '' } },
    { addresses: ['10.30.0.7'], deprecatedTopology: {} },
    { conditions: { ready: false, terminating: true }, hints: { forZones: [{ name: 'z-a' }] } },
  ])), [{ key: SLICE_KEY, value: sliceValue([
    { addresses: ['10.30.0.4'], conditions: {}, topology: { 'kubernetes.io/hostname': 'worker-7' }, nodeName: 'worker-7' },
    { addresses: ['10.30.0.5'], conditions: {}, topology: { 'kubernetes.io/hostname': 'legacy-8', rack: 'r1', 'topology.kubernetes.io/zone': 'z-b' }, nodeName: 'worker-8' },
    { addresses: ['10.30.0.6'], conditions: {}, topology: { 'kubernetes.io/hostname': 'worker-9' }, nodeName: 'worker-9' },
    // An empty map is left out by omitempty.
    { addresses: ['10.30.0.7'], conditions: {} },
    // `addresses` has no omitempty in discovery/v1beta1, so an absent list is null.
    { addresses: null, conditions: { ready: false, terminating: true }, hints: { forZones: [{ name: 'z-a' }] } },
  ]) }]);
});

// An endpoint in the v1beta1 shape (the file datastore accepts that apiVersion) goes through
// what an API server of Kubernetes 1.21 or later does to it, whichever version a client reads:
// Convert_v1beta1_Endpoint_To_discovery_Endpoint on the way in (zone → zone, hostname → nodeName
// when unset, dropped when equal), Convert_discovery_Endpoint_To_v1beta1_Endpoint on the way out.
test('a v1beta1 EndpointSlice reads back as the API server would serve it', () => {
  assertKVs(convert(KINDS.endpointSlices, slice([
    { addresses: ['10.30.0.4'], nodeName: 'worker-7', topology: { rack: 'r1' } },
    { addresses: ['10.30.0.5'], topology: { 'kubernetes.io/hostname': 'worker-8', 'topology.kubernetes.io/zone': 'z-a' } },
    { addresses: ['10.30.0.6'], nodeName: 'worker-9', topology: { 'kubernetes.io/hostname': 'legacy-9' } },
    { addresses: ['10.30.0.7'], topology: {} },
  ], 'discovery.k8s.io/v1beta1')), [
    { key: SLICE_KEY, value: sliceValue([
      { addresses: ['10.30.0.4'], conditions: {}, topology: { 'kubernetes.io/hostname': 'worker-7', rack: 'r1' }, nodeName: 'worker-7' },
      { addresses: ['10.30.0.5'], conditions: {}, topology: { 'kubernetes.io/hostname': 'worker-8', 'topology.kubernetes.io/zone': 'z-a' }, nodeName: 'worker-8' },
      { addresses: ['10.30.0.6'], conditions: {}, topology: { 'kubernetes.io/hostname': 'legacy-9' }, nodeName: 'worker-9' },
      { addresses: ['10.30.0.7'], conditions: {} },
    ]) },
  ]);
});
