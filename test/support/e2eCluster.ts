/**
 * A realistic cluster for the end-to-end tests (test/e2e/): a few hundred Kubernetes and Calico
 * objects written into the API server emulator, pod churn on top of it, and the model Cattail
 * must serve computed directly from the emulator's objects by the conversion functions.
 *
 * Deterministic: names, IPs and labels come from a seeded generator, so a failure reproduces.
 */
import { syncerSpecs } from '../../src/calico/index.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import type { SyncerType } from '../../src/syncer/types.ts';
import { expectedModel as computeExpectedModel } from './expectedModel.ts';
import type { K8sEmulator } from './k8sEmulator.ts';

const CALICO = 'crd.projectcalico.org/v1';
const CNI_IP = 'cni.projectcalico.org/podIP';
const CNI_IPS = 'cni.projectcalico.org/podIPs';

/** A service-account name longer than 63 characters (libcalico-go #1422). */
export const LONG_SERVICE_ACCOUNT = 'payments-reconciliation-batch-worker-with-a-very-long-descriptive-name';

export const NODE_COUNT = 8;
export const NAMESPACES = ['default', 'kube-system', 'frontend', 'backend', 'payments', 'monitoring', 'batch', 'search', 'ml-training', 'ingress'];
const APPS: Record<string, readonly string[]> = {
  default: ['hello'], 'kube-system': ['kube-dns', 'metrics-server'], frontend: ['web', 'static-assets'],
  backend: ['api', 'postgres', 'redis'], payments: ['payments', 'ledger'], monitoring: ['prometheus', 'grafana'],
  batch: ['cron-runner'], search: ['elastic', 'indexer'], 'ml-training': ['trainer'], ingress: ['nginx'],
};

/** Small deterministic PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function nodeName(i: number): string {
  return `node-${String(i).padStart(2, '0')}`;
}

/** Each node's affine /26 block: node-01 → 10.244.1.0/26. */
function blockOf(i: number): { cidr: string; prefix: string } {
  return { cidr: `10.244.${i}.0/26`, prefix: `10.244.${i}` };
}

function kubeNode(i: number): RawObject {
  const name = nodeName(i);
  const annotations: Record<string, string> = {
    'node.alpha.kubernetes.io/ttl': '0',
    'projectcalico.org/ASNumber': '64512',
    'projectcalico.org/IPv4Address': `192.168.56.${10 + i}/24`,
    'projectcalico.org/IPv4IPIPTunnelAddr': `${blockOf(i).prefix}.0`,
  };
  if (i === 2) {
    annotations['projectcalico.org/IPv4VXLANTunnelAddr'] = `${blockOf(i).prefix}.63`;
    annotations['projectcalico.org/VXLANTunnelMACAddr'] = '66:2f:9a:41:0c:7e';
  }
  if (i === 3) {
    annotations['projectcalico.org/IPv4WireguardInterfaceAddr'] = `${blockOf(i).prefix}.62`;
    annotations['projectcalico.org/WireguardPublicKey'] = 'jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY=';
  }
  if (i === 4) annotations['projectcalico.org/RouteReflectorClusterID'] = '224.0.0.1';
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux',
        'topology.kubernetes.io/zone': i % 2 === 0 ? 'zone-a' : 'zone-b',
        ...(i === 1 ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
      annotations,
    },
    spec: { podCIDR: `10.250.${i}.0/24`, podCIDRs: [`10.250.${i}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: `192.168.56.${10 + i}` }, { type: 'Hostname', address: name }] },
  };
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly node?: string;
  readonly ip?: string;
  readonly app: string;
  readonly serviceAccount: string;
  readonly extraLabels?: Record<string, string>;
  readonly hostNetwork?: boolean;
  readonly phase?: string;
  readonly ports?: boolean;
}

export function podObject(p: PodSpec): RawObject {
  const annotations: Record<string, string> = {};
  if (p.ip !== undefined && !p.hostNetwork) {
    annotations['cni.projectcalico.org/containerID'] = `${p.name.length.toString(16)}c0ffee`;
    annotations[CNI_IP] = `${p.ip}/32`;
    annotations[CNI_IPS] = `${p.ip}/32`;
  }
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: p.name, namespace: p.namespace, generateName: `${p.app}-`,
      labels: { app: p.app, 'pod-template-hash': '7d9f8c6b5', ...(p.extraLabels ?? {}) },
      annotations,
    },
    spec: {
      ...(p.node !== undefined ? { nodeName: p.node } : {}),
      serviceAccountName: p.serviceAccount,
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{
        name: p.app, image: `registry.example.com/${p.app}:1.0`,
        ...(p.ports ? { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9102, protocol: 'TCP' }] } : {}),
      }],
    },
    status: {
      phase: p.phase ?? (p.node === undefined ? 'Pending' : 'Running'),
      ...(p.ip !== undefined ? { podIP: p.ip, podIPs: [{ ip: p.ip }] } : {}),
    },
  };
}

function calico(kind: string, name: string, spec: Record<string, unknown>, extra: { namespace?: string; labels?: Record<string, string> } = {}): RawObject {
  return {
    apiVersion: CALICO, kind,
    metadata: { name, ...(extra.namespace !== undefined ? { namespace: extra.namespace } : {}), ...(extra.labels ? { labels: extra.labels } : {}) },
    spec,
  };
}

/** IP allocation per node: the next free ordinal of each node's block (0 is the tunnel address). */
export class IpAllocator {
  private readonly next = new Map<number, number>();

  allocate(node: number): string {
    const n = this.next.get(node) ?? 1;
    if (n > 61) throw new Error(`block of ${nodeName(node)} is full`);
    this.next.set(node, n + 1);
    return `${blockOf(node).prefix}.${n}`;
  }
}

export interface GeneratedCluster {
  /** Pods created, by `namespace/name`. */
  readonly pods: Map<string, PodSpec>;
  readonly ips: IpAllocator;
  readonly random: () => number;
  /** Objects created, by kind. */
  readonly counts: Record<string, number>;
}

function saFor(ns: string, app: string): string {
  if (ns === 'payments' && app === 'ledger') return LONG_SERVICE_ACCOUNT;
  return app === 'hello' ? 'default' : app;
}

/**
 * Writes a realistic cluster into the emulator: nodes with Calico annotations, namespaces,
 * service accounts (one over 63 characters), `podCount` pods spread over the nodes (with host-
 * network, unscheduled, finished, terminating and one invalid pod), Kubernetes and Calico
 * policies (one with a service egress rule), IP pools (two sharing a CIDR), Felix/BGP config,
 * cluster information, BGP peers, network sets, host endpoints, EndpointSlices, IPAM blocks and
 * block affinities.
 */
export function generateCluster(api: K8sEmulator, podCount = 200, seed = 3): GeneratedCluster {
  const random = seeded(seed);
  const counts: Record<string, number> = {};
  const add = (o: RawObject): void => {
    api.create(o);
    counts[o.kind as string] = (counts[o.kind as string] ?? 0) + 1;
  };
  for (let i = 1; i <= NODE_COUNT; i++) add(kubeNode(i));
  for (const ns of NAMESPACES) {
    add({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, team: ns.split('-')[0]!, ...(ns === 'monitoring' ? { purpose: 'observability' } : {}) } },
    });
    const sas = new Set(['default', ...(APPS[ns] ?? []).map((a) => saFor(ns, a))]);
    for (const sa of sas) add({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns, ...(sa === 'api' ? { labels: { tier: 'backend' } } : {}) } });
  }

  const ips = new IpAllocator();
  const pods = new Map<string, PodSpec>();
  const apps = NAMESPACES.flatMap((ns) => (APPS[ns] ?? []).map((app) => ({ ns, app })));
  for (let k = 0; k < podCount; k++) {
    const { ns, app } = apps[k % apps.length]!;
    const nodeIndex = 1 + Math.floor(random() * NODE_COUNT);
    const suffix = Math.floor(random() * 0xfffff).toString(36).padStart(5, '0');
    let spec: PodSpec = {
      namespace: ns, name: `${app}-${suffix}-${k}`, node: nodeName(nodeIndex), app, serviceAccount: saFor(ns, app),
      ip: ips.allocate(nodeIndex), ports: k % 3 === 0, extraLabels: { version: `v${1 + (k % 3)}` },
    };
    if (k % 41 === 7) spec = { ...spec, hostNetwork: true, ip: `192.168.56.${10 + nodeIndex}` };
    if (k === 11) spec = { namespace: spec.namespace, name: spec.name, app, serviceAccount: spec.serviceAccount };
    if (k === 13) spec = { ...spec, phase: 'Succeeded' };
    pods.set(`${ns}/${spec.name}`, spec);
    add(podObject(spec));
  }
  // A pod whose IP is malformed: its key must be absent, the pipeline unaffected.
  const bad = podObject({ namespace: 'batch', name: 'broken-ip', node: nodeName(1), app: 'cron-runner', serviceAccount: 'cron-runner', ip: '10.244.1.999' });
  add(bad);
  // Terminating pods: with an empty Calico podIP annotation (finished, #1446) and without it.
  const term = (name: string, withAnnotation: boolean): RawObject => {
    const o = podObject({ namespace: 'search', name, node: nodeName(5), app: 'indexer', serviceAccount: 'indexer', ip: ips.allocate(5) });
    o.metadata.deletionTimestamp = '2021-09-14T08:00:00Z';
    if (withAnnotation) o.metadata.annotations = { ...o.metadata.annotations, [CNI_IP]: '', [CNI_IPS]: '' };
    return o;
  };
  add(term('indexer-terminating-cni', true));
  add(term('indexer-terminating-other', false));

  // Kubernetes NetworkPolicies.
  const knp = (ns: string, name: string, spec: Record<string, unknown>): RawObject =>
    ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec });
  for (const ns of NAMESPACES) add(knp(ns, 'default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }));
  add(knp('frontend', 'web-allow-http', {
    podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'],
    ingress: [
      { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.0.0/16', '192.168.57.0/24'] } }], ports: [{ protocol: 'TCP', port: 8080 }] },
      { from: [{ namespaceSelector: { matchLabels: { purpose: 'observability' } }, podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ protocol: 'TCP', port: 'metrics' }] },
    ],
  }));
  add(knp('backend', 'postgres-allow-clients', {
    podSelector: { matchLabels: { app: 'postgres' } }, policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['api', 'payments'] }] } }], ports: [{ protocol: 'TCP', port: 5432 }, { protocol: 'TCP', port: 5433, endPort: 5440 }] }],
  }));
  add(knp('payments', 'payments-egress', {
    podSelector: { matchLabels: { app: 'payments' } }, policyTypes: ['Egress'],
    egress: [
      { to: [{ namespaceSelector: { matchLabels: { team: 'backend' } } }], ports: [{ protocol: 'TCP', port: 5432 }] },
      { to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }], ports: [{ protocol: 'TCP', port: 443 }] },
    ],
  }));

  // Calico policies, including v3.20's service-based egress.
  add(calico('GlobalNetworkPolicy', 'default-deny', {
    order: 2000, selector: 'projectcalico.org/namespace in {"frontend", "backend", "payments"}', types: ['Ingress', 'Egress'],
    egress: [{ action: 'Allow', protocol: 'UDP', destination: { selector: 'k8s-app == "kube-dns"', namespaceSelector: 'projectcalico.org/name == "kube-system"', ports: [53] } }],
  }));
  add(calico('GlobalNetworkPolicy', 'payments-allow-provider', {
    order: 900, selector: 'app == "payments"', types: ['Ingress'],
    ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "payment-provider"' }, destination: { ports: [50051, '8000:8100'] } }],
  }));
  add(calico('GlobalNetworkPolicy', 'allow-sa-monitoring', {
    order: 100, selector: 'all()', types: ['Ingress'],
    ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ['prometheus'] }, namespaceSelector: 'purpose == "observability"' } }],
  }));
  add(calico('NetworkPolicy', 'web-egress', {
    order: 500, selector: 'app == "web"', types: ['Egress'],
    egress: [
      { action: 'Allow', protocol: 'TCP', destination: { services: { name: 'api', namespace: 'backend' } } },
      { action: 'Allow', protocol: 'TCP', destination: { selector: 'app == "static-assets"', ports: [80] } },
    ],
  }, { namespace: 'frontend' }));
  add(calico('NetworkPolicy', 'ledger-egress', {
    order: 400, selector: 'app == "ledger"', types: ['Egress'], serviceAccountSelector: 'all()',
    egress: [{ action: 'Allow', destination: { services: { name: 'postgres' } } }],
  }, { namespace: 'payments' }));
  add(calico('GlobalNetworkSet', 'payment-provider', { nets: ['198.51.100.64/26', '203.0.113.0/25'] }, { labels: { role: 'payment-provider' } }));
  add(calico('NetworkSet', 'partner-apis', { nets: ['192.0.2.0/24'] }, { namespace: 'backend', labels: { role: 'partner' } }));

  // Pools: two pools with one CIDR (the lowest name wins), and an IPv6 pool.
  add(calico('IPPool', 'default-ipv4-ippool', { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, nodeSelector: 'all()' }));
  add(calico('IPPool', 'zz-duplicate-pool', { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: false, nodeSelector: 'all()' }));
  add(calico('IPPool', 'default-ipv6-ippool', { cidr: 'fd00:10:244::/64', blockSize: 122, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()' }));
  add(calico('FelixConfiguration', 'default', {
    logSeverityScreen: 'Info', reportingInterval: '0s', ipipEnabled: true, prometheusMetricsEnabled: true,
    failsafeInboundHostPorts: [{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 68 }],
  }));
  add(calico('FelixConfiguration', `node.${nodeName(3)}`, { logSeverityScreen: 'Debug' }));
  add(calico('ClusterInformation', 'default', { calicoVersion: 'v3.20.0', clusterGUID: '4f1d7c2a9e6b4b1c8d3e5a7f9b0c2d4e', clusterType: 'k8s,bgp,kubeadm,kdd', datastoreReady: true }));
  add(calico('BGPConfiguration', 'default', { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179, serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] }));
  add(calico('BGPPeer', 'rack-tor', { peerIP: '192.168.56.1', asNumber: 64513, nodeSelector: 'all()', keepOriginalNextHop: false, maxRestartTime: '120s' }));
  add(calico('BGPPeer', 'node-04-rr-client', { node: nodeName(4), peerIP: '192.168.56.200', asNumber: 64512 }));
  add(calico('HostEndpoint', `${nodeName(1)}-eth0`, { node: nodeName(1), interfaceName: 'eth0', expectedIPs: ['192.168.56.11'], profiles: ['kns.kube-system'] }, { labels: { 'host-endpoint': 'ingress' } }));
  add(calico('HostEndpoint', `${nodeName(2)}-eth0`, { node: nodeName(2), interfaceName: 'eth0', expectedIPs: ['192.168.56.12'], ports: [{ name: 'https', protocol: 'TCP', port: 443 }] }, { labels: { 'host-endpoint': 'ingress' } }));

  // IPAM: each node's block and its affinity.
  for (let i = 1; i <= NODE_COUNT; i++) {
    const { cidr } = blockOf(i);
    const allocations: (number | null)[] = Array.from({ length: 64 }, (_, n) => (n < 4 ? n : null));
    add(calico('IPAMBlock', cidr.replaceAll(/[./]/g, '-'), {
      cidr, affinity: `host:${nodeName(i)}`, strictAffinity: false, deleted: false, allocations,
      unallocated: Array.from({ length: 60 }, (_, n) => n + 4),
      attributes: [
        { handle_id: `ipip-tunnel-addr-${nodeName(i)}`, secondary: { node: nodeName(i), type: 'ipipTunnelAddress' } },
        { handle_id: `k8s-pod-network.${i}a`, secondary: { namespace: 'default', node: nodeName(i), pod: `hello-${i}` } },
      ],
    }));
    add(calico('BlockAffinity', `${nodeName(i)}-${cidr.replaceAll(/[./]/g, '-')}`, { state: 'confirmed', node: nodeName(i), cidr, deleted: 'false' }));
  }

  // EndpointSlices: one per app, listing that app's running pods.
  for (const { ns, app } of apps) {
    const members = [...pods.values()].filter((p) => p.namespace === ns && p.app === app && p.node !== undefined && !p.hostNetwork && p.phase === undefined);
    add({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: {
        name: `${app}-x7k2p`, namespace: ns, generateName: `${app}-`,
        labels: { 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'kubernetes.io/service-name': app },
      },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: members.slice(0, 10).map((p) => ({
        addresses: [p.ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: p.node,
        zone: 'zone-a', targetRef: { kind: 'Pod', name: p.name, namespace: ns },
      })),
    });
  }
  return { pods, ips, random, counts };
}

export interface ChurnSummary {
  created: number;
  relabelled: number;
  deleted: number;
  terminated: number;
  renamed: number;
  total: number;
}

/**
 * A burst of pod churn, all synchronous (so it reaches Cattail as fast as watches deliver):
 * creates, label updates, deletions, terminations (half with the empty Calico podIP
 * annotation, half completing with phase Succeeded) and renames (delete + create).
 */
export function podChurn(api: K8sEmulator, cluster: GeneratedCluster, round: number): ChurnSummary {
  const s: ChurnSummary = { created: 0, relabelled: 0, deleted: 0, terminated: 0, renamed: 0, total: 0 };
  const live = [...cluster.pods.values()].filter((p) => p.node !== undefined && !p.hostNetwork && p.phase === undefined);
  const pick = (n: number): PodSpec[] => {
    const out: PodSpec[] = [];
    while (out.length < n && live.length > 0) out.push(live.splice(Math.floor(cluster.random() * live.length), 1)[0]!);
    return out;
  };
  for (const p of pick(40)) {
    const o = api.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace } })!;
    o.metadata.labels = { ...o.metadata.labels, version: `v${10 + round}`, canary: String(s.relabelled % 2 === 0) };
    api.update(o);
    s.relabelled++;
  }
  for (const p of pick(25)) {
    api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace } });
    cluster.pods.delete(`${p.namespace}/${p.name}`);
    s.deleted++;
  }
  for (const p of pick(20)) {
    const o = api.get({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace } })!;
    if (s.terminated % 2 === 0) {
      o.metadata.deletionTimestamp = new Date().toISOString();
      o.metadata.annotations = { ...o.metadata.annotations, [CNI_IP]: '', [CNI_IPS]: '' };
    } else {
      o.status = { ...(o.status as object), phase: 'Succeeded' };
    }
    api.update(o);
    cluster.pods.set(`${p.namespace}/${p.name}`, { ...p, phase: 'Terminated' });
    s.terminated++;
  }
  for (const p of pick(15)) {
    api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace } });
    cluster.pods.delete(`${p.namespace}/${p.name}`);
    const renamed: PodSpec = { ...p, name: `${p.name}-r${round}` };
    api.create(podObject(renamed));
    cluster.pods.set(`${renamed.namespace}/${renamed.name}`, renamed);
    s.renamed++;
  }
  for (let k = 0; k < 30; k++) {
    const nodeIndex = 1 + (k % NODE_COUNT);
    const app = (['web', 'api', 'trainer', 'elastic'] as const)[k % 4]!;
    const ns = { web: 'frontend', api: 'backend', trainer: 'ml-training', elastic: 'search' }[app];
    const p: PodSpec = { namespace: ns, name: `${app}-burst${round}-${k}`, node: nodeName(nodeIndex), app, serviceAccount: app, ip: cluster.ips.allocate(nodeIndex), ports: k % 2 === 0 };
    api.create(podObject(p));
    cluster.pods.set(`${ns}/${p.name}`, p);
    s.created++;
  }
  s.total = s.created + s.relabelled + s.deleted + s.terminated + s.renamed * 2;
  return s;
}

/** The model a syncer type must serve for the emulator's current objects (see expectedModel.ts). */
export function expectedModel(api: K8sEmulator, syncerType: SyncerType): Map<string, unknown> {
  return computeExpectedModel(syncerSpecs()[syncerType], (kind) => api.objects(kind));
}

/** Differences between a client's map and the expected model, at most `limit` lines. */
export function modelDiff(actual: ReadonlyMap<string, unknown>, expected: ReadonlyMap<string, unknown>, limit = 8): string[] {
  const out: string[] = [];
  for (const [k, v] of expected) {
    if (!actual.has(k)) out.push(`missing ${k}`);
    else if (JSON.stringify(actual.get(k)) !== JSON.stringify(v)) out.push(`differs ${k}: got ${JSON.stringify(actual.get(k)).slice(0, 300)} want ${JSON.stringify(v).slice(0, 300)}`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) out.push(`unexpected ${k}`);
  return out.length > limit ? [...out.slice(0, limit), `... and ${out.length - limit} more`] : out;
}

/** Keys whose value differs between two models (added, removed or changed). */
export function changedKeys(before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of after) if (!before.has(k) || JSON.stringify(before.get(k)) !== JSON.stringify(v)) out.add(k);
  for (const k of before.keys()) if (!after.has(k)) out.add(k);
  return out;
}
