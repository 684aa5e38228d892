/**
 * Objects for torture schedules: realistic templates of every kind Cattail reads (the example
 * cluster's manifests plus hand-written ones for the kinds it lacks) and seeded variations of
 * them. Names come from small pools so creates, updates, deletes and renames keep colliding;
 * some variations are deliberately invalid (an invalid object must become a deletion).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ALL_KINDS, apiVersionOf, findKind, type KindInfo } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import type { Prng } from './prng.ts';

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'cluster');

/** Kinds the example cluster has no object of. */
const EXTRA_TEMPLATES: readonly RawObject[] = [
  {
    apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint',
    metadata: { name: 'node-1-eth0', labels: { role: 'k8s-worker' } },
    spec: { node: 'node-1', interfaceName: 'eth0', expectedIPs: ['192.168.56.11'], profiles: ['kns.frontend'], ports: [{ name: 'ssh', port: 22, protocol: 'TCP' }] },
  },
  {
    apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet',
    metadata: { name: 'partners', namespace: 'backend', labels: { role: 'partner' } },
    spec: { nets: ['203.0.113.0/24', '2001:db8::/32'] },
  },
  {
    apiVersion: 'projectcalico.org/v3', kind: 'CalicoNodeStatus',
    metadata: { name: 'node-1-status' },
    spec: { node: 'node-1', classes: ['Agent', 'BGP', 'Routes'], updatePeriodSeconds: 10 },
    status: { agent: { birdV4: { state: 'Ready', version: 'v0.3.3' } } },
  },
];

/** Every template, by kind id. Throws if a kind has none (the schedule must cover every kind). */
export function loadTemplates(): Map<string, RawObject[]> {
  const out = new Map<string, RawObject[]>(ALL_KINDS.map((k) => [k.id, []]));
  const add = (o: unknown): void => {
    if (o === null || typeof o !== 'object') return;
    const obj = o as RawObject;
    if (obj.kind === 'List' && Array.isArray(obj.items)) {
      for (const item of obj.items) add(item);
      return;
    }
    // Some example documents omit apiVersion for brevity; find the kind by name alone then.
    const info = findKind(String(obj.apiVersion ?? ''), String(obj.kind ?? '')) ?? ALL_KINDS.find((k) => k.kind === obj.kind && k.group !== 'networking.k8s.io');
    if (info === undefined) return;
    out.get(info.id)!.push(normalise(info, obj));
  };
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(EXAMPLES, file), 'utf8'))) add(doc.toJS());
  }
  for (const t of EXTRA_TEMPLATES) add(t);
  const missing = [...out].filter(([, list]) => list.length === 0).map(([id]) => id);
  if (missing.length > 0) throw new Error(`no torture template for kinds: ${missing.join(', ')}`);
  return out;
}

function normalise(info: KindInfo, obj: RawObject): RawObject {
  const copy = structuredClone(obj);
  copy.apiVersion = apiVersionOf(info);
  copy.kind = info.kind;
  delete copy.metadata.resourceVersion;
  delete copy.metadata.uid;
  delete copy.metadata.creationTimestamp;
  if (info.namespaced) copy.metadata.namespace ??= 'default';
  else delete copy.metadata.namespace;
  return copy;
}

const NAMESPACES = ['frontend', 'backend', 'monitoring', 'default'] as const;
const NODES = ['node-1', 'node-2', 'node-3'] as const;
/** 70 characters: longer than a label value may be (libcalico-go #1422). */
const LONG_SA = 'postgres-replication-operator-controller-manager-service-account-extra';
const SUFFIXES = ['', '-a', '-b', '-c', '-d'] as const;

/**
 * A variation of `template`: a name from a small pool, changed labels, and kind-specific changes
 * (pod IPs, nodes, terminating pods, long service-account names, colliding CIDRs, ...). About
 * one in twenty-five is invalid on purpose.
 */
export function vary(rng: Prng, info: KindInfo, template: RawObject): RawObject {
  const o = structuredClone(template);
  const base = o.metadata.name.length > 40 ? o.metadata.name.slice(0, 40) : o.metadata.name;
  o.metadata.name = `${base}${rng.pick(SUFFIXES)}`;
  if (info.namespaced && rng.chance(0.3)) o.metadata.namespace = rng.pick(NAMESPACES);
  if (rng.chance(0.6)) o.metadata.labels = { ...(o.metadata.labels ?? {}), torture: `v${rng.int(0, 3)}` };
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  switch (info.kind) {
    case 'Pod': {
      if (info.group !== '') break;
      spec.nodeName = rng.pick(NODES);
      const ip = `10.244.${rng.int(0, 3)}.${rng.int(1, 250)}`;
      o.status = { ...(o.status as object), podIP: ip, podIPs: [{ ip }], phase: rng.chance(0.1) ? rng.pick(['Succeeded', 'Failed']) : 'Running' };
      if (o.metadata.annotations) {
        o.metadata.annotations['cni.projectcalico.org/podIP'] = `${ip}/32`;
        o.metadata.annotations['cni.projectcalico.org/podIPs'] = `${ip}/32`;
      }
      if (rng.chance(0.15)) o.metadata.deletionTimestamp = '2021-09-14T10:00:00Z';
      if (rng.chance(0.2)) spec.serviceAccountName = LONG_SA;
      if (rng.chance(0.04)) spec.hostNetwork = true;
      break;
    }
    case 'ServiceAccount':
      if (rng.chance(0.3)) o.metadata.name = `${LONG_SA}${rng.pick(SUFFIXES)}`;
      break;
    case 'Node': {
      o.metadata.name = rng.pick(NODES) + (rng.chance(0.3) ? rng.pick(SUFFIXES) : '');
      const a = { ...(o.metadata.annotations ?? {}) };
      a['projectcalico.org/IPv4Address'] = `192.168.56.${rng.int(10, 20)}/24`;
      if (rng.chance(0.5)) a['projectcalico.org/IPv4IPIPTunnelAddr'] = `10.244.${rng.int(0, 200)}.${rng.int(1, 250)}`;
      else delete a['projectcalico.org/IPv4IPIPTunnelAddr'];
      if (rng.chance(0.04)) a['projectcalico.org/IPv4Address'] = 'not-an-address';
      o.metadata.annotations = a;
      break;
    }
    case 'IPPool':
      // Few CIDRs, many names: two pools with one CIDR share a key (lowest name wins).
      spec.cidr = rng.chance(0.04) ? '10.999.0.0/16' : `10.${rng.pick([244, 245, 246])}.0.0/16`;
      spec.disabled = rng.chance(0.2);
      break;
    case 'IPAMBlock':
      spec.cidr = `10.244.${rng.pick([0, 64, 128, 192])}.0/26`;
      spec.affinity = `host:${rng.pick(NODES)}`;
      break;
    case 'BlockAffinity':
      spec.node = rng.pick(NODES);
      spec.cidr = `10.244.${rng.pick([0, 64, 128, 192])}.0/26`;
      break;
    case 'FelixConfiguration':
      o.metadata.name = rng.pick(['default', 'node.node-1', 'node.node-2', 'node.node-3']);
      spec.logSeverityScreen = rng.pick(['Info', 'Debug', 'Warning']);
      if (rng.chance(0.3)) spec.reportingInterval = `${rng.int(0, 90)}s`;
      break;
    case 'ClusterInformation':
      spec.datastoreReady = rng.chance(0.8);
      spec.calicoVersion = `v3.20.${rng.int(0, 3)}`;
      break;
    case 'BGPConfiguration':
      spec.asNumber = 64512 + rng.int(0, 3);
      break;
    case 'BGPPeer':
      spec.peerIP = `192.168.56.${rng.int(1, 9)}`;
      spec.asNumber = 64513 + rng.int(0, 2);
      break;
    case 'HostEndpoint':
      spec.node = rng.pick(NODES);
      spec.interfaceName = rng.pick(['eth0', 'eth1']);
      if (rng.chance(0.04)) spec.expectedIPs = ['999.1.1.1'];
      break;
    case 'GlobalNetworkSet':
    case 'NetworkSet':
      spec.nets = rng.chance(0.04) ? ['nope/99'] : [`198.51.100.${rng.pick([0, 64, 128])}/26`];
      break;
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
      if (typeof spec.order === 'number' || rng.chance(0.5)) spec.order = rng.int(1, 1000);
      if (rng.chance(0.04)) spec.selector = 'this is ( not a selector';
      break;
    case 'EndpointSlice':
      if (Array.isArray(o.endpoints) && o.endpoints.length > 0) {
        (o.endpoints[0] as Record<string, unknown>).addresses = [`10.244.${rng.int(0, 3)}.${rng.int(1, 250)}`];
      }
      break;
    case 'CalicoNodeStatus':
      spec.node = rng.pick(NODES);
      spec.updatePeriodSeconds = rng.int(5, 60);
      break;
    default:
      break;
  }
  if (o.spec !== undefined || Object.keys(spec).length > 0) o.spec = spec;
  return o;
}

/** Identity of an object in a schedule: `<kind id>|<namespace>/<name>`. */
export function objectId(info: KindInfo, o: { metadata: { name: string; namespace?: string } }): string {
  return `${info.id}|${info.namespaced ? (o.metadata.namespace ?? 'default') : ''}/${o.metadata.name}`;
}

export function kindOf(o: { apiVersion?: string; kind?: string }): KindInfo {
  const info = findKind(String(o.apiVersion ?? ''), String(o.kind ?? ''));
  if (info === undefined) throw new Error(`not a Cattail kind: ${String(o.apiVersion)} ${String(o.kind)}`);
  return info;
}
