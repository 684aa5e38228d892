/**
 * End-to-end plumbing for the etcd datastore: Cattail started from flags with
 * `--datastore etcdv3`, the model each syncer type must serve computed directly from etcd's
 * current keys (decoded with the etcd layout, converted by the etcd kinds table, see
 * expectedModel.ts), and a wait for real clients to hold exactly that.
 */
import { syncerSpecs } from '../../src/calico/index.ts';
import { type EtcdClient, type EtcdKV, layoutOf } from '../../src/datastore/etcd/index.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import type { Logger } from '../../src/logger.ts';
import type { SyncerType } from '../../src/syncer/types.ts';
import { SERVED, waitModelConverged } from './e2eServer.ts';
import { eventually } from './eventually.ts';
import { expectedModel } from './expectedModel.ts';
import { type Harness, startCattail } from './harness.ts';
import type { TestClient } from './testClient.ts';

export async function startEtcdCattail(endpoints: readonly string[], flags: readonly string[] = [], logger?: Logger): Promise<Harness> {
  return startCattail({ flags: ['--datastore', 'etcdv3', '--etcd-endpoints', endpoints.join(','), ...flags], ...(logger ? { logger } : {}) });
}

/** Waits until etcd answers a range (a fresh member takes a moment to elect itself). */
export async function waitEtcdReady(client: EtcdClient): Promise<void> {
  await eventually(async () => client.range('/', { countOnly: true }).then(() => true, () => false), 'etcd answering', 60_000);
}

export async function putAll(client: EtcdClient, kvs: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...kvs];
  const worker = async (): Promise<void> => {
    for (let e = entries.shift(); e !== undefined; e = entries.shift()) await client.put(e[0], e[1]);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** The model of every served syncer type, from one consistent read of etcd. */
export async function expectedFromEtcd(client: EtcdClient, types: readonly SyncerType[] = SERVED): Promise<Map<SyncerType, Map<string, unknown>>> {
  const all: EtcdKV[] = [];
  let fromKey: string | undefined;
  let revision: string | undefined;
  for (;;) {
    const page = await client.range('/calico/', { limit: 1000, ...(revision ? { revision } : {}), ...(fromKey ? { fromKey } : {}) });
    revision ??= page.revision;
    all.push(...page.kvs);
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || !last) break;
    fromKey = `${last.key}\0`;
  }
  const specs = syncerSpecs('etcdv3');
  const out = new Map<SyncerType, Map<string, unknown>>();
  for (const type of types) {
    out.set(type, expectedModel(specs[type], (kind) => {
      const layout = layoutOf(kind);
      if (!layout) return [];
      const objects: RawObject[] = [];
      for (const kv of all) if (kv.key.startsWith(layout.prefix)) objects.push(layout.decode(kv.key, kv.value, kv.modRevision));
      return objects;
    }));
  }
  return out;
}

/** Waits until every client is in sync and holds exactly the model of etcd's current keys. */
export async function waitEtcdConverged(client: EtcdClient, clients: readonly TestClient[], what: string, timeoutMs = 60_000): Promise<void> {
  await waitModelConverged(await expectedFromEtcd(client), clients, what, timeoutMs);
}
