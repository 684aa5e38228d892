/**
 * Typha's output filter rules, one vector per rule. Each expected outcome is derived from
 * libcalico-go e9d17133 `lib/validator/v1/validator.go` / `lib/validator/v3/validator.go`, the
 * api repo's release-v3.20 struct tags and typha release-v3.20 `pkg/calc/validation_filter.go`;
 * the Go function is named in each test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OUTPUT_KINDS, outputKind, validateOutput } from '../../src/calico/index.ts';
import { KINDS, convert } from './support.ts';

const V3 = '/calico/resources/v3/projectcalico.org';
const PROFILE_KEY = (name: string) => `${V3}/profiles/${name}`;

function failures(kvs: ReturnType<typeof convert>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const kv of kvs) {
    if (kv.value !== null) out[kv.key] = validateOutput(kv.key, kv.value)?.rule;
  }
  return out;
}

const v3 = (kind: string, name: string, spec: object, metadata: object = {}) => ({
  kind, apiVersion: 'projectcalico.org/v3', metadata: { name, creationTimestamp: null, ...metadata }, spec,
});

// --- v3 Profiles from Namespaces and ServiceAccounts: the known failing case ---

test('a namespace label whose key is 59 characters makes the v3 Profile invalid (pcns. pushes the name part past 63) while its v1 keys pass', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'orchard', labels: { ['k'.repeat(59)]: 'v' } } });
  assert.deepEqual(failures(kvs), {
    '/calico/v1/policy/profile/kns.orchard/rules': undefined,
    '/calico/v1/policy/profile/kns.orchard/labels': undefined,
    [PROFILE_KEY('kns.orchard')]: 'validateLabels',
  });
});

test('a namespace label key of 58 characters is still a valid qualified name once prefixed (63 exactly)', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'orchard', labels: { ['k'.repeat(58)]: 'v' } } });
  assert.equal(failures(kvs)[PROFILE_KEY('kns.orchard')], undefined);
});

test('a prefixed namespace label key keeps its prefix part and passes (pcns.example.com/tier)', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'orchard', labels: { 'example.com/tier': 'gold' } } });
  assert.equal(failures(kvs)[PROFILE_KEY('kns.orchard')], undefined);
});

test('a ServiceAccount named with 64 characters makes its v3 Profile invalid: pcsa.projectcalico.org/name is a label value over 63 (IsValidLabelValue)', () => {
  const sa = `robot-${'r'.repeat(58)}`;
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: sa, namespace: 'mill' } });
  const key = PROFILE_KEY(`ksa.mill.${sa}`);
  assert.equal(validateOutput(key, kvs.find((k) => k.key === key)?.value as Record<string, unknown>)?.rule, 'validateLabels');
  assert.equal(failures(kvs)[`/calico/v1/policy/profile/ksa.mill.${sa}/labels`], undefined, 'the v1 labels map is never validated');
});

test('a ServiceAccount named with 63 characters passes', () => {
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: 's'.repeat(63), namespace: 'mill' } });
  assert.equal(failures(kvs)[PROFILE_KEY(`ksa.mill.${'s'.repeat(63)}`)], undefined);
});

test('a ServiceAccount profile name over 253 bytes fails validateObjectMeta (name is too long)', () => {
  const ns = 'n'.repeat(63);
  const sa = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}`;
  const key = PROFILE_KEY(`ksa.${ns}.${sa}`);
  const value = convert(KINDS.serviceAccounts, { metadata: { name: sa, namespace: ns } }).find((k) => k.key === key)?.value as Record<string, unknown>;
  const f = validateOutput(key, value);
  assert.equal(f?.rule, 'validateObjectMeta');
  assert.match(f?.reason ?? '', /too long by 58 bytes/);
});

test('a v3 Profile rule with an unknown action fails validateAction', () => {
  const value = v3('Profile', 'p', { ingress: [{ action: 'allow', source: {}, destination: {} }] });
  assert.equal(validateOutput(PROFILE_KEY('p'), value)?.rule, 'validateAction');
});

// --- ObjectMeta on every v3 kind ---

test('a v3 name with upper case fails nameRegex in validateObjectMeta, for an EndpointSlice as for any v3 value', () => {
  const key = `${V3}/kubernetesendpointslices/default/Web-abc`;
  assert.equal(validateOutput(key, { metadata: { name: 'Web-abc', namespace: 'default' } })?.rule, 'validateObjectMeta');
});

test('annotation keys are checked lower-cased, so an upper-case key passes but a key with a space does not', () => {
  const key = `${V3}/nodes/n1`;
  assert.equal(validateOutput(key, v3('Node', 'n1', {}, { annotations: { 'Example.COM/Owner': 'x' } })), undefined);
  assert.equal(validateOutput(key, v3('Node', 'n1', {}, { annotations: { 'bad key': 'x' } }))?.rule, 'validateObjectMetaAnnotations');
});

test('annotations over 256 KiB in total fail validateObjectMetaAnnotations; exactly 256 KiB passes', () => {
  const key = `${V3}/nodes/n1`;
  const at = (n: number) => v3('Node', 'n1', {}, { annotations: { a: 'x'.repeat(n - 1) } });
  assert.equal(validateOutput(key, at(256 * 1024)), undefined);
  assert.equal(validateOutput(key, at(256 * 1024 + 1))?.rule, 'validateObjectMetaAnnotations');
});

test('a Node label value from the projectcalico.org/labels annotation that is not a label value fails validateObjectMetaLabels', () => {
  const kvs = convert(KINDS.nodes, { metadata: { name: 'n1', annotations: { 'projectcalico.org/labels': JSON.stringify({ rack: 'r 1' }) } } }, 'bgp');
  assert.equal(failures(kvs)[`${V3}/nodes/n1`], 'validateObjectMetaLabels');
});

test('a Node whose spec.bgp is present but empty fails validateNodeSpec', () => {
  assert.equal(validateOutput(`${V3}/nodes/n1`, v3('Node', 'n1', { bgp: {} }))?.rule, 'validateNodeSpec');
});

// --- BGPPeer and BGPConfiguration ---

test('a BGPPeer with both node and nodeSelector fails validateBGPPeerSpec; with peerSelector and asNumber too', () => {
  const key = `${V3}/bgppeers/p`;
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { node: 'n1', nodeSelector: 'all()' }))?.rule, 'validateBGPPeerSpec');
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { peerSelector: 'rr == "true"', asNumber: 64512 }))?.rule, 'validateBGPPeerSpec');
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { peerSelector: 'rr == "true"' })), undefined);
});

test('a BGPPeer sourceAddress other than UseNodeIP or None fails the sourceAddress tag; a node that is not a name fails validateName', () => {
  const key = `${V3}/bgppeers/p`;
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { sourceAddress: 'Elsewhere' }))?.rule, 'sourceAddress');
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { node: 'Node_1' }))?.rule, 'validateName');
  assert.equal(validateOutput(key, v3('BGPPeer', 'p', { node: 'node-1', sourceAddress: 'None' })), undefined);
});

test('BGPConfiguration communities: 16-bit standard and 32-bit large values pass, an out-of-range or malformed one fails', () => {
  const key = `${V3}/bgpconfigurations/default`;
  const conf = (value: string, used = [value]) => v3('BGPConfiguration', 'default', {
    communities: [{ name: 'c', value }], prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: used }],
  });
  assert.equal(validateOutput(key, conf('65001:100')), undefined);
  assert.equal(validateOutput(key, conf('4200000000:1:2')), undefined);
  assert.equal(validateOutput(key, conf('65536:1'))?.rule, 'validateBGPConfigurationSpec');
  assert.equal(validateOutput(key, conf('abc'))?.rule, 'validateBGPConfigurationSpec');
  assert.equal(validateOutput(key, conf('65001:100', ['c'])), undefined, 'a prefix may name a defined community');
  assert.equal(validateOutput(key, conf('65001:100', ['undefined-name']))?.rule, 'validateBGPConfigurationSpec');
});

test('BGPConfiguration prefix advertisement communities are required as Go requires a slice (validate:"required" is "not nil"): an empty list passes and is published without it, an absent or null one is invalid', () => {
  const bgpConfiguration = (advert: object) => convert(KINDS.bgpConfigurations, { metadata: { name: 'default' }, spec: { prefixAdvertisements: [{ cidr: '10.0.0.0/8', ...advert }] } });
  const empty = bgpConfiguration({ communities: [] });
  assert.deepEqual(empty.map((kv) => [kv.error, (kv.value as { spec?: unknown } | null)?.spec]), [[undefined, { prefixAdvertisements: [{ cidr: '10.0.0.0/8' }] }]]);
  assert.deepEqual(Object.values(failures(empty)), [undefined]);
  for (const advert of [{}, { communities: null }]) {
    assert.deepEqual(bgpConfiguration(advert).map((kv) => [kv.value, kv.error]), [[null, 'spec.prefixAdvertisements[0].communities is required']], JSON.stringify(advert));
  }
});

test('BGPConfiguration: communities without prefix advertisements, a log level in lower case, a host-bits CIDR each fail', () => {
  const key = `${V3}/bgpconfigurations/default`;
  assert.equal(validateOutput(key, v3('BGPConfiguration', 'default', { communities: [{ name: 'c', value: '1:1' }] }))?.rule, 'validateBGPConfigurationSpec');
  assert.equal(validateOutput(key, v3('BGPConfiguration', 'default', { logSeverityScreen: 'info' }))?.rule, 'validateLogLevel');
  assert.equal(validateOutput(key, v3('BGPConfiguration', 'default', { serviceClusterIPs: [{ cidr: '10.96.0.1/12' }] }))?.rule, 'validateIPNetwork');
  assert.equal(validateOutput(key, v3('BGPConfiguration', 'default', { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], logSeverityScreen: 'Info' })), undefined);
});

// --- v1 values ---

const POLICY_KEY = '/calico/v1/policy/tier/default/policy/default%2fp';

test('a v1 policy rule with port 0 fails validatePort (Go accepts 0 in the v3 input but the v1 validator requires ports of at least 1)', () => {
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: [0] }] })?.rule, 'validatePort');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: ['0:80'] }] })?.rule, 'validatePort');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: [1, '80:90', 'http'] }] }), undefined);
});

test('a named rule port must be a Kubernetes port name (numorstring.Port PortName tag portName → IsValidPortName)', () => {
  const withPort = (port: string) => validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: [port] }] })?.rule;
  for (const good of ['http', 'metrics-2', 'a1', 'abcdefghijklmno']) assert.equal(withPort(good), undefined, good);
  for (const bad of ['Http_Alt.1', 'HTTP', 'abcdefghijklmnop', '1234x5678901234567', 'web--ui', '-web', 'web-', 'web ui']) {
    assert.equal(withPort(bad), 'validatePort', bad);
  }
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'tcp', dst_ports: ['1234'] }] }), undefined, 'all digits is a port number, not a name');
});

test('a v1 rule with ports and an ICMP protocol fails validateBackendRule; protocol 6 by number supports ports', () => {
  assert.equal(validateOutput(POLICY_KEY, { selector: '', outbound_rules: [{ action: 'deny', protocol: 'icmp', src_ports: [53] }] })?.rule, 'validateBackendRule');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', outbound_rules: [{ action: 'deny', protocol: 6, src_ports: [53] }] }), undefined);
});

test('a protocol string of digits is a number, as Go decodes it (Uint8OrString): "17" supports ports, "0" and "300" fail validateProtocol', () => {
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: '17', dst_ports: [53] }] }), undefined);
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: '0' }] })?.rule, 'validateProtocol');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: '300' }] })?.rule, 'validateProtocol');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'TCP' }] })?.rule, 'validateProtocol', 'v1 names are lower-case');
});

test('icmp_type 255 fails lt=255 while icmp_code 255 passes lte=255; protocol number 0 fails validateProtocol', () => {
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'icmp', icmp_type: 255 }] })?.rule, 'gte=0,lt=255');
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 'icmp', icmp_type: 8, icmp_code: 255 }] }), undefined);
  assert.equal(validateOutput(POLICY_KEY, { selector: '', inbound_rules: [{ action: 'allow', protocol: 0 }] })?.rule, 'validateProtocol');
});

test('a policy selector that does not parse fails validateSelector; an empty one is all()', () => {
  assert.equal(validateOutput(POLICY_KEY, { selector: 'app ==' })?.rule, 'validateSelector');
  assert.equal(validateOutput(POLICY_KEY, { selector: '' }), undefined);
  assert.equal(validateOutput('/calico/v1/policy/profile/kns.x/rules', { inbound_rules: [{ action: 'allow', src_selector: '(((' }] })?.rule, 'validateSelector');
});

const WEP_KEY = '/calico/v1/host/n1/workload/k8s/default%2fweb/endpoint/eth0';
const wep = (extra: object) => ({ state: 'active', name: 'cali0123456789a', active_instance_id: '', mac: null, profile_ids: [], ipv4_nets: [], ipv6_nets: null, ...extra });

test('a workload endpoint without an interface name is nulled by the filter itself (validation_filter.go "Missing name")', () => {
  assert.equal(validateOutput(WEP_KEY, wep({ name: '' }))?.rule, 'ValidationFilter (missing name)');
});

test('workload endpoint ports: port 0 fails gt=0, a udplite port fails validateBackendEndpointPort, a name with a space fails validateName', () => {
  assert.equal(validateOutput(WEP_KEY, wep({ ports: [{ name: 'http', protocol: 'tcp', port: 0 }] }))?.rule, 'gt=0');
  assert.equal(validateOutput(WEP_KEY, wep({ ports: [{ name: 'x', protocol: 'udplite', port: 5 }] }))?.rule, 'validateBackendEndpointPort');
  assert.equal(validateOutput(WEP_KEY, wep({ ports: [{ name: 'my port', protocol: 'tcp', port: 5 }] }))?.rule, 'validateName');
  assert.equal(validateOutput(WEP_KEY, wep({ ports: [{ name: 'http', protocol: 'sctp', port: 5 }], labels: { 'not a v1 label!': 'is never checked' } })), undefined);
});

test('a host endpoint interface of 16 characters fails validateInterface; "*" passes; a bad label value fails the v1 validateLabels', () => {
  const key = '/calico/v1/host/n1/endpoint/hep1';
  assert.equal(validateOutput(key, { name: 'x'.repeat(16) })?.rule, 'validateInterface');
  assert.equal(validateOutput(key, { name: '*', labels: { a: 'ok' } }), undefined);
  assert.equal(validateOutput(key, { name: 'eth0', labels: { a: 'v'.repeat(64) } })?.rule, 'validateLabels');
});

test('the v1 label rules differ from the v3 ones: a key with two slashes passes v1 (NetworkSet) but fails IsQualifiedName (v3)', () => {
  assert.equal(validateOutput('/calico/v1/netset/ns1', { nets: [], labels: { 'a/b/c': 'x' } }), undefined);
  assert.equal(validateOutput(`${V3}/nodes/n1`, v3('Node', 'n1', {}, { labels: { 'a/b/c': 'x' } }))?.rule, 'validateObjectMetaLabels');
  assert.equal(validateOutput('/calico/v1/netset/ns1', { nets: [], profile_ids: ['has space'] })?.rule, 'validateName');
});

test('raw-text values and the profile labels map are never validated, as Go validates only pointers to structs', () => {
  assert.equal(validateOutput('/calico/v1/config/LogSeverityScreen', 'not a level'), undefined);
  assert.equal(validateOutput('/calico/v1/host/n1/bird_ip', 'not an ip'), undefined);
  assert.equal(validateOutput('/calico/v1/policy/profile/kns.x/labels', { 'bad key!': 'x'.repeat(100) }), undefined);
});

test('every key kind a syncer emits is classified into the bounded kind set', () => {
  const cases: Record<string, string> = {
    [`${V3}/nodes/n1`]: 'Node', [PROFILE_KEY('kns.a')]: 'Profile', [`${V3}/bgppeers/p`]: 'BGPPeer',
    [`${V3}/bgpconfigurations/default`]: 'BGPConfiguration', [`${V3}/kubernetesendpointslices/ns/s`]: 'KubernetesEndpointSlice',
    [`${V3}/caliconodestatuses/s`]: 'CalicoNodeStatus', [POLICY_KEY]: 'Policy', '/calico/v1/policy/profile/kns.a/rules': 'ProfileRules',
    '/calico/v1/policy/profile/kns.a/labels': 'ProfileLabels', [WEP_KEY]: 'WorkloadEndpoint', '/calico/v1/host/n1/endpoint/h': 'HostEndpoint',
    '/calico/v1/host/n1/config/IpInIpTunnelAddr': 'HostConfig', '/calico/v1/host/n1/bird_ip': 'HostIP', '/calico/v1/host/n1/wireguard': 'Wireguard',
    '/calico/v1/netset/x': 'NetworkSet', '/calico/v1/ipam/v4/pool/10.0.0.0-16': 'IPPool', '/calico/v1/config/ClusterGUID': 'GlobalConfig',
    '/calico/v1/Ready': 'ReadyFlag', '/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26': 'AllocationBlock',
    '/calico/ipam/v2/host/n1/ipv4/block/10.0.0.0-26': 'BlockAffinity', '/somewhere/else': 'Other',
  };
  for (const [key, kind] of Object.entries(cases)) assert.equal(outputKind(key), kind, key);
  assert.ok(Object.values(cases).every((k) => OUTPUT_KINDS.includes(k)));
});

// --- What our conversions emit that Typha's filter nulls (found by running them through it) ---

test('converted objects Typha would withhold: a pod port named with a space, a policy with port 0, a host endpoint profile with a space, a BGPConfiguration log level in lower case', () => {
  const rulesOf = (kind: Parameters<typeof convert>[0], object: unknown, syncer?: 'felix' | 'bgp') => Object.values(failures(convert(kind, object, syncer)));
  assert.deepEqual(rulesOf(KINDS.pods, {
    metadata: { name: 'web', namespace: 'shop' },
    spec: { nodeName: 'node-1', containers: [{ ports: [{ name: 'web port', containerPort: 8080 }] }] },
    status: { podIP: '10.65.0.9', phase: 'Running' },
  }), ['validateName']);
  assert.deepEqual(rulesOf(KINDS.globalNetworkPolicies, {
    metadata: { name: 'zero' }, spec: { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [0] } }] },
  }), ['validatePort']);
  assert.deepEqual(rulesOf(KINDS.hostEndpoints, {
    metadata: { name: 'eth0-host' }, spec: { node: 'node-1', interfaceName: 'eth0', profiles: ['edge gateway'] },
  }), ['validateName']);
  assert.deepEqual(rulesOf(KINDS.bgpConfigurations, { metadata: { name: 'default' }, spec: { logSeverityScreen: 'info' } }, 'bgp'), ['validateLogLevel']);
});
