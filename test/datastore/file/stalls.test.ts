/**
 * The real server on a file datastore keeps its event loop responsive while big manifests load
 * (issue 11 item 5). Each case measured over a second of event-loop stall on the code before
 * the parser worker and sliced publishing (a 2,000-pod file 1.1–1.5 s, 10,000 files over 60 s,
 * a 50,000-key map over 30 s; 2,072 ms measured here for the 2,000-pod file); the bounds are
 * generous for a busy 2-core machine and still fail there.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { eventually, startCattail } from '../../support/harness.ts';

/**
 * Longest event-loop stall allowed while a load is in progress. Measured here 40–340 ms (the
 * monitor also counts time the process waits for a busy core); the code before took 2,072 ms.
 */
const MAX_STALL_MS = 1000;
/**
 * For 10,000 files, written by this same process while the server loads them: measured 0.26–0.83 s
 * here depending on the machine's load (over 60 s before); the bound still fails the old code
 * by more than an order of magnitude.
 */
const MAX_STALL_MANY_FILES_MS = 2000;

/** A pod shaped like `kubectl get -o yaml` output: labels, annotations, containers, status. */
const pod = (i: number): string => `apiVersion: v1
kind: Pod
metadata:
  name: pod-${i}
  namespace: ns-${i % 20}
  labels: {app: web-${i % 10}, tier: frontend, pod-template-hash: 5d4f8b9c7}
  annotations:
    cni.projectcalico.org/podIP: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32
    kubectl.kubernetes.io/restartedAt: "2026-01-01T00:00:00Z"
spec:
  nodeName: node-${i % 50}
  serviceAccountName: web
  containers:
  - name: web
    image: nginx:1.27
    ports:
    - {containerPort: 80, name: http, protocol: TCP}
    - {containerPort: 443, name: https, protocol: TCP}
    resources: {requests: {cpu: 100m, memory: 128Mi}}
status:
  phase: Running
  podIP: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}
  podIPs:
  - ip: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}
`;

async function longestStallMs(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    await work();
  } finally {
    histogram.disable();
  }
  return histogram.max / 1e6;
}

function workloadEndpoints(model: Map<string, unknown>): number {
  return [...model.keys()].filter((k) => k.includes('/workload/')).length;
}

describe('file datastore load without event-loop stalls', () => {
  it('loads a 2,000-pod file added while running without stalling the event loop', async (t) => {
    const h = await startCattail();
    try {
      const text = Array.from({ length: 2000 }, (_, i) => pod(i)).join('---\n');
      const stall = await longestStallMs(async () => {
        await h.writeManifest('pods.yaml', text);
        await eventually(() => workloadEndpoints(h.model('felix')) === 2000, '2,000 workload endpoints', 120_000);
      });
      t.diagnostic(`longest event-loop stall ${stall.toFixed(0)} ms`);
      assert.ok(stall < MAX_STALL_MS, `longest stall ${stall.toFixed(0)} ms`);
      assert.equal(h.app.readiness().ready, true);
    } finally {
      await h.close();
    }
  });

  it('loads 10,000 files created at once without stalling the event loop', async (t) => {
    const h = await startCattail();
    try {
      const stall = await longestStallMs(async () => {
        for (let d = 0; d < 10; d += 1) {
          await mkdir(join(h.dir, `team-${d}`));
          await Promise.all(Array.from({ length: 1000 }, (_, i) => writeFile(join(h.dir, `team-${d}`, `pod-${i}.yaml`), pod(d * 1000 + i))));
        }
        await eventually(() => workloadEndpoints(h.model('felix')) === 10_000, '10,000 workload endpoints', 240_000);
      });
      t.diagnostic(`longest event-loop stall ${stall.toFixed(0)} ms`);
      assert.ok(stall < MAX_STALL_MANY_FILES_MS, `longest stall ${stall.toFixed(0)} ms`);
    } finally {
      await h.close();
    }
  });

  it('parses a 50,000-key map without stalling, and breaks a file over the key limit', async (t) => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `    key-${i}: value`).join('\n');
    const service = `apiVersion: v1\nkind: Service\nmetadata:\n  name: big\n  annotations:\n${keys}\n---\n${pod(1)}`;
    const h = await startCattail({ flags: ['--file-max-map-keys', '60000'] });
    try {
      const stall = await longestStallMs(async () => {
        await h.writeManifest('big.yaml', service);
        await eventually(() => workloadEndpoints(h.model('felix')) === 1, 'the pod beside the big map', 120_000);
      });
      t.diagnostic(`longest event-loop stall ${stall.toFixed(0)} ms`);
      assert.ok(stall < MAX_STALL_MS, `longest stall ${stall.toFixed(0)} ms`);
    } finally {
      await h.close();
    }
    const limited = await startCattail({ files: { 'big.yaml': service } });
    try {
      const readiness = limited.app.readiness();
      assert.equal(readiness.ready, false);
      assert.ok(readiness.reasons.some((r) => r.includes('big.yaml') && r.includes('more than 10000 keys')), readiness.reasons.join('\n'));
    } finally {
      await limited.close();
    }
  });
});
