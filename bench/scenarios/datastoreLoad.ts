/**
 * Scenario 6, datastore load: the Kubernetes API emulator (test/support) holds P pods; behind a
 * byte-counting proxy it serves (a) Cattail with 1 agent, (b) Cattail with N agents, (c) N
 * agents listing and watching every Felix kind directly. Each run: start, reach in-sync, apply C
 * pod changes, wait until every agent has seen them; counted: requests and bytes served.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { K8sEmulator } from '../../test/support/k8sEmulator.ts';
import { BenchServer } from '../benchServer.ts';
import { ByteCountingProxy } from '../byteCountingProxy.ts';
import { ClientFleet } from '../clientFleet.ts';
import type { BenchContext } from '../context.ts';
import { atMost, type ScenarioResult } from '../report.ts';
import { namespaceObject, podObject } from '../workload.ts';

/**
 * Direct agents measured at most: each holds ~16 watches, and every watch costs the bench
 * process three sockets (proxy in, proxy out, emulator), so 500 agents would exceed a 20,000
 * descriptor limit. Direct load is per agent by construction (every agent lists and watches on
 * its own), so larger counts are extrapolated linearly from this many, and the notes say so.
 */
const MAX_DIRECT_AGENTS = 150;

interface Load {
  readonly requests: number;
  readonly bytes: number;
  readonly connections: number;
  readonly complete: boolean;
}

function kubeconfigYaml(port: number): string {
  return [
    'apiVersion: v1', 'kind: Config', 'current-context: emulator',
    'clusters:', '- name: emulator', '  cluster:', `    server: http://127.0.0.1:${port}`, '    insecure-skip-tls-verify: true',
    'users:', '- name: emulator', '  user: {}',
    'contexts:', '- name: emulator', '  context:', '    cluster: emulator', '    user: emulator', '',
  ].join('\n');
}

export async function datastoreLoad(ctx: BenchContext): Promise<ScenarioResult> {
  const { agents, pods, changes } = ctx.sizes.datastore;
  const api = new K8sEmulator({ token: '' });
  await api.start();
  const proxy = new ByteCountingProxy(Number(new URL(api.url).port));
  const port = await proxy.listen();
  const dir = await mkdtemp(path.join(tmpdir(), 'cattail-bench-kube-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigYaml(port));
  for (let i = 0; i < 20; i++) api.create(namespaceObject(i));
  for (let i = 0; i < pods; i++) api.create(podObject(i, Math.max(1, pods / 20), 20));
  let changed = 0;
  const change = () => {
    for (let i = 0; i < changes; i++, changed++) {
      const pod = podObject(changed % pods, Math.max(1, pods / 20), 20);
      pod.metadata.labels = { ...pod.metadata.labels, revision: String(changed) };
      delete pod.metadata.resourceVersion;
      api.update(pod);
    }
  };
  const measure = async (run: () => Promise<boolean>): Promise<Load> => {
    api.clearRequests();
    proxy.reset();
    const complete = await run();
    return { requests: api.requests.length, bytes: proxy.bytesServed, connections: proxy.connections, complete };
  };
  const viaCattail = (n: number) => measure(async () => {
    const server = await BenchServer.start({ datastore: 'kubernetes', kubeconfig });
    const fleet = new ClientFleet('cattail', Math.min(ctx.sizes.clientProcesses, n));
    try {
      await server.waitInSync();
      await fleet.connect(n, { url: server.url });
      await fleet.reset();
      change();
      return (await fleet.awaitUpdates(changes, 60_000)).complete;
    } finally {
      await fleet.stop();
      await server.stop();
    }
  });
  const direct = (n: number) => measure(async () => {
    const fleet = new ClientFleet('kube', ctx.sizes.clientProcesses);
    try {
      await fleet.connect(n, { kubeconfig: kubeconfigYaml(port) });
      await fleet.reset();
      change();
      return (await fleet.awaitUpdates(changes, 120_000)).complete;
    } finally {
      await fleet.stop();
    }
  });
  try {
    ctx.log(`datastore load: Cattail with 1 agent (${pods} pods, ${changes} changes)`);
    const one = await viaCattail(1);
    ctx.log(`datastore load: Cattail with ${agents} agents`);
    const many = await viaCattail(agents);
    const measured = Math.min(agents, MAX_DIRECT_AGENTS);
    ctx.log(`datastore load: ${measured} agents listing and watching the API directly`);
    const sample = await direct(measured);
    const scale = agents / measured;
    const dir2: Load = { ...sample, requests: sample.requests * scale, bytes: sample.bytes * scale, connections: sample.connections * scale };
    const notes = [
      ...(measured < agents ? [`direct: measured with ${measured} agents (${sample.requests} requests, ${(sample.bytes / 1024 ** 2).toFixed(1)} MiB) and scaled ×${scale.toFixed(2)} to ${agents}`] : []),
      `Cattail, 1 agent: ${one.requests} requests, ${(one.bytes / 1024).toFixed(0)} KiB; ${agents} agents: ${many.requests} requests, ${(many.bytes / 1024).toFixed(0)} KiB`,
      `${agents} agents direct: ${dir2.requests} requests, ${(dir2.bytes / 1024 ** 2).toFixed(1)} MiB (${(dir2.bytes / Math.max(1, many.bytes)).toFixed(0)}× Cattail's)`,
    ];
    for (const [name, l] of [['1 agent', one], [`${agents} agents`, many], ['direct', dir2]] as const) {
      if (!l.complete) notes.push(`${name}: not every agent saw every change in time`);
    }
    return {
      scenario: 'datastore',
      title: `6. datastore load (${pods} pods, ${agents} agents)`,
      figures: {
        pods, agents, changes,
        cattail1Requests: one.requests, cattail1Bytes: one.bytes, cattailNRequests: many.requests, cattailNBytes: many.bytes,
        directAgentsMeasured: measured, directRequests: dir2.requests, directBytes: dir2.bytes, directConnections: dir2.connections,
      },
      targets: [
        atMost(`requests with ${agents} agents / with 1`, many.requests / one.requests, 1, '×', '= 1×'),
        atMost(`bytes with ${agents} agents / with 1`, many.bytes / one.bytes, 1.01, '×', '= 1× (±1 %)'),
      ],
      notes,
    };
  } finally {
    await proxy.close();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
