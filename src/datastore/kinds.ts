/**
 * The resource kinds Cattail reads from a datastore: one table that the datastores (what to
 * list and watch), the syncers (which kinds feed which syncer type), the RBAC manifest and the
 * docs are all derived from. A kind is identified by its `id`, `<plural>` for the core group and
 * `<plural>.<group>` otherwise, exactly as Kubernetes names resources in RBAC rules.
 */
export interface KindInfo {
  /** Stable identifier: `pods`, `networkpolicies.networking.k8s.io`, `ippools.crd.projectcalico.org`. */
  readonly id: string;
  /** API group; '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /**
   * Alternative apiVersions accepted by the file datastore for this kind, e.g. Calico objects
   * written as `projectcalico.org/v3` by calicoctl are the same objects as the CRD form.
   */
  readonly aliases?: readonly string[];
}

const calico = (kind: string, plural: string, namespaced = false): KindInfo => ({
  id: `${plural}.crd.projectcalico.org`,
  group: 'crd.projectcalico.org',
  version: 'v1',
  kind,
  plural,
  namespaced,
  aliases: ['projectcalico.org/v3'],
});

export const KINDS = {
  pods: { id: 'pods', group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  namespaces: { id: 'namespaces', group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  serviceAccounts: { id: 'serviceaccounts', group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  nodes: { id: 'nodes', group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  k8sNetworkPolicies: {
    id: 'networkpolicies.networking.k8s.io', group: 'networking.k8s.io', version: 'v1',
    kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true,
  },
  endpointSlices: {
    // Calico v3.20 read discovery.k8s.io/v1beta1, which Kubernetes 1.25+ no longer serves.
    id: 'endpointslices.discovery.k8s.io', group: 'discovery.k8s.io', version: 'v1',
    kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true, aliases: ['discovery.k8s.io/v1beta1'],
  },
  clusterInformations: calico('ClusterInformation', 'clusterinformations'),
  felixConfigurations: calico('FelixConfiguration', 'felixconfigurations'),
  globalNetworkPolicies: calico('GlobalNetworkPolicy', 'globalnetworkpolicies'),
  globalNetworkSets: calico('GlobalNetworkSet', 'globalnetworksets'),
  ipPools: calico('IPPool', 'ippools'),
  networkPolicies: calico('NetworkPolicy', 'networkpolicies', true),
  networkSets: calico('NetworkSet', 'networksets', true),
  hostEndpoints: calico('HostEndpoint', 'hostendpoints'),
  bgpConfigurations: calico('BGPConfiguration', 'bgpconfigurations'),
  bgpPeers: calico('BGPPeer', 'bgppeers'),
  ipamBlocks: calico('IPAMBlock', 'ipamblocks'),
  blockAffinities: calico('BlockAffinity', 'blockaffinities'),
  calicoNodeStatuses: calico('CalicoNodeStatus', 'caliconodestatuses'),
} as const satisfies Record<string, KindInfo>;

/**
 * Kinds Calico stores only in etcd mode, as v3 resources under
 * `/calico/resources/v3/projectcalico.org/<plural>/`: in KDD mode the same data comes from Pods,
 * Namespaces, ServiceAccounts and Kubernetes Nodes. Not in {@link ALL_KINDS}: the Kubernetes and
 * file datastores never read them.
 */
export const ETCD_KINDS = {
  workloadEndpoints: { id: 'workloadendpoints.projectcalico.org', group: 'projectcalico.org', version: 'v3', kind: 'WorkloadEndpoint', plural: 'workloadendpoints', namespaced: true },
  profiles: { id: 'profiles.projectcalico.org', group: 'projectcalico.org', version: 'v3', kind: 'Profile', plural: 'profiles', namespaced: false },
  nodes: { id: 'nodes.projectcalico.org', group: 'projectcalico.org', version: 'v3', kind: 'Node', plural: 'nodes', namespaced: false },
} as const satisfies Record<string, KindInfo>;

export type KindKey = keyof typeof KINDS;
export type KindId = (typeof KINDS)[KindKey]['id'];

export const ALL_KINDS: readonly KindInfo[] = Object.values(KINDS);

/** The apiVersion string of a kind's primary form, e.g. `v1` or `crd.projectcalico.org/v1`. */
export function apiVersionOf(info: KindInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** Finds the kind an object of `apiVersion`/`kind` belongs to, accepting aliases. */
export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  for (const info of ALL_KINDS) {
    if (info.kind !== kind) continue;
    if (apiVersionOf(info) === apiVersion || info.aliases?.includes(apiVersion)) return info;
  }
  return undefined;
}

export function kindById(id: string): KindInfo | undefined {
  return ALL_KINDS.find((k) => k.id === id);
}
