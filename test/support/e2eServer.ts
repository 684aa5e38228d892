/**
 * End-to-end plumbing: the real Cattail started from flags with the Kubernetes datastore
 * pointed at the API server emulator through a kubeconfig file, real protocol clients, and
 * waits for clients to hold exactly the model computed from the emulator.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SyncerType } from '../../src/syncer/types.ts';
import { expectedModel, modelDiff } from './e2eCluster.ts';
import { type Harness, startCattail } from './harness.ts';
import type { K8sEmulator } from './k8sEmulator.ts';
import { TestClient } from './testClient.ts';

export const SERVED: readonly SyncerType[] = ['felix', 'bgp', 'tunnel-ip-allocation'];

/**
 * Cattail with `--datastore kubernetes --kubeconfig <file>`; the harness' file-datastore flags
 * come first and later flags win.
 */
export async function startK8sCattail(api: K8sEmulator, flags: readonly string[] = []): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cattail-e2e-kubeconfig-'));
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, api.kubeConfigYaml());
  try {
    const h = await startCattail({ flags: ['--datastore', 'kubernetes', '--kubeconfig', file, ...flags] });
    return {
      ...h,
      close: async () => {
        await h.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Connects `perType` clients of each syncer type, hostnames `<type>-<i>`. */
export async function connectClients(url: string, perType: Partial<Record<SyncerType, number>>): Promise<TestClient[]> {
  const pending: Promise<TestClient>[] = [];
  for (const [syncerType, n] of Object.entries(perType)) {
    for (let i = 0; i < (n ?? 0); i++) pending.push(TestClient.connect(url, { syncerType, hostname: `${syncerType}-${i}` }));
  }
  return Promise.all(pending);
}

export function syncerTypeOf(c: TestClient): SyncerType {
  return (c.options.syncerType ?? 'felix') as SyncerType;
}

/**
 * Waits until every client is in sync and holds exactly the model computed from the emulator's
 * current objects (computed once: call it after the datastore changes). On timeout, the error
 * names the first differences of the first client that has not converged.
 */
export async function waitConverged(api: K8sEmulator, clients: readonly TestClient[], what: string, timeoutMs = 60_000): Promise<void> {
  await waitModelConverged(new Map(SERVED.map((t) => [t, expectedModel(api, t)] as const)), clients, what, timeoutMs);
}

/** Waits until every client is in sync and holds exactly `expected` for its syncer type. */
export async function waitModelConverged(
  expected: ReadonlyMap<SyncerType, ReadonlyMap<string, unknown>>, clients: readonly TestClient[], what: string, timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lagging = clients.find((c) => !c.inSync || modelDiff(c.state, expected.get(syncerTypeOf(c))!, 1).length > 0);
    if (lagging === undefined) return;
    if (Date.now() > deadline) {
      const diff = modelDiff(lagging.state, expected.get(syncerTypeOf(lagging))!);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${syncerTypeOf(lagging)} client ${lagging.options.hostname} ` +
        `(inSync=${lagging.inSync}, status=${lagging.status}, ${lagging.state.size} keys):\n  ${diff.join('\n  ')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every `[key, value, revision, updateType]` a client received after message index `from`. */
export function kvsSince(c: TestClient, from: number): [string, unknown, unknown, number][] {
  return c.messages.slice(from).flatMap((m) => (m.type === 'kvs' ? (m.kvs as unknown as [string, unknown, unknown, number][]) : []));
}

export async function httpStatus(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

export async function httpText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/** Prometheus gauge value for `name{label="value"}`; undefined when absent. */
export function gauge(metrics: string, name: string, label: string, value: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`${label}="${value}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
