import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FELIX_CONFIG_FIELDS } from '../../src/calico/felixConfigFields.ts';
import { KINDS, assertKVs, convert } from './support.ts';

function felixConfig(name: string, spec: object, annotations?: Record<string, string>): object {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'FelixConfiguration', metadata: { name, annotations }, spec };
}

test('field types are stringified as libcalico-go does (configurationprocessor_test vector)', () => {
  const kvs = convert(KINDS.felixConfigurations, felixConfig('node.mynode', {
    routeRefreshInterval: '12.345s', iptablesLockProbeInterval: '54.321ms', endpointReportingDelay: '0s',
    ipsetsRefreshInterval: '100ms', interfacePrefix: 'califoobar', ipipEnabled: false, iptablesMarkMask: 1313,
    failsafeInboundHostPorts: [],
    failsafeOutboundHostPorts: [
      { protocol: 'TCP', port: 1234, net: '0.0.0.0/0' }, { protocol: 'UDP', port: 22, net: '0.0.0.0/0' }, { protocol: 'TCP', port: 65535, net: '0.0.0.0/0' },
    ],
    externalNodesList: ['1.1.1.1', '2.2.2.2'], iptablesNATOutgoingInterfaceFilter: 'cali-123', routeTableRange: { min: 43, max: 211 },
  }));
  const k = (name: string): string => `/calico/v1/host/mynode/config/${name}`;
  assertKVs(kvs, [
    { key: k('RouteRefreshInterval'), value: '12.345' },
    { key: k('IptablesLockProbeIntervalMillis'), value: '54.321' },
    { key: k('IpsetsRefreshInterval'), value: '0.1' },
    { key: k('InterfacePrefix'), value: 'califoobar' },
    { key: k('IpInIpEnabled'), value: 'false' },
    { key: k('EndpointReportingDelaySecs'), value: '0' },
    { key: k('IptablesMarkMask'), value: '1313' },
    { key: k('FailsafeInboundHostPorts'), value: 'none' },
    { key: k('FailsafeOutboundHostPorts'), value: 'tcp:0.0.0.0/0:1234,udp:0.0.0.0/0:22,tcp:0.0.0.0/0:65535' },
    { key: k('ExternalNodesCIDRList'), value: '1.1.1.1,2.2.2.2' },
    { key: k('IptablesNATOutgoingInterfaceFilter'), value: 'cali-123' },
    { key: k('RouteTableRange'), value: '43-211' },
  ]);
});

test('the docs FelixConfiguration gives global keys with the v1 renames', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { ipv6Support: false, ipipMTU: 1400, chainInsertMode: 'Append' })), [
    { key: '/calico/v1/config/Ipv6Support', value: 'false' },
    { key: '/calico/v1/config/ChainInsertMode', value: 'Append' },
    { key: '/calico/v1/config/IpInIpMtu', value: '1400' },
  ]);
});

test('every v1 rename of v3.20 is in the field table', () => {
  const renamed = FELIX_CONFIG_FIELDS.filter((f) => f.v1.toLowerCase() !== f.json.toLowerCase()).map((f) => f.v1);
  assert.deepEqual(renamed.sort(), [
    'EndpointReportingDelaySecs', 'ExternalNodesCIDRList', 'IpInIpEnabled', 'IpInIpMtu', 'IptablesLockProbeIntervalMillis',
    'IptablesLockTimeoutSecs', 'IptablesPostWriteCheckIntervalSecs', 'NetlinkTimeoutSecs', 'ReportingIntervalSecs',
    'ReportingTTLSecs', 'UsageReportingInitialDelaySecs', 'UsageReportingIntervalSecs',
  ]);
});

test('KubeNodePortRanges is printed as a Go slice and large durations in Go exponent form', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', {
    reportingInterval: '86400s', usageReportingInterval: '1000000s', kubeNodePortRanges: ['30000:32767', 8080], natPortRange: '32768:65535',
  })), [
    { key: '/calico/v1/config/ReportingIntervalSecs', value: '86400' },
    { key: '/calico/v1/config/KubeNodePortRanges', value: '[30000:32767 8080]' },
    { key: '/calico/v1/config/UsageReportingIntervalSecs', value: '1e+06' },
    { key: '/calico/v1/config/NATPortRange', value: '32768:65535' },
  ]);
});

test('failsafe ports lower-case the protocol and bracket IPv6 nets', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', {
    failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22 }, { protocol: 'UDP', port: 68, net: 'fd00::/8' }],
  })), [{ key: '/calico/v1/config/FailsafeInboundHostPorts', value: 'tcp:22,udp:[fd00::/8]:68' }]);
});

test('annotations override fields and add extra keys, unvalidated', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { logSeverityScreen: 'Info' }, {
    'config.projectcalico.org/LogSeverityScreen': 'Debug', 'config.projectcalico.org/ZNew': 'x', 'config.projectcalico.org/ANew': 'y', other: 'z',
  })), [
    { key: '/calico/v1/config/LogSeverityScreen', value: 'Debug' },
    { key: '/calico/v1/config/ANew', value: 'y' },
    { key: '/calico/v1/config/ZNew', value: 'x' },
  ]);
});

test('a wrongly typed field is an error on its own key only', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { routeRefreshInterval: 'soon', healthPort: 9099 })), [
    { key: '/calico/v1/config/RouteRefreshInterval', value: null, error: 'routeRefreshInterval "soon" is not a duration' },
    { key: '/calico/v1/config/HealthPort', value: '9099' },
  ]);
});

test('a configuration named neither default nor node.<name> cannot name keys', () => {
  assert.throws(() => convert(KINDS.felixConfigurations, felixConfig('foobar', {})), /default/);
});

test('ClusterInformation default gives global config keys and the ready flag', () => {
  assertKVs(convert(KINDS.clusterInformations, {
    metadata: { name: 'default', annotations: { 'config.projectcalico.org/ClusterType': 'ignored' } },
    spec: { clusterGUID: 'abcedfg', clusterType: 'Mesos,K8s', calicoVersion: 'v3.20.0', datastoreReady: true },
  }), [
    { key: '/calico/v1/config/ClusterGUID', value: 'abcedfg' },
    { key: '/calico/v1/config/ClusterType', value: 'Mesos,K8s' },
    { key: '/calico/v1/config/CalicoVersion', value: 'v3.20.0' },
    { key: '/calico/v1/Ready', value: 'true' },
  ]);
  assertKVs(convert(KINDS.clusterInformations, { metadata: { name: 'default' }, spec: { datastoreReady: false } }), [
    { key: '/calico/v1/Ready', value: 'false' },
  ]);
});

test('per-node ClusterInformation never sets the ready flag', () => {
  assertKVs(convert(KINDS.clusterInformations, { metadata: { name: 'node.n1' }, spec: { datastoreReady: true, variant: 'Calico' } }), [
    { key: '/calico/v1/host/n1/config/Variant', value: 'Calico' },
  ]);
});

// Vectors worked out from libcalico-go e9d17133 updateprocessors/felixconfigprocessor.go
// (protoPortSliceToString, routeTableRangeToString) and configurationprocessor.go.
test('failsafe nets are printed as written, bracketed only when cnet.ParseCIDROrIP reads IPv6', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', {
    failsafeInboundHostPorts: [{ protocol: 'Tcp', port: 22, net: '10.1.2.3/8' }, { protocol: 'UDP', port: 53, net: '::ffff:10.0.0.1' }, { protocol: 'sctp', port: 9, net: 'FD00::1' }],
  })), [{ key: '/calico/v1/config/FailsafeInboundHostPorts', value: 'tcp:10.1.2.3/8:22,udp:::ffff:10.0.0.1:53,sctp:[FD00::1]:9' }]);
});

test('a failsafe entry without protocol or port prints Go zero values', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { failsafeOutboundHostPorts: [{ port: 22 }, { protocol: 'TCP' }] })), [
    { key: '/calico/v1/config/FailsafeOutboundHostPorts', value: ':22,tcp:0' },
  ]);
});

test('a failsafe net that does not parse is an error on that key only (Go would panic on the nil IP)', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, net: 'bogus' }], healthPort: 1 })), [
    { key: '/calico/v1/config/HealthPort', value: '1' },
    { key: '/calico/v1/config/FailsafeInboundHostPorts', value: null, error: 'failsafeInboundHostPorts[0].net "bogus" is not a valid CIDR or IP' },
  ]);
});

test('RouteTableRange prints %d-%d with an absent bound as 0', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { routeTableRange: { max: 250 } })), [
    { key: '/calico/v1/config/RouteTableRange', value: '0-250' },
  ]);
});

test('a non-pointer string field that is empty gives no key; a pointer string keeps an empty value', () => {
  assertKVs(convert(KINDS.felixConfigurations, felixConfig('default', { logPrefix: '', healthHost: '', iptablesBackend: 'NFT' })), [
    { key: '/calico/v1/config/IptablesBackend', value: 'NFT' },
    { key: '/calico/v1/config/HealthHost', value: '' },
  ]);
});
