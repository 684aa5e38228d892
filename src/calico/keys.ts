/**
 * Calico v3.20 default-path key formats (libcalico-go `lib/backend/model`). Only the segments
 * Calico escapes are escaped here (policy, profile, workload, endpoint and network-set names);
 * hostnames, config names and ResourceKey segments are used raw, as Go does.
 */
import { maskNet, formatNet, parseCIDR, type IPNet } from './net.ts';

/** `%` → `%25`, then `/` → `%2f`, in that order so the result unescapes unambiguously. */
export function escapeName(name: string): string {
  return name.replaceAll('%', '%25').replaceAll('/', '%2f');
}

export function unescapeName(segment: string): string {
  return segment.replaceAll('%2f', '/').replaceAll('%25', '%');
}

export function policyKey(name: string): string {
  return `/calico/v1/policy/tier/default/policy/${escapeName(name)}`;
}

export function profileRulesKey(name: string): string {
  return `/calico/v1/policy/profile/${escapeName(name)}/rules`;
}

export function profileLabelsKey(name: string): string {
  return `/calico/v1/policy/profile/${escapeName(name)}/labels`;
}

export function workloadEndpointKey(host: string, orchestrator: string, workload: string, endpoint: string): string {
  return `/calico/v1/host/${host}/workload/${escapeName(orchestrator)}/${escapeName(workload)}/endpoint/${escapeName(endpoint)}`;
}

export function hostEndpointKey(host: string, endpointId: string): string {
  return `/calico/v1/host/${host}/endpoint/${escapeName(endpointId)}`;
}

export function networkSetKey(name: string): string {
  return `/calico/v1/netset/${escapeName(name)}`;
}

export function globalConfigKey(name: string): string {
  return `/calico/v1/config/${name}`;
}

export function hostConfigKey(host: string, name: string): string {
  return `/calico/v1/host/${host}/config/${name}`;
}

export const READY_FLAG_KEY = '/calico/v1/Ready';

export function hostIPKey(host: string): string {
  return `/calico/v1/host/${host}/bird_ip`;
}

export function wireguardKey(node: string): string {
  return `/calico/v1/host/${node}/wireguard`;
}

/** `10.0.0.0/16` → `10.0.0.0-16`: the path form of a (masked) CIDR. */
function cidrPathSegment(net: IPNet): string {
  return formatNet(maskNet(net)).replace('/', '-');
}

/** Parses a CIDR for use in a key; throws when it cannot name a key at all. */
export function cidrForKey(text: unknown, what: string): IPNet {
  const net = typeof text === 'string' ? parseCIDR(text) : undefined;
  if (!net) throw new Error(`${what} ${JSON.stringify(text)} is not a valid CIDR`);
  return maskNet(net);
}

export function ipPoolKey(net: IPNet): string {
  return `/calico/v1/ipam/v${net.ip.version}/pool/${cidrPathSegment(net)}`;
}

export function blockKey(net: IPNet): string {
  return `/calico/ipam/v2/assignment/ipv${net.ip.version}/block/${cidrPathSegment(net)}`;
}

export function blockAffinityKey(host: string, net: IPNet): string {
  return `/calico/ipam/v2/host/${host}/ipv${net.ip.version}/block/${cidrPathSegment(net)}`;
}

/** A v3 ResourceKey path: the plural is lower-case, name and namespace are raw. */
export function resourceKey(plural: string, name: string, namespace?: string): string {
  const base = `/calico/resources/v3/projectcalico.org/${plural}`;
  return namespace ? `${base}/${namespace}/${name}` : `${base}/${name}`;
}
