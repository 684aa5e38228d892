/**
 * A Kubernetes datastore wired to a fresh API server emulator, with timings short enough for
 * tests, plus object builders. `await using`-free on purpose: call `close()` in `finally`.
 */
import { KINDS } from '../../src/datastore/kinds.ts';
import { KubernetesDatastore, type KubernetesDatastoreOptions } from '../../src/datastore/kubernetes/index.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { silentLogger } from '../../src/logger.ts';
import { K8sEmulator, type K8sEmulatorOptions } from './k8sEmulator.ts';
import { RecordingListener, waitFor } from './k8sRecorder.ts';

/** Fast but realistic: watches long enough not to end by themselves unless a test wants it. */
export const FAST_TUNING: Partial<KubernetesDatastoreOptions> = {
  watchTimeoutMinMs: 30_000,
  watchTimeoutMaxMs: 30_000,
  watchIdleMarginMs: 5_000,
  backoffInitialMs: 20,
  backoffMaxMs: 200,
  minWatchMs: 0,
  requestTimeoutMs: 5_000,
  random: () => 0.5,
};

export interface Harness {
  readonly api: K8sEmulator;
  readonly ds: KubernetesDatastore;
  close(): Promise<void>;
}

export async function startHarness(
  options: Partial<KubernetesDatastoreOptions> = {},
  emulator: K8sEmulatorOptions = {},
): Promise<Harness> {
  const api = new K8sEmulator(emulator);
  await api.start();
  const ds = new KubernetesDatastore({ kubeConfig: api.kubeConfig(), logger: silentLogger(), ...FAST_TUNING, ...options });
  return {
    api,
    ds,
    async close() {
      await ds.close();
      await api.stop();
    },
  };
}

/** Subscribes a RecordingListener to pods, starts the datastore and waits for the pod watch. */
export async function watchPods(h: Harness): Promise<RecordingListener> {
  const rec = new RecordingListener();
  h.ds.subscribe(KINDS.pods, rec);
  await h.ds.start();
  await waitFor(() => h.api.openWatches('/api/v1/pods') === 1, 'watching');
  return rec;
}

export function pod(name: string, namespace = 'default', labels: Record<string, string> = {}): RawObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { nodeName: 'node-1' } };
}

export function ipPool(name: string, cidr: string): RawObject {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec: { cidr } };
}

export function namespace(name: string): RawObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}
