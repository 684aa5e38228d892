/**
 * The objects the bench datastore serves. Two shapes:
 * - delta objects: GlobalNetworkSet-like objects whose model value is ~600 B of MessagePack and
 *   starts with `t`, the wall-clock time (ms, fractional) at which the datastore made the change,
 *   so a client can time datastore change → receipt without decoding the rest;
 * - pods: realistic Kubernetes Pods that the real Calico conversion turns into v1
 *   WorkloadEndpoint keys (`/calico/v1/host/<node>/workload/k8s/<ns>%2f<pod>/endpoint/eth0`).
 */
import { KINDS } from '../src/datastore/kinds.ts';
import type { RawObject } from '../src/datastore/types.ts';

/** Nets per delta value: 32 IPv4 /32s plus the labels make a ~600 B MessagePack value. */
const NETS_PER_SET = 32;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export function deltaObject(seq: number, keys: number, stampMs: number): RawObject {
  const slot = seq % keys;
  const nets: string[] = [];
  for (let i = 0; i < NETS_PER_SET; i++) nets.push(`10.${(slot >> 8) & 0xff}.${slot & 0xff}.${(seq + i) & 0xff}/32`);
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'GlobalNetworkSet',
    metadata: {
      name: `bench-set-${slot}`,
      resourceVersion: String(seq + 1),
      labels: { 'app.kubernetes.io/name': 'bench', 'bench.cattail.io/slot': String(slot), tier: 'frontend' },
    },
    spec: { nets, stampMs },
  };
}

/** The model key and value of a delta object (the bench syncer's conversion). */
export function deltaKV(obj: RawObject): { key: string; value: Record<string, unknown> } {
  const spec = obj.spec as { nets: string[]; stampMs: number };
  return { key: `/calico/v1/netset/${obj.metadata.name}`, value: { t: spec.stampMs, labels: obj.metadata.labels ?? {}, nets: spec.nets } };
}

/** A Running pod with one IP, two labelled ports and a service account, as kubelet reports it. */
export function podObject(index: number, nodes: number, namespaces: number): RawObject {
  const ns = `ns-${index % namespaces}`;
  const name = `web-${(index * 2654435761 >>> 0).toString(36)}-${index}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      uid: `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
      resourceVersion: String(index + 1),
      generateName: `web-${index % 97}-`,
      labels: { app: `web-${index % 97}`, 'pod-template-hash': (index % 9973).toString(16), tier: index % 3 === 0 ? 'backend' : 'frontend' },
    },
    spec: {
      nodeName: `node-${index % nodes}`,
      serviceAccountName: `sa-${index % 7}`,
      containers: [{ name: 'app', image: 'registry.example/web:1.2.3', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }] }],
    },
    status: { phase: 'Running', podIP: `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}`, podIPs: [{ ip: `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}` }] },
  };
}

export function namespaceObject(index: number): RawObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${index}`, resourceVersion: '1', labels: { team: `team-${index % 5}` } } };
}

export const DELTA_KIND = KINDS.globalNetworkSets;
export const POD_KIND = KINDS.pods;
