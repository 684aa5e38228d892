/**
 * Child-process entry: the Kubernetes API emulator of the end-to-end tests (one global revision
 * counter, so every replica watching it sees the same revisions) holding the failover
 * scenario's pods, and the paced churn on them. Answers over IPC with its kubeconfig, starts and
 * stops the churn, and computes the model the felix syncer must serve from its objects by the
 * conversion functions (test/support/expectedModel.ts), as the digest the replicas also report.
 * Options arrive as JSON in argv[2].
 */
import { expectedModel, seeded } from '../../test/support/e2eCluster.ts';
import { K8sEmulator } from '../../test/support/k8sEmulator.ts';
import { serveIpc } from '../ipc.ts';
import { modelDigest } from '../modelDigest.ts';
import { namespaceObject, podObject } from '../workload.ts';

export interface EmulatorOptions {
  readonly pods: number;
  readonly namespaces: number;
  readonly seed: number;
}

export interface ChurnCounts {
  readonly updates: number;
  readonly deletes: number;
  readonly creates: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as EmulatorOptions;
  // Bookmarks every 10 s, as a real API server's watch cache sends them: a watch of a kind that
  // never changes (IP pools, Felix configuration) would otherwise look dead to the replicas'
  // idle watchdog (timeoutSeconds + 30 s) whenever the loaded emulator ends it late.
  const api = new K8sEmulator({ bookmarkIntervalMs: 10_000 });
  await api.start();
  const nodes = Math.max(1, Math.round(opts.pods / 100));
  for (let i = 0; i < opts.namespaces; i++) api.create(namespaceObject(i));
  for (let i = 0; i < opts.pods; i++) api.create(podObject(i, nodes, opts.namespaces));
  // The initial objects need no history: every replica starts with a list.
  api.compact();
  const random = seeded(opts.seed);
  const alive = Array.from({ length: opts.pods }, (_, i) => i);
  const dead: number[] = [];
  const counts = { updates: 0, deletes: 0, creates: 0 };
  let timer: NodeJS.Timeout | undefined;

  const pick = (list: number[]): number => {
    const at = Math.floor(random() * list.length);
    const v = list[at] as number;
    list[at] = list[list.length - 1] as number;
    list.pop();
    return v;
  };
  /** One change: 80 % a label change of a live pod, 10 % a deletion, 10 % a pod (re)created. */
  const change = () => {
    const r = random();
    if (r < 0.1 && alive.length > 1) {
      const i = pick(alive);
      api.delete(podObject(i, nodes, opts.namespaces));
      dead.push(i);
      counts.deletes++;
    } else if (r < 0.2 && dead.length > 0) {
      const i = pick(dead);
      const pod = podObject(i, nodes, opts.namespaces);
      delete pod.metadata.resourceVersion;
      api.create(pod);
      alive.push(i);
      counts.creates++;
    } else {
      const i = alive[Math.floor(random() * alive.length)] as number;
      const pod = podObject(i, nodes, opts.namespaces);
      pod.metadata.labels = { ...pod.metadata.labels, revision: String(counts.updates) };
      delete pod.metadata.resourceVersion;
      api.update(pod);
      counts.updates++;
    }
  };

  serveIpc({
    kubeconfig: () => api.kubeConfigYaml(),
    revision: () => api.revision,
    /** Starts a churn of `ratePerSec` changes a second, paced every 10 ms. */
    churn: (a: { ratePerSec: number }) => {
      clearInterval(timer);
      const started = performance.now();
      let emitted = 0;
      timer = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * a.ratePerSec);
        for (; emitted < due; emitted++) change();
      }, 10);
    },
    stopChurn: (): ChurnCounts => {
      clearInterval(timer);
      timer = undefined;
      return { ...counts };
    },
    expected: () => {
      const model = expectedModel(api, 'felix');
      const entries = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return modelDigest(entries);
    },
    exit: async () => {
      clearInterval(timer);
      await api.stop();
    },
  });
}

if (import.meta.main) await main();
