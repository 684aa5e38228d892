/**
 * Datastore hostility: objects with missing or wrong-typed fields, unicode and very long names,
 * 1 MiB annotations, and (file datastore) duplicate YAML keys, through both datastores. Each
 * becomes a deletion of its keys or a logged skip, never a crash, and valid neighbours keep
 * flowing: the server stays ready, serves exactly the model computed from the objects (for the
 * Kubernetes datastore), and later changes to neighbours still arrive.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { syncerSpecs } from '../../src/calico/index.ts';
import { KubernetesDatastore } from '../../src/datastore/kubernetes/index.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import type { Logger } from '../../src/logger.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import { TestClient } from '../support/testClient.ts';
import { diffModels, expectedModel } from '../support/expectedModel.ts';

const MiB = 1024 * 1024;
const UNICODE = 'ünïcødé-名前-☃-🦆';
const LONG = 'l'.repeat(253);

function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } }) as unknown as Logger;
  return { logger, lines };
}

/** Objects that are valid, the neighbours that must keep flowing. */
const NEIGHBOURS: readonly RawObject[] = [
  { apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkSet', metadata: { name: 'neighbour', labels: { a: 'b' } }, spec: { nets: ['198.51.100.0/24'] } },
  { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'neighbour-pool' }, spec: { cidr: '10.50.0.0/16' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'neighbour-ns', labels: { team: 'x' } } },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'neighbour-node', annotations: { 'projectcalico.org/IPv4Address': '192.168.0.5/24' } } },
];

/** Hostile but nameable objects (the API server would store them: it only checks names and JSON). */
function hostileObjects(): RawObject[] {
  const big = 'x'.repeat(MiB);
  return [
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'spec-is-a-string', namespace: 'default' }, spec: 'nope' },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'labels-are-a-list', namespace: 'default', labels: ['a', 'b'] as never }, spec: { nodeName: 'node-1' }, status: { podIP: '10.1.1.1' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ip-is-a-number', namespace: 'default' }, spec: { nodeName: 'node-1' }, status: { podIP: 42, podIPs: 'x' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'huge-annotation', namespace: 'default', annotations: { big } }, spec: { nodeName: 'node-1' }, status: { podIP: '10.1.1.2', podIPs: [{ ip: '10.1.1.2' }] } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: LONG, namespace: 'default' }, spec: { nodeName: 'node-1', serviceAccountName: LONG }, status: { podIP: '10.1.1.3' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: UNICODE, labels: { [UNICODE]: UNICODE } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'huge-ns', annotations: { big } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'labels-nested', labels: { a: { b: 'c' } } as never } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: LONG, namespace: UNICODE } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'annotations-number', annotations: 7 as never } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: UNICODE, annotations: { 'projectcalico.org/IPv4Address': '☃' } } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'cidr-number' }, spec: { cidr: 5 } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'no-spec' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name: 'selector-number' }, spec: { selector: 7, ingress: 'all' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'GlobalNetworkPolicy', metadata: { name: UNICODE }, spec: { selector: `a == '${UNICODE}'`, order: 'first' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'NetworkPolicy', metadata: { name: 'egress-services-wrong', namespace: 'default' }, spec: { egress: [{ action: 'Allow', destination: { services: 'web' } }] } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'pod-selector-string', namespace: 'default' }, spec: { podSelector: 'x', ingress: [{ from: 5 }] } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'HostEndpoint', metadata: { name: 'no-node' }, spec: { interfaceName: 'eth0' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { logSeverityScreen: 12, reportingInterval: 'forever' } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: 'block-garbage' }, spec: { cidr: '10.0.0.0/26', allocations: 'all', attributes: 3 } },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'BGPPeer', metadata: { name: 'peer-ip-wrong' }, spec: { peerIP: [1], asNumber: 'many' } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'slice-garbage', namespace: 'default' }, endpoints: 'none', ports: [{ port: 'eighty' }] },
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'CalicoNodeStatus', metadata: { name: UNICODE }, spec: 5 as never },
  ];
}

const TYPES = ['felix', 'bgp', 'tunnel-ip-allocation', 'node-status'] as const;

describe('datastore hostility', () => {
  test('Kubernetes datastore: hostile objects become deletions or logged skips, the model is exact and neighbours keep flowing', async () => {
    const api = new K8sEmulator();
    await api.start();
    for (const o of [...NEIGHBOURS, ...hostileObjects()]) api.apply(o);
    const { logger, lines } = recordingLogger();
    const h = await startCattail({
      logger,
      flags: ['--syncer-types', TYPES.join(',')],
      datastore: new KubernetesDatastore({ kubeConfig: api.kubeConfig(), logger, backoffInitialMs: 20, backoffMaxMs: 200, minWatchMs: 0 }),
    });
    const specs = syncerSpecs() as Record<string, SyncerTypeSpec>;
    const exact = async (what: string) => {
      for (const t of TYPES) {
        const want = expectedModel(specs[t]!, (k) => api.objects(k));
        await eventually(() => h.app.syncers.get(t)?.status === 'in-sync' && diffModels(h.model(t), want).length === 0,
          `${what}: ${t} model exact (${diffModels(h.model(t), want).join('; ')})`);
      }
    };
    try {
      await exact('start');
      const felix = await TestClient.connect(h.syncUrl);
      await eventually(() => felix.inSync, 'client in sync');
      assert.ok(lines.some((l) => l.msg === 'invalid object: its keys are deleted'), 'invalid objects are logged');

      // A neighbour changes; a valid object turns hostile (its keys must go); a hostile one is fixed.
      api.apply({ ...NEIGHBOURS[0]!, spec: { nets: ['198.51.100.0/25'] } });
      api.apply({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'neighbour-pool' }, spec: { cidr: 'ten.fifty/16' } });
      api.apply({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'cidr-number' }, spec: { cidr: '10.60.0.0/16' } });
      api.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'huge-annotation', namespace: 'default', annotations: { big: 'y'.repeat(MiB) } }, spec: { nodeName: 'node-2' }, status: { podIP: '10.1.1.2' } });
      await exact('after changes');
      const felixModel = expectedModel(specs.felix!, (k) => api.objects(k));
      await eventually(() => diffModels(felix.state, felixModel).length === 0, `client state exact (${diffModels(felix.state, felixModel).join('; ')})`);
      assert.ok([...felix.state.keys()].some((k) => k.includes('10.60.0.0-16')), 'the fixed pool is served');
      assert.ok(![...felix.state.keys()].some((k) => k.includes('10.50.0.0-16')), 'the broken pool is deleted');
      assert.equal(felix.closed, undefined);
      assert.ok(h.app.readiness().ready);
      felix.close();
    } finally {
      await h.close();
      await api.stop();
    }
  });

  test('file datastore: broken documents and duplicate YAML keys hold the syncers and are logged, neighbours keep flowing, fixing them brings in-sync', async () => {
    const { logger, lines } = recordingLogger();
    const big = 'x'.repeat(MiB);
    const neighbours = NEIGHBOURS.map((o) => JSON.stringify(o)).join('\n---\n');
    const bigNamespace = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"yaml-big","annotations":{"big":"${big}"}}}`;
    const hostile = [
      ...hostileObjects().map((o) => JSON.stringify(o)),
      '{"apiVersion":"v1","kind":"Namespace"}',
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":123}}',
      '{"apiVersion":"v1","kind":"Pod","metadata":null}',
      'just a string',
      '- a\n- list',
      bigNamespace,
    ].join('\n---\n');
    const duplicate = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dup\n  name: dup2\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: dup-neighbour\n';
    const h = await startCattail({
      logger, flags: ['--syncer-types', TYPES.join(',')],
      files: { '00-neighbours.yaml': neighbours, '10-hostile.yaml': hostile, '20-duplicate.yaml': duplicate },
    });
    try {
      // Files broken since start may hold objects agents still have: nobody is told in-sync.
      const readiness = h.app.readiness();
      assert.equal(readiness.ready, false);
      for (const file of ['10-hostile.yaml', '20-duplicate.yaml']) {
        assert.ok(readiness.reasons.some((r) => r.includes(file)), `readiness names ${file}: ${readiness.reasons.join('; ')}`);
      }
      const felix = await TestClient.connect(h.syncUrl);
      await eventually(() => felix.snapshotDone && felix.status === 'resync-in-progress', 'snapshot, then resync-in-progress');
      const has = (frag: string) => [...felix.state.keys()].some((k) => k.includes(frag));
      assert.ok(has('neighbour-ns'), 'neighbour namespace served');
      assert.ok(has('/calico/v1/netset/neighbour'), 'neighbour network set served');
      assert.ok(!has('dup'), 'the file with a duplicate key is not applied');
      assert.ok(lines.some((l) => /duplicate|Map keys must be unique/i.test(JSON.stringify(l))), 'the duplicate key is logged');

      await h.writeManifest('30-later.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: later-neighbour\n');
      await eventually(() => has('later-neighbour'), 'a later neighbour flows');
      await h.writeManifest('20-duplicate.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dup-fixed\n');
      await eventually(() => has('dup-fixed'), 'the fixed file flows');
      assert.equal(felix.status, 'resync-in-progress', 'still held by the hostile file');

      // Without the documents that are not valid objects, the hostile file reads: its objects
      // go through conversion (invalid values become deletions there) and the syncers are in sync.
      const stringMap = (m: unknown) => m === undefined || (typeof m === 'object' && m !== null && !Array.isArray(m) && Object.values(m).every((v) => typeof v === 'string'));
      const readable = hostileObjects().filter((o) => stringMap(o.metadata.labels) && stringMap(o.metadata.annotations));
      await h.writeManifest('10-hostile.yaml', [...readable.map((o) => JSON.stringify(o)), bigNamespace].join('\n---\n'));
      await eventually(() => felix.inSync, 'client in sync once every file reads');
      assert.ok(has(encodeURIComponent(UNICODE).slice(0, 6)) || has(UNICODE), 'the unicode namespace is served');
      assert.equal(h.app.readiness().ready, true);
      assert.equal(felix.closed, undefined);
      felix.close();
    } finally {
      await h.close();
    }
  });
});
