/**
 * Kubernetes-datastore objects (a manifest directory such as examples/cluster) rewritten as a
 * Calico v3.20 cluster in etcd mode stores them: Calico resources as v3 JSON under
 * `/calico/resources/v3/projectcalico.org/...`, Pods as WorkloadEndpoints (as the CNI plugin
 * writes them), Namespaces and pods' ServiceAccounts as `kns.` / `ksa.` Profiles (as
 * kube-controllers writes them), Kubernetes Nodes as Calico Nodes (as calico-node writes them),
 * and IPAM blocks and affinities as v1 values under `/calico/ipam/v2/...`. Kubernetes
 * NetworkPolicies, Services and EndpointSlices have no etcd form Typha reads and are skipped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { workloadEndpointName, interfaceName } from '../../src/calico/workloadEndpoint.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { findKind } from '../../src/datastore/kinds.ts';

const V3 = '/calico/resources/v3/projectcalico.org';

/** Every object of every `*.yaml` in `dir` (List items expanded). */
export function readManifests(dir: string): RawObject[] {
  const out: RawObject[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      const o = doc.toJS() as RawObject | null;
      if (o === null || typeof o !== 'object') continue;
      if (o.kind === 'List' && Array.isArray(o.items)) out.push(...(o.items as RawObject[]));
      else out.push(o);
    }
  }
  return out;
}

const segment = (cidr: string): string => cidr.replace('/', '-');

function meta(o: RawObject, name = o.metadata.name, namespace?: string): Record<string, unknown> {
  const m: Record<string, unknown> = { name };
  if (namespace !== undefined) m.namespace = namespace;
  if (o.metadata.uid !== undefined) m.uid = o.metadata.uid;
  if (o.metadata.creationTimestamp !== undefined) m.creationTimestamp = o.metadata.creationTimestamp;
  return m;
}

function profile(name: string, labelsToApply: Record<string, string>, allow: boolean): [string, unknown] {
  const rule = { action: 'Allow', source: {}, destination: {} };
  return [`${V3}/profiles/${name}`, {
    apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name },
    spec: { ...(allow ? { ingress: [rule], egress: [rule] } : {}), labelsToApply },
  }];
}

function podIPs(pod: RawObject): string[] {
  const status = (pod.status ?? {}) as { podIPs?: { ip: string }[]; podIP?: string };
  const ips = status.podIPs?.map((p) => p.ip) ?? (status.podIP ? [status.podIP] : []);
  return ips.map((ip) => (ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`));
}

/** The etcd key → JSON value pairs of the cluster the objects describe. */
export function toEtcdLayout(objects: readonly RawObject[]): Map<string, string> {
  const out = new Map<string, unknown>();
  const serviceAccounts = new Set<string>();
  for (const o of objects) {
    try {
      addObject(o, out, serviceAccounts);
    } catch {
      // An object too malformed to translate (the torture run makes such) has no etcd form.
    }
  }
  for (const id of serviceAccounts) {
    const [ns, sa] = id.split('/') as [string, string];
    out.set(...profile(`ksa.${ns}.${sa}`, { 'pcsa.projectcalico.org/name': sa }, false));
  }
  return new Map([...out].map(([k, v]) => [k, JSON.stringify(v)]));
}

function addObject(o: RawObject, out: Map<string, unknown>, serviceAccounts: Set<string>): void {
  const ns = o.metadata.namespace;
  if (o.apiVersion === 'v1' && o.kind === 'Namespace') {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.metadata.labels ?? {})) labels[`pcns.${k}`] = v;
    labels['pcns.projectcalico.org/name'] = o.metadata.name;
    out.set(...profile(`kns.${o.metadata.name}`, labels, true));
  } else if (o.apiVersion === 'v1' && o.kind === 'Pod') {
    const spec = (o.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean; serviceAccountName?: string };
    const ips = podIPs(o);
    if (spec.hostNetwork || !spec.nodeName || ips.length === 0 || ns === undefined) return;
    const sa = spec.serviceAccountName ?? 'default';
    serviceAccounts.add(`${ns}/${sa}`);
    const name = workloadEndpointName(spec.nodeName, o.metadata.name);
    out.set(`${V3}/workloadendpoints/${ns}/${name}`, {
      apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint',
      metadata: {
        ...meta(o, name, ns), ...(o.metadata.generateName ? { generateName: o.metadata.generateName } : {}),
        labels: { ...(o.metadata.labels ?? {}), 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s', 'projectcalico.org/serviceaccount': sa },
      },
      spec: {
        orchestrator: 'k8s', node: spec.nodeName, pod: o.metadata.name, endpoint: 'eth0', serviceAccountName: sa,
        ipNetworks: ips, profiles: [`kns.${ns}`, `ksa.${ns}.${sa}`], interfaceName: interfaceName(ns, o.metadata.name),
      },
    });
  } else if (o.apiVersion === 'v1' && o.kind === 'Node') {
    const a = o.metadata.annotations ?? {};
    const bgp: Record<string, unknown> = {};
    if (a['projectcalico.org/IPv4Address']) bgp.ipv4Address = a['projectcalico.org/IPv4Address'];
    if (a['projectcalico.org/IPv4IPIPTunnelAddr']) bgp.ipv4IPIPTunnelAddr = a['projectcalico.org/IPv4IPIPTunnelAddr'];
    if (a['projectcalico.org/ASNumber']) bgp.asNumber = Number(a['projectcalico.org/ASNumber']);
    out.set(`${V3}/nodes/${o.metadata.name}`, {
      apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { ...meta(o), labels: o.metadata.labels ?? {} },
      spec: { bgp, orchRefs: [{ nodeName: o.metadata.name, orchestrator: 'k8s' }] },
    });
  } else if (o.kind === 'IPAMBlock') {
    const spec = o.spec as Record<string, unknown>;
    const cidr = String(spec.cidr);
    out.set(`/calico/ipam/v2/assignment/ipv${cidr.includes(':') ? 6 : 4}/block/${segment(cidr)}`, {
      cidr, affinity: spec.affinity ?? null, allocations: spec.allocations ?? [], unallocated: spec.unallocated ?? [],
      attributes: spec.attributes ?? [], deleted: spec.deleted === true,
    });
  } else if (o.kind === 'BlockAffinity') {
    const spec = o.spec as Record<string, unknown>;
    const cidr = String(spec.cidr);
    out.set(`/calico/ipam/v2/host/${String(spec.node)}/ipv${cidr.includes(':') ? 6 : 4}/block/${segment(cidr)}`, {
      state: spec.state, deleted: spec.deleted === 'true',
    });
  } else {
    const info = findKind(String(o.apiVersion), String(o.kind));
    if (info === undefined || info.group !== 'crd.projectcalico.org') return;
    const path = info.namespaced ? `${V3}/${info.plural}/${ns ?? 'default'}/${o.metadata.name}` : `${V3}/${info.plural}/${o.metadata.name}`;
    out.set(path, {
      apiVersion: 'projectcalico.org/v3', kind: o.kind,
      metadata: { ...meta(o, o.metadata.name, info.namespaced ? ns ?? 'default' : undefined), ...(o.metadata.labels ? { labels: o.metadata.labels } : {}) },
      spec: o.spec ?? {},
    });
  }
}
