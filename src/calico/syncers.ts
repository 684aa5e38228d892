/**
 * What each syncer type reads and how each kind converts, as Calico v3.20 wires its syncers in
 * KDD mode with Typha's settings (leader felix syncer, bgp syncer for all nodes, Calico IPAM):
 * libcalico-go `felixsyncerv1.go`, `bgpsyncer.go`, `tunnelipsyncer.go`; node-status as v3.21.
 */
import { KINDS, type KindInfo } from '../datastore/kinds.ts';
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
      return convert(object);
    },
    ...(staticKVs && { staticKVs }),
  };
}

/** Every syncer type Cattail serves, with the kinds it reads and its conversion. */
export function syncerSpecs(): Record<SyncerType, SyncerTypeSpec> {
  return {
    felix: spec('felix', FELIX, defaultAllowProfileKVs()),
    bgp: spec('bgp', BGP),
    'tunnel-ip-allocation': spec('tunnel-ip-allocation', TUNNEL_IP_ALLOCATION),
    'node-status': spec('node-status', NODE_STATUS),
  };
}
