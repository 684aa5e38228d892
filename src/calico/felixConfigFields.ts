/**
 * The FelixConfigurationSpec and ClusterInformationSpec fields of Calico v3.20, in Go struct
 * order, with the v1 config name each becomes (the Go field name, or its `confignamev1` tag)
 * and how its value is turned into the config string. Taken from projectcalico/api
 * `felixconfig.go` and libcalico-go `clusterinfo.go` at release-v3.20.
 */

type ConfigFieldType =
  | 'bool' | 'int' | 'string' | 'stringPtr' | 'seconds' | 'millis' | 'stringList'
  | 'protoPorts' | 'portList' | 'port' | 'routeTableRange';

export interface ConfigField {
  readonly json: string;
  readonly v1: string;
  readonly type: ConfigFieldType;
}

const f = (json: string, v1: string, type: ConfigFieldType): ConfigField => ({ json, v1, type });

export const FELIX_CONFIG_FIELDS: readonly ConfigField[] = [
  f('useInternalDataplaneDriver', 'UseInternalDataplaneDriver', 'bool'),
  f('dataplaneDriver', 'DataplaneDriver', 'string'),
  f('ipv6Support', 'Ipv6Support', 'bool'),
  f('routeRefreshInterval', 'RouteRefreshInterval', 'seconds'),
  f('interfaceRefreshInterval', 'InterfaceRefreshInterval', 'seconds'),
  f('iptablesRefreshInterval', 'IptablesRefreshInterval', 'seconds'),
  f('iptablesPostWriteCheckInterval', 'IptablesPostWriteCheckIntervalSecs', 'seconds'),
  f('iptablesLockFilePath', 'IptablesLockFilePath', 'string'),
  f('iptablesLockTimeout', 'IptablesLockTimeoutSecs', 'seconds'),
  f('iptablesLockProbeInterval', 'IptablesLockProbeIntervalMillis', 'millis'),
  f('featureDetectOverride', 'FeatureDetectOverride', 'string'),
  f('ipsetsRefreshInterval', 'IpsetsRefreshInterval', 'seconds'),
  f('maxIpsetSize', 'MaxIpsetSize', 'int'),
  f('iptablesBackend', 'IptablesBackend', 'stringPtr'),
  f('xdpRefreshInterval', 'XDPRefreshInterval', 'seconds'),
  f('netlinkTimeout', 'NetlinkTimeoutSecs', 'seconds'),
  f('metadataAddr', 'MetadataAddr', 'string'),
  f('metadataPort', 'MetadataPort', 'int'),
  f('openstackRegion', 'OpenstackRegion', 'string'),
  f('interfacePrefix', 'InterfacePrefix', 'string'),
  f('interfaceExclude', 'InterfaceExclude', 'string'),
  f('chainInsertMode', 'ChainInsertMode', 'string'),
  f('defaultEndpointToHostAction', 'DefaultEndpointToHostAction', 'string'),
  f('iptablesFilterAllowAction', 'IptablesFilterAllowAction', 'string'),
  f('iptablesMangleAllowAction', 'IptablesMangleAllowAction', 'string'),
  f('logPrefix', 'LogPrefix', 'string'),
  f('logFilePath', 'LogFilePath', 'string'),
  f('logSeverityFile', 'LogSeverityFile', 'string'),
  f('logSeverityScreen', 'LogSeverityScreen', 'string'),
  f('logSeveritySys', 'LogSeveritySys', 'string'),
  f('ipipEnabled', 'IpInIpEnabled', 'bool'),
  f('ipipMTU', 'IpInIpMtu', 'int'),
  f('vxlanEnabled', 'VXLANEnabled', 'bool'),
  f('vxlanMTU', 'VXLANMTU', 'int'),
  f('vxlanPort', 'VXLANPort', 'int'),
  f('vxlanVNI', 'VXLANVNI', 'int'),
  f('allowVXLANPacketsFromWorkloads', 'AllowVXLANPacketsFromWorkloads', 'bool'),
  f('allowIPIPPacketsFromWorkloads', 'AllowIPIPPacketsFromWorkloads', 'bool'),
  f('reportingInterval', 'ReportingIntervalSecs', 'seconds'),
  f('reportingTTL', 'ReportingTTLSecs', 'seconds'),
  f('endpointReportingEnabled', 'EndpointReportingEnabled', 'bool'),
  f('endpointReportingDelay', 'EndpointReportingDelaySecs', 'seconds'),
  f('iptablesMarkMask', 'IptablesMarkMask', 'int'),
  f('disableConntrackInvalidCheck', 'DisableConntrackInvalidCheck', 'bool'),
  f('healthEnabled', 'HealthEnabled', 'bool'),
  f('healthHost', 'HealthHost', 'stringPtr'),
  f('healthPort', 'HealthPort', 'int'),
  f('prometheusMetricsEnabled', 'PrometheusMetricsEnabled', 'bool'),
  f('prometheusMetricsHost', 'PrometheusMetricsHost', 'string'),
  f('prometheusMetricsPort', 'PrometheusMetricsPort', 'int'),
  f('prometheusGoMetricsEnabled', 'PrometheusGoMetricsEnabled', 'bool'),
  f('prometheusProcessMetricsEnabled', 'PrometheusProcessMetricsEnabled', 'bool'),
  f('prometheusWireGuardMetricsEnabled', 'PrometheusWireGuardMetricsEnabled', 'bool'),
  f('failsafeInboundHostPorts', 'FailsafeInboundHostPorts', 'protoPorts'),
  f('failsafeOutboundHostPorts', 'FailsafeOutboundHostPorts', 'protoPorts'),
  f('kubeNodePortRanges', 'KubeNodePortRanges', 'portList'),
  f('policySyncPathPrefix', 'PolicySyncPathPrefix', 'string'),
  f('usageReportingEnabled', 'UsageReportingEnabled', 'bool'),
  f('usageReportingInitialDelay', 'UsageReportingInitialDelaySecs', 'seconds'),
  f('usageReportingInterval', 'UsageReportingIntervalSecs', 'seconds'),
  f('natPortRange', 'NATPortRange', 'port'),
  f('natOutgoingAddress', 'NATOutgoingAddress', 'string'),
  f('deviceRouteSourceAddress', 'DeviceRouteSourceAddress', 'string'),
  f('deviceRouteProtocol', 'DeviceRouteProtocol', 'int'),
  f('removeExternalRoutes', 'RemoveExternalRoutes', 'bool'),
  f('externalNodesList', 'ExternalNodesCIDRList', 'stringList'),
  f('debugMemoryProfilePath', 'DebugMemoryProfilePath', 'string'),
  f('debugDisableLogDropping', 'DebugDisableLogDropping', 'bool'),
  f('debugSimulateCalcGraphHangAfter', 'DebugSimulateCalcGraphHangAfter', 'seconds'),
  f('debugSimulateDataplaneHangAfter', 'DebugSimulateDataplaneHangAfter', 'seconds'),
  f('iptablesNATOutgoingInterfaceFilter', 'IptablesNATOutgoingInterfaceFilter', 'string'),
  f('sidecarAccelerationEnabled', 'SidecarAccelerationEnabled', 'bool'),
  f('xdpEnabled', 'XDPEnabled', 'bool'),
  f('genericXDPEnabled', 'GenericXDPEnabled', 'bool'),
  f('bpfEnabled', 'BPFEnabled', 'bool'),
  f('bpfDisableUnprivileged', 'BPFDisableUnprivileged', 'bool'),
  f('bpfLogLevel', 'BPFLogLevel', 'string'),
  f('bpfDataIfacePattern', 'BPFDataIfacePattern', 'string'),
  f('bpfConnectTimeLoadBalancingEnabled', 'BPFConnectTimeLoadBalancingEnabled', 'bool'),
  f('bpfExternalServiceMode', 'BPFExternalServiceMode', 'string'),
  f('bpfExtToServiceConnmark', 'BPFExtToServiceConnmark', 'int'),
  f('bpfKubeProxyIptablesCleanupEnabled', 'BPFKubeProxyIptablesCleanupEnabled', 'bool'),
  f('bpfKubeProxyMinSyncPeriod', 'BPFKubeProxyMinSyncPeriod', 'seconds'),
  f('bpfKubeProxyEndpointSlicesEnabled', 'BPFKubeProxyEndpointSlicesEnabled', 'bool'),
  f('routeSource', 'RouteSource', 'string'),
  f('routeTableRange', 'RouteTableRange', 'routeTableRange'),
  f('wireguardEnabled', 'WireguardEnabled', 'bool'),
  f('wireguardListeningPort', 'WireguardListeningPort', 'int'),
  f('wireguardRoutingRulePriority', 'WireguardRoutingRulePriority', 'int'),
  f('wireguardInterfaceName', 'WireguardInterfaceName', 'string'),
  f('wireguardMTU', 'WireguardMTU', 'int'),
  f('wireguardHostEncryptionEnabled', 'WireguardHostEncryptionEnabled', 'bool'),
  f('awsSrcDstCheck', 'AWSSrcDstCheck', 'stringPtr'),
  f('serviceLoopPrevention', 'ServiceLoopPrevention', 'string'),
  f('mtuIfacePattern', 'MTUIfacePattern', 'string'),
  f('floatingIPs', 'FloatingIPs', 'stringPtr'),
];

/** `DatastoreReady` is special: it becomes the ready flag, and only for the global resource. */
export const CLUSTER_INFO_FIELDS: readonly ConfigField[] = [
  f('clusterGUID', 'ClusterGUID', 'string'),
  f('clusterType', 'ClusterType', 'string'),
  f('calicoVersion', 'CalicoVersion', 'string'),
  f('datastoreReady', 'DatastoreReady', 'bool'),
  f('variant', 'Variant', 'string'),
];
