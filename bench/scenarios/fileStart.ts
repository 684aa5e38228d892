/**
 * File-datastore start: the server starts on a directory of 60,000 pods (60 namespaces, one
 * file of 1,000 pods each) plus a policy, and we measure the time to readiness (every syncer
 * in sync) and the longest event-loop stall meanwhile, with a /liveness probe every 100 ms from
 * the moment the ops port listens, timed as kubelet would see it. Before the parser worker and sliced publishing this start took
 * 30–55 s with the event loop frozen for most of it (issue 11).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { startCattail } from '../../src/main.ts';
import type { BenchContext } from '../context.ts';
import { freePort } from '../freePort.ts';
import { atMost, type ScenarioResult } from '../report.ts';

const PODS_PER_FILE = 1000;
/** kubelet's default liveness probe timeout. */
const PROBE_TIMEOUT_MS = 1000;

function podYaml(i: number, namespace: string): string {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return [
    'apiVersion: v1', 'kind: Pod', 'metadata:', `  name: pod-${i}`, `  namespace: ${namespace}`,
    `  labels: {app: web-${i % 10}, tier: frontend}`, '  annotations:', `    cni.projectcalico.org/podIP: ${ip}/32`,
    'spec:', `  nodeName: node-${i % 500}`, '  serviceAccountName: web', '  containers:', '  - name: web', '    image: nginx:1.27',
    '    ports:', '    - {containerPort: 80, name: http, protocol: TCP}', 'status:', '  phase: Running', `  podIP: ${ip}`, '',
  ].join('\n');
}

export async function fileStart(ctx: BenchContext): Promise<ScenarioResult> {
  const pods = ctx.quick ? 6_000 : 60_000;
  const dir = await mkdtemp(path.join(tmpdir(), 'cattail-bench-file-'));
  try {
    for (let f = 0; f * PODS_PER_FILE < pods; f += 1) {
      const namespace = `ns-${f}`;
      const docs = [`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`];
      for (let i = f * PODS_PER_FILE; i < Math.min(pods, (f + 1) * PODS_PER_FILE); i += 1) docs.push(podYaml(i, namespace));
      await writeFile(path.join(dir, `${namespace}.yaml`), docs.join('---\n'));
    }
    ctx.log(`file start: ${pods} pods written to ${dir}`);
    // A fixed ops port, so probes can run while startCattail is still loading the directory
    // (the ops listener starts before the datastore).
    const opsPort = await freePort();
    const parsed = parseConfig(['--sync-host', '127.0.0.1', '--sync-port', '0', '--ops-host', '127.0.0.1', '--ops-port', String(opsPort), '--datastore', 'file', '--file-dir', dir], {});
    if (parsed.help) throw new Error('unexpected --help');
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const started = performance.now();
    let slowestProbeMs = 0;
    let probes = 0;
    let failedProbes = 0;
    let readyMs = Number.NaN;
    let app: Awaited<ReturnType<typeof startCattail>> | undefined;
    const starting = startCattail(parsed.config, { logger: silentLogger(), registry: new Registry() }).then((a) => { app = a; });
    try {
      const url = `http://127.0.0.1:${opsPort}/liveness`;
      const deadline = started + 600_000;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const answered = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then((r) => r.arrayBuffer()).then(() => true, () => false);
        // Before the first answer the ops port may not listen yet; after it, a failure counts.
        if (answered || probes > 0) {
          probes += 1;
          if (!answered) failedProbes += 1;
          slowestProbeMs = Math.max(slowestProbeMs, performance.now() - t0);
        }
        if (app?.readiness().ready) {
          readyMs = performance.now() - started;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      histogram.disable();
      await starting;
      await app?.close();
    }
    const stallMs = histogram.max / 1e6;
    return {
      scenario: 'file-start',
      title: `file datastore start, ${pods} pods`,
      figures: { pods, readySeconds: Number((readyMs / 1000).toFixed(1)), longestStallMs: Math.round(stallMs), slowestLivenessMs: Math.round(slowestProbeMs), livenessProbes: probes, livenessFailures: failedProbes },
      targets: [
        atMost('longest event-loop stall', Math.round(stallMs), 1000, 'ms', '≤ 1 s (liveness never times out)'),
        atMost('slowest /liveness', Math.round(slowestProbeMs), 1000, 'ms', '≤ 1 s'),
        atMost('failed /liveness probes', failedProbes, 0, '', '0 (kubelet timeout 1 s)'),
      ],
      notes: ['in-process server, so a stall also delays the probes themselves: the event-loop stall is the figure that counts (the code before the parser worker stalled for the whole load, 21–27 s here, and answered 2 probes)', 'one file of 1,000 pods per namespace; parse in the worker thread, publish in slices of 100'],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
