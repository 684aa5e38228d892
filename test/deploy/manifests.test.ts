/**
 * The Kubernetes manifests as `kubectl kustomize` renders them, checked against the code they
 * deploy: the container's configuration passes Cattail's own validation, the probes hit real
 * endpoints of a running server, and RBAC grants exactly what the syncers read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { syncerSpecs } from '../../src/calico/index.ts';
import { type Config, OPTIONS, parseConfig } from '../../src/config/index.ts';
import { KINDS, type KindInfo } from '../../src/datastore/kinds.ts';
import { eventually, startCattail } from '../support/harness.ts';
import {
  type Container, containerEnv, dockerfileInstructions, findObject, type K8sObject, kustomize, podSpecOf, type PodSpec, repoPath,
} from './tools.ts';

const base = kustomize('deploy/kubernetes');
const tls = kustomize('deploy/kubernetes/overlays/tls');

function cattailContainer(pod: PodSpec): Container {
  const c = pod.containers.find((x) => x.name === 'cattail');
  assert.ok(c, 'the Deployment has a container named cattail');
  return c;
}

/** The Config the container would run with: the image's entrypoint plus the manifest's args and env. */
function deployedConfig(objects: readonly K8sObject[]): Config {
  const deployment = findObject(objects, 'Deployment');
  const container = cattailContainer(podSpecOf(deployment));
  assert.equal(container.command, undefined, 'the manifest keeps the image entrypoint (node src/main.ts)');
  const env = containerEnv(container, { namespace: deployment.metadata.namespace ?? 'default' });
  const parsed = parseConfig(container.args ?? [], env);
  assert.equal(parsed.help, false);
  return (parsed as Extract<typeof parsed, { help: false }>).config;
}

describe('Kubernetes manifests', () => {
  test('kubectl kustomize renders the base into a ServiceAccount, RBAC, a Service, a Deployment and a PDB in one namespace', () => {
    assert.deepEqual(base.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    const namespaced = base.filter((o) => !o.kind.startsWith('Cluster'));
    const namespaces = new Set(namespaced.map((o) => o.metadata.namespace));
    assert.equal(namespaces.size, 1, `namespaced objects share one namespace, got ${[...namespaces].join(', ')}`);
    assert.ok([...namespaces][0], 'the kustomization sets a namespace');
    for (const o of base) assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'cattail', `${o.kind} is labelled`);
  });

  test('the manifests themselves carry no namespace; only the kustomization sets it', () => {
    for (const file of ['deployment.yaml', 'service.yaml', 'serviceaccount.yaml', 'pdb.yaml']) {
      const text = readFileSync(repoPath('deploy/kubernetes/base', file), 'utf8');
      assert.doesNotMatch(text, /^\s{2}namespace:/m, `${file} has no metadata.namespace`);
    }
  });

  test("the Deployment's arguments and environment pass Cattail's config validation, with rebalancing on", () => {
    const config = deployedConfig(base);
    assert.equal(config.datastore, 'kubernetes');
    assert.equal(config.connectionRebalancing, 'kubernetes');
    const service = findObject(base, 'Service');
    assert.equal(config.k8sServiceName, service.metadata.name, 'CATTAIL_K8S_SERVICE_NAME names the Service whose EndpointSlices count the replicas');
    assert.equal(config.k8sNamespace, '', 'the namespace comes from POD_NAMESPACE');
    const ports = (service as unknown as { spec: { ports: { name: string; port: number }[] } }).spec.ports;
    assert.equal(ports.find((p) => p.name === config.k8sPortName)?.port, config.syncPort, 'the EndpointSlices carry the sync port under the name Cattail counts');
    const container = cattailContainer(podSpecOf(findObject(base, 'Deployment')));
    const podNamespace = container.env?.find((e) => e.name === 'POD_NAMESPACE');
    assert.equal(podNamespace?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace', 'POD_NAMESPACE comes from the downward API');
  });

  test('the TLS overlay mounts its Secret, points every TLS setting into the mount and passes validation', () => {
    const config = deployedConfig(tls);
    const pod = podSpecOf(findObject(tls, 'Deployment'));
    const container = cattailContainer(pod);
    const mount = container.volumeMounts?.find((m) => m.name === 'tls');
    assert.ok(mount?.readOnly, 'the Secret is mounted read-only');
    const volume = pod.volumes?.find((v) => v.name === 'tls');
    assert.ok(volume?.secret?.secretName, 'the volume is a Secret');
    for (const file of [config.tlsCertFile, config.tlsKeyFile, config.tlsCaFile]) {
      assert.ok(file.startsWith(`${mount.mountPath}/`), `${file} is inside ${mount.mountPath}`);
    }
    assert.ok(config.tlsClientCommonNames.length + config.tlsClientUriSans.length > 0, 'client identities are restricted');
    // The overlay changes nothing else.
    const strip = (objects: K8sObject[]) => JSON.stringify(objects.filter((o) => o.kind !== 'Deployment'));
    assert.equal(strip(tls), strip(base));
  });

  test('the rollout surges first, the PDB allows one unavailable replica and evicts unready ones only within budget', () => {
    const deployment = findObject(base, 'Deployment') as K8sObject & { spec: { replicas: number; strategy: { type: string; rollingUpdate: { maxSurge: string; maxUnavailable: number } } } };
    assert.ok(deployment.spec.replicas >= 3, 'at least 3 replicas');
    assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxSurge, '100%');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const pdb = findObject(base, 'PodDisruptionBudget') as K8sObject & { spec: { maxUnavailable: number; unhealthyPodEvictionPolicy: string; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.equal(pdb.spec.unhealthyPodEvictionPolicy, 'IfHealthyBudget');
    const podLabels = (deployment as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(podLabels[k], v, 'the PDB selects the pods');
  });

  test('the termination grace period equals the shutdown timeout Cattail paces its disconnections over', () => {
    const config = deployedConfig(base);
    const pod = podSpecOf(findObject(base, 'Deployment'));
    assert.equal((pod.terminationGracePeriodSeconds ?? 30) * 1000, config.shutdownTimeoutMs);
  });

  test('pods are critical, run on Linux nodes only, spread over nodes and zones, bounded in resources and locked down', () => {
    const pod = podSpecOf(findObject(base, 'Deployment'));
    const container = cattailContainer(pod);
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    const keys = (pod.topologySpreadConstraints ?? []).map((t) => t.topologyKey).sort();
    assert.deepEqual(keys, ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    const zone = pod.topologySpreadConstraints!.find((t) => t.topologyKey === 'topology.kubernetes.io/zone')!;
    assert.equal(zone.whenUnsatisfiable, 'ScheduleAnyway', 'nodes without a zone label stay usable');
    for (const kind of ['requests', 'limits'] as const) {
      for (const resource of ['cpu', 'memory']) assert.ok(container.resources?.[kind]?.[resource], `${kind}.${resource} is set`);
    }
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(container.securityContext?.capabilities?.add, undefined);
    const user = dockerfileInstructions(readFileSync(repoPath('Dockerfile'), 'utf8')).filter((i) => i.keyword === 'USER').at(-1);
    assert.equal(`${pod.securityContext?.runAsUser}:${pod.securityContext?.runAsGroup}`, user?.args, 'the pod runs as the image user');
  });

  test('the container ports are the ports Cattail listens on, and the Service exposes them by name', () => {
    const config = deployedConfig(base);
    const pod = podSpecOf(findObject(base, 'Deployment'));
    const ports = Object.fromEntries((cattailContainer(pod).ports ?? []).map((p) => [p.name, p.containerPort]));
    assert.deepEqual(ports, { cattail: config.syncPort, ops: config.opsPort });
    assert.equal(config.syncPort, OPTIONS.syncPort.default);
    // With hostNetwork the container ports are host ports: the listener must bind beyond localhost.
    assert.equal(pod.hostNetwork, true);
    assert.notEqual(config.opsHost, '127.0.0.1', 'kubelet and Prometheus reach the ops port from outside the pod');
    const service = findObject(base, 'Service') as K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } };
    assert.deepEqual(service.spec.ports.map((p) => [p.name, p.port, p.targetPort]), [['cattail', config.syncPort, 'cattail'], ['ops', config.opsPort, 'ops']]);
    const podLabels = (findObject(base, 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata;
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels.labels[k], v, 'the Service selects the pods');
  });

  test('the probe paths answer on a running server, with timeouts well above 1 s', async () => {
    const pod = podSpecOf(findObject(base, 'Deployment'));
    const container = cattailContainer(pod);
    const probes = { liveness: container.livenessProbe, readiness: container.readinessProbe };
    const h = await startCattail({ files: { 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: probe-test\n' } });
    try {
      for (const [name, probe] of Object.entries(probes)) {
        assert.ok(probe?.httpGet, `${name} probe is an HTTP GET`);
        assert.equal(probe.httpGet.port, 'ops', `${name} probe uses the ops port`);
        assert.ok((probe.timeoutSeconds ?? 1) >= 5, `${name} probe timeout ${probe.timeoutSeconds}s is well above 1 s`);
        assert.ok((probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3) >= 30, `${name} probe tolerates at least 30 s of misses`);
      }
      const live = await fetch(`${h.opsUrl}${probes.liveness!.httpGet!.path}`);
      assert.equal(live.status, 200, 'liveness answers 200');
      await eventually(async () => (await fetch(`${h.opsUrl}${probes.readiness!.httpGet!.path}`)).status === 200, 'readiness answers 200 once in sync');
      const scrapePath = (parse(readFileSync(repoPath('deploy/prometheus/podmonitor.yaml'), 'utf8')) as { spec: { podMetricsEndpoints: { path: string }[] } }).spec.podMetricsEndpoints[0]!.path;
      const metrics = await fetch(`${h.opsUrl}${scrapePath}`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^cattail_connections_active /m);
    } finally {
      await h.close();
    }
  });

  test('RBAC grants get, list and watch on exactly the kinds the served syncer types read, plus EndpointSlices', () => {
    const config = deployedConfig(base);
    const specs = syncerSpecs();
    const kinds = new Map<string, KindInfo>();
    for (const type of config.syncerTypes) {
      const spec = specs[type];
      assert.ok(spec, `syncer type ${type} has a spec`);
      for (const k of spec.kinds) kinds.set(k.id, k);
    }
    // Connection-limit rebalancing counts replicas from the Service's EndpointSlices.
    if (config.connectionRebalancing === 'kubernetes') kinds.set(KINDS.endpointSlices.id, KINDS.endpointSlices);
    const expected = [...kinds.values()].map((k) => `${k.group}/${k.plural}`).sort();

    const role = findObject(base, 'ClusterRole') as K8sObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }[] };
    const granted: string[] = [];
    for (const rule of role.rules) {
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list', 'watch'], 'read-only verbs');
      assert.equal(rule.resourceNames, undefined);
      assert.equal(rule.nonResourceURLs, undefined);
      for (const g of rule.apiGroups) for (const r of rule.resources) {
        assert.ok(!g.includes('*') && !r.includes('*'), 'no wildcards');
        granted.push(`${g}/${r}`);
      }
    }
    assert.deepEqual(granted.sort(), expected);

    const binding = findObject(base, 'ClusterRoleBinding') as K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
    const account = findObject(base, 'ServiceAccount');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
    assert.equal(podSpecOf(findObject(base, 'Deployment')).serviceAccountName, account.metadata.name);
  });
});
