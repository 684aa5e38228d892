/**
 * Kubernetes Pod → v1 WorkloadEndpoint, the path libcalico-go takes through the v3
 * WorkloadEndpoint (`conversion/workload_endpoint_default.go`) and the felix WEP update
 * processor (`workloadendpointprocessor.go`), collapsed into one step because only the v1 form
 * leaves Typha. Includes the two v3.20 fixes: #1446 (a terminating pod counts as finished only
 * when the Calico podIP annotation exists and is empty) and #1422 (service-account names of any
 * length reach the v1 labels; the v3 label only below 63 characters).
 */
import { createHash } from 'node:crypto';
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, errorMessage, isObject, list, str, type JsonObject } from './fields.ts';
import { workloadEndpointKey } from './keys.ts';
import { annotationsOf, labelsOf, objectName, objectNamespace } from './meta.ts';
import { formatIP, formatNet, maskNet, parseCIDROrIP, parseIP, type IPNet } from './net.ts';

const ANNOTATION_POD_IP = 'cni.projectcalico.org/podIP';
const ANNOTATION_POD_IPS = 'cni.projectcalico.org/podIPs';
const ANNOTATION_FLOATING_IPS = 'cni.projectcalico.org/floatingIPs';
const FINISHED_PHASES = new Set(['Failed', 'Succeeded', 'Completed']);
/** Kubernetes label values are limited to 63 characters; PR #1422 keeps the v3 label under that. */
const MAX_SA_LABEL_LENGTH = 63;

/** `cali` + the first 11 hex digits of sha1(`<namespace>.<pod>`), Calico's default host interface name. */
export function interfaceName(namespace: string, pod: string, prefix = 'cali'): string {
  return prefix + createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11);
}

/** The v3 WorkloadEndpoint name: every segment's dashes doubled, joined with single dashes. */
export function workloadEndpointName(node: string, pod: string, orchestrator = 'k8s', endpoint = 'eth0'): string {
  return [node, orchestrator, pod, endpoint].map((s) => s.replaceAll('-', '--')).join('-');
}

/** Calico's `IsFinished` with libcalico-go #1446. */
export function isFinished(pod: RawObject): boolean {
  const annotations = isObject(pod.metadata.annotations) ? pod.metadata.annotations : {};
  if (typeof pod.metadata.deletionTimestamp === 'string' && pod.metadata.deletionTimestamp !== '') {
    if (Object.hasOwn(annotations, ANNOTATION_POD_IP) && annotations[ANNOTATION_POD_IP] === '') return true;
  }
  const phase = isObject(pod.status) ? pod.status.phase : undefined;
  return typeof phase === 'string' && FINISHED_PHASES.has(phase);
}

/**
 * The pod's IPs from the first non-empty source, in Calico's order of preference (conversion.go
 * `getPodIPs`). Nothing is trimmed or skipped: Go parses each entry with `ParseCIDROrIP`, and
 * one that fails (`" 10.0.0.2"`, an empty `status.podIPs[].ip`) fails the whole endpoint.
 */
export function podIPs(pod: RawObject): IPNet[] {
  const status = isObject(pod.status) ? pod.status : {};
  const annotations = annotationsOf(pod);
  const statusIPs = list(status.podIPs) ?? [];
  let texts: string[] = [];
  if (statusIPs.length > 0) texts = statusIPs.map((e) => (isObject(e) ? str(e.ip) ?? '' : ''));
  else if (typeof status.podIP === 'string' && status.podIP !== '') texts = [status.podIP];
  else if (annotations[ANNOTATION_POD_IPS]) texts = annotations[ANNOTATION_POD_IPS].split(',');
  else if (annotations[ANNOTATION_POD_IP]) texts = [annotations[ANNOTATION_POD_IP]];
  return texts.map((t) => {
    const net = parseCIDROrIP(t);
    if (!net) throw new ValidationError(`pod IP ${JSON.stringify(t)} is not a valid IP or CIDR`);
    return net;
  });
}

function containerPorts(spec: JsonObject): JsonObject[] {
  const ports: JsonObject[] = [];
  for (const container of list(spec.containers) ?? []) {
    if (!isObject(container)) continue;
    for (const port of list(container.ports) ?? []) {
      if (!isObject(port)) continue;
      const name = str(port.name) ?? '';
      const number = typeof port.containerPort === 'number' ? port.containerPort : 0;
      if (name === '' || number === 0) continue;
      const protocol = str(port.protocol) ?? 'TCP';
      if (!['TCP', 'UDP', 'SCTP', ''].includes(protocol)) continue;
      ports.push({ name, protocol: (protocol || 'TCP').toLowerCase(), port: number });
    }
  }
  return ports;
}

/**
 * The `floatingIPs` annotation as two steps of Go do it. The pod converter
 * (`podToDefaultWorkloadEndpoint`) fails the endpoint when the annotation is not a JSON list
 * of strings or a pod address is not a single address; otherwise it pairs every entry, by
 * whether it contains a colon, with the pod's last address of that family, unparsed. The WEP
 * processor (`ConvertV2ToV1IPNAT`) then drops each pair whose addresses do not parse and files
 * the rest by the internal address's version, so one bad entry costs only that entry.
 */
function floatingIPNATs(annotation: string | undefined, ips: IPNet[]): { v4: JsonObject[]; v6: JsonObject[] } {
  const nats = { v4: [] as JsonObject[], v6: [] as JsonObject[] };
  if (annotation === undefined || ips.length === 0) return nats;
  let parsed: unknown;
  try {
    parsed = JSON.parse(annotation);
  } catch {
    throw new ValidationError(`annotation ${ANNOTATION_FLOATING_IPS} is not JSON`);
  }
  // Go unmarshals `null` into a nil list: no floating IPs.
  if (parsed === null) parsed = [];
  if (!Array.isArray(parsed) || !parsed.every((e) => typeof e === 'string')) {
    throw new ValidationError(`annotation ${ANNOTATION_FLOATING_IPS} is not a JSON list of strings`);
  }
  let internalV4: IPNet | undefined;
  let internalV6: IPNet | undefined;
  for (const ip of ips) {
    if (ip.prefix !== (ip.ip.version === 4 ? 32 : 128)) {
      throw new ValidationError(`pod address ${formatNet(ip)} must be a single address to use floating IPs`);
    }
    if (ip.ip.version === 4) internalV4 = ip;
    else internalV6 = ip;
  }
  for (const entry of parsed as string[]) {
    const internal = entry.includes(':') ? internalV6 : internalV4;
    const external = parseIP(entry);
    if (!internal || !external) continue;
    (internal.ip.version === 4 ? nats.v4 : nats.v6).push({ int_ip: formatIP(internal.ip), ext_ip: formatIP(external) });
  }
  return nats;
}

function workloadEndpointValue(pod: RawObject, namespace: string, name: string, ips: IPNet[]): JsonObject {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const serviceAccount = str(spec.serviceAccountName) ?? '';
  const profiles = [`kns.${namespace}`];
  if (serviceAccount !== '') profiles.push(`ksa.${namespace}.${serviceAccount}`);

  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsOf(pod))) {
    // A pod cannot claim the namespace or service-account labels profiles provide.
    if (!k.startsWith('pcns.') && !k.startsWith('pcsa.')) labels[k] = v;
  }
  labels['projectcalico.org/namespace'] = namespace;
  labels['projectcalico.org/orchestrator'] = 'k8s';
  // #1422: the v1 endpoint always carries the name, whatever its length.
  if (serviceAccount !== '') labels['projectcalico.org/serviceaccount'] = serviceAccount;
  const sortedLabels: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) sortedLabels[k] = labels[k] as string;

  const nats = floatingIPNATs(annotationsOf(pod)[ANNOTATION_FLOATING_IPS], ips);
  const v4 = ips.filter((n) => n.ip.version === 4).map((n) => formatNet(maskNet(n)));
  const v6 = ips.filter((n) => n.ip.version === 6).map((n) => formatNet(maskNet(n)));
  const value: JsonObject = {
    state: 'active',
    name: interfaceName(namespace, name),
    active_instance_id: '',
    mac: null,
    profile_ids: profiles,
    ipv4_nets: v4.length > 0 ? v4 : null,
    ipv6_nets: v6.length > 0 ? v6 : null,
  };
  if (nats.v4.length > 0) value.ipv4_nat = nats.v4;
  if (nats.v6.length > 0) value.ipv6_nat = nats.v6;
  value.labels = sortedLabels;
  const ports = containerPorts(spec);
  if (ports.length > 0) value.ports = ports;
  const generateName = pod.metadata.generateName;
  if (typeof generateName === 'string' && generateName !== '') value.generate_name = generateName;
  return value;
}

/**
 * The labels of the v3 WorkloadEndpoint (not sent by Typha; kept for the #1422 behaviour):
 * the service-account label appears only for names shorter than 63 characters.
 */
export function v3WorkloadEndpointLabels(pod: RawObject): Record<string, string> {
  const namespace = objectNamespace(pod);
  const serviceAccount = isObject(pod.spec) ? str(pod.spec.serviceAccountName) ?? '' : '';
  const labels: Record<string, string> = { ...labelsOf(pod), 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' };
  if (serviceAccount !== '' && serviceAccount.length < MAX_SA_LABEL_LENGTH) labels['projectcalico.org/serviceaccount'] = serviceAccount;
  return labels;
}

export function convertPod(pod: RawObject): ConvertedKV[] {
  const name = objectName(pod);
  const namespace = objectNamespace(pod);
  const spec = isObject(pod.spec) ? pod.spec : {};
  if (spec.hostNetwork === true) return [];
  const node = str(spec.nodeName) ?? '';
  if (node === '') return [];
  const key = workloadEndpointKey(node, 'k8s', `${namespace}/${name}`, 'eth0');
  try {
    // Go parses the IPs first, so a malformed one is an error even on a finished pod.
    const ips = podIPs(pod);
    // A WEP without addresses is a deletion in Calico: the pod has no network yet, or, once
    // finished, no longer owns the addresses it had.
    if (isFinished(pod) || ips.length === 0) return [];
    return [{ key, value: workloadEndpointValue(pod, namespace, name, ips) }];
  } catch (err) {
    if (err instanceof ValidationError) return [{ key, value: null, error: errorMessage(err) }];
    throw err;
  }
}
