/**
 * What each syncer type reads and how each kind converts, per datastore, as Calico v3.20 wires
 * its syncers with Typha's settings (leader felix syncer, bgp syncer for all nodes, Calico IPAM):
 * libcalico-go `felixsyncerv1.go`, `bgpsyncer.go`, `tunnelipsyncer.go`; node-status as v3.21.
 * The Kubernetes tables (also the file datastore's) are KDD mode; the etcd tables are etcdv3
 * mode, where WorkloadEndpoints, Profiles and Calico Nodes are stored as v3 resources and the
 * felix syncer reads no Kubernetes NetworkPolicies or EndpointSlices (kube-controllers copies
 * policies into etcd).
 */
import { ETCD_KINDS, KINDS, type KindInfo } from '../datastore/kinds.ts';
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV, SyncerType, SyncerTypeSpec } from '../syncer/types.ts';
import { convertBGPConfiguration, convertBGPPeer } from './bgp.ts';
import { convertClusterInformation, convertFelixConfiguration } from './configProcessor.ts';
import { convertEndpointSlice } from './endpointSlice.ts';
import { convertHostEndpoint } from './hostEndpoint.ts';
import { convertBlockAffinity, convertIPAMBlock } from './ipam.ts';
import { convertIPPool } from './ipPool.ts';
import { convertK8sNetworkPolicy } from './k8sNetworkPolicy.ts';
import { convertGlobalNetworkSet, convertNetworkSet } from './networkSets.ts';
import { convertNodeForFelix, convertNodeResource } from './node.ts';
import { convertCalicoNodeStatus } from './nodeStatus.ts';
import { convertGlobalNetworkPolicy, convertNetworkPolicy } from './policy.ts';
import { convertNamespace, convertServiceAccount, defaultAllowProfileKVs } from './profiles.ts';
import { convertPod } from './workloadEndpoint.ts';
import { convertCalicoNodeForFelix, convertCalicoNodeResource, convertV3Profile, convertV3WorkloadEndpoint } from './v3Resources.ts';

type KindConverter = (object: RawObject) => ConvertedKV[];

/** Kinds in the order Calico's syncer declares them, each with its conversion. */
const FELIX: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.clusterInformations, convertClusterInformation],
  [KINDS.felixConfigurations, convertFelixConfiguration],
  [KINDS.globalNetworkPolicies, convertGlobalNetworkPolicy],
  [KINDS.globalNetworkSets, convertGlobalNetworkSet],
  [KINDS.ipPools, convertIPPool],
  [KINDS.nodes, convertNodeForFelix],
  [KINDS.namespaces, convertNamespace],
  [KINDS.serviceAccounts, convertServiceAccount],
  [KINDS.pods, convertPod],
  [KINDS.networkPolicies, convertNetworkPolicy],
  [KINDS.networkSets, convertNetworkSet],
  [KINDS.hostEndpoints, convertHostEndpoint],
  [KINDS.bgpConfigurations, convertBGPConfiguration],
  [KINDS.k8sNetworkPolicies, convertK8sNetworkPolicy],
  [KINDS.endpointSlices, convertEndpointSlice],
  [KINDS.ipamBlocks, convertIPAMBlock],
];

const BGP: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.ipPools, convertIPPool],
  [KINDS.bgpConfigurations, convertBGPConfiguration],
  [KINDS.nodes, convertNodeResource],
  [KINDS.bgpPeers, convertBGPPeer],
  [KINDS.blockAffinities, convertBlockAffinity],
];

const TUNNEL_IP_ALLOCATION: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.ipPools, convertIPPool],
  [KINDS.nodes, convertNodeResource],
];

const NODE_STATUS: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.calicoNodeStatuses, convertCalicoNodeStatus],
];

/** etcdv3 mode: `felixsyncerv1.go` without the KDD-only kinds, v3 Profile and WorkloadEndpoint. */
const ETCD_FELIX: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.clusterInformations, convertClusterInformation],
  [KINDS.felixConfigurations, convertFelixConfiguration],
  [KINDS.globalNetworkPolicies, convertGlobalNetworkPolicy],
  [KINDS.globalNetworkSets, convertGlobalNetworkSet],
  [KINDS.ipPools, convertIPPool],
  [ETCD_KINDS.nodes, convertCalicoNodeForFelix],
  [ETCD_KINDS.profiles, convertV3Profile],
  [ETCD_KINDS.workloadEndpoints, convertV3WorkloadEndpoint],
  [KINDS.networkPolicies, convertNetworkPolicy],
  [KINDS.networkSets, convertNetworkSet],
  [KINDS.hostEndpoints, convertHostEndpoint],
  [KINDS.bgpConfigurations, convertBGPConfiguration],
  [KINDS.ipamBlocks, convertIPAMBlock],
];

const ETCD_BGP: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.ipPools, convertIPPool],
  [KINDS.bgpConfigurations, convertBGPConfiguration],
  [ETCD_KINDS.nodes, convertCalicoNodeResource],
  [KINDS.bgpPeers, convertBGPPeer],
  [KINDS.blockAffinities, convertBlockAffinity],
];

const ETCD_TUNNEL_IP_ALLOCATION: readonly (readonly [KindInfo, KindConverter])[] = [
  [KINDS.ipPools, convertIPPool],
  [ETCD_KINDS.nodes, convertCalicoNodeResource],
];

/** Which datastore's kinds the syncers read: the file datastore serves the Kubernetes shapes. */
export type SyncerDatastore = 'kubernetes' | 'etcdv3';

function spec(name: SyncerType, table: readonly (readonly [KindInfo, KindConverter])[], staticKVs?: readonly ConvertedKV[]): SyncerTypeSpec {
  const byId = new Map(table.map(([kind, convert]) => [kind.id, convert]));
  return {
    name,
    kinds: table.map(([kind]) => kind),
    convert: (kind, object) => {
      const convert = byId.get(kind.id);
      if (!convert) throw new Error(`the ${name} syncer does not read ${kind.id}`);
      if (typeof object !== 'object' || object === null || typeof object.metadata !== 'object' || object.metadata === null) {
        throw new Error(`${kind.id} object has no metadata`);
      }
      // The etcd datastore's mark on a key or value it could not read (see its layout).
      if (typeof object.decodeError === 'string') throw new Error(object.decodeError);
      return convert(object);
    },
    ...(staticKVs && { staticKVs }),
  };
}

/** Every syncer type Cattail serves, with the kinds it reads from `datastore` and its conversion. */
export function syncerSpecs(datastore: SyncerDatastore = 'kubernetes'): Record<SyncerType, SyncerTypeSpec> {
  if (datastore === 'etcdv3') {
    return {
      felix: spec('felix', ETCD_FELIX, defaultAllowProfileKVs()),
      bgp: spec('bgp', ETCD_BGP),
      'tunnel-ip-allocation': spec('tunnel-ip-allocation', ETCD_TUNNEL_IP_ALLOCATION),
      // CalicoNodeStatus arrived in v3.21; it is stored as a v3 resource in etcd mode too.
      'node-status': spec('node-status', NODE_STATUS),
    };
  }
  return {
    felix: spec('felix', FELIX, defaultAllowProfileKVs()),
    bgp: spec('bgp', BGP),
    'tunnel-ip-allocation': spec('tunnel-ip-allocation', TUNNEL_IP_ALLOCATION),
    'node-status': spec('node-status', NODE_STATUS),
  };
}
