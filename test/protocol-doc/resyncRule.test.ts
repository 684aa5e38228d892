/**
 * docs/PROTOCOL.md §10 step 7 (the resync rule), followed literally. Two clients, one written
 * from the document's sentences (docClient.ts) and our library, ride through server restarts in
 * which the new server's snapshot is older than its newest breadcrumb (§2.1) and deltas re-set
 * held keys before in-sync; both must end holding exactly the new server's model. A client that
 * instead applied "held minus snapshot" at in-sync would keep 2 of the 98 keys here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SyncClient, type Discovery } from '../../clients/typescript/src/index.ts';
import { RecordingHost } from '../../clients/typescript/test/support/recordingHost.ts';
import { KINDS, type KindInfo } from '../../src/datastore/kinds.ts';
import type { Datastore, KindListener, RawObject } from '../../src/datastore/types.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, startCattail, type Harness } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';
import { DocClient } from './docClient.ts';

const A = KINDS.namespaces;
const B = KINDS.globalNetworkSets;
/** One key per object, `/doc/<kind>/<name>` → `{v}`: the subject is the protocol, not the model. */
const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [A, B],
  convert: (kind, obj) => [{ key: `/doc/${kind.id}/${obj.metadata.name}`, value: { v: (obj.spec as { v: string }).v } }],
};
const obj = (name: string, v = 'one'): RawObject => ({ metadata: { name }, spec: { v } });
const range = (prefix: string, from: number, to: number, v = 'one') => Array.from({ length: to - from }, (_, i) => obj(`${prefix}${from + i}`, v));

/** A datastore whose kinds are listed only when the test says so, one kind at a time. */
class StagedDatastore implements Datastore {
  readonly name = 'staged';
  readonly #listeners = new Map<string, KindListener[]>();
  #revision = 0;

  subscribe(kind: KindInfo, listener: KindListener): void {
    this.#listeners.set(kind.id, [...(this.#listeners.get(kind.id) ?? []), listener]);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}

  list(kind: KindInfo, objects: readonly RawObject[]): void {
    const rev = String(++this.#revision);
    for (const l of this.#listeners.get(kind.id) ?? []) {
      l.replaced(objects.map((o) => structuredClone({ ...o, metadata: { ...o.metadata, resourceVersion: rev } })), rev);
      l.connection('up');
    }
  }
}

const serve = (datastore: Datastore) => startCattail({
  datastore, specs: { felix: spec },
  // A wide reuse window makes "the snapshot is older than the newest breadcrumb" certain
  // instead of a matter of joining within the default second.
  flags: ['--syncer-types', 'felix', '--snapshot-reuse-ms', '600000'],
});

/** Same keys and values, compared as JSON since each side decodes on its own. */
function assertExact(actual: ReadonlyMap<string, unknown>, expected: ReadonlyMap<string, unknown>, who: string): void {
  const norm = (m: ReadonlyMap<string, unknown>) => [...m].map(([k, v]) => [k, JSON.stringify(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1));
  assert.deepEqual(norm(actual), norm(expected), `${who} holds exactly the server's model`);
}

const same = (a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>) =>
  a.size === b.size && [...a].every(([k, v]) => b.has(k) && JSON.stringify(v) === JSON.stringify(b.get(k)));

/**
 * A restarted server in the state §2.1 describes: kind A listed (seq 1, 2 keys, resync), a
 * shared snapshot of seq 1 built, then kind B listed (96 keys) and in-sync. Clients joining now
 * get the seq-1 snapshot and the rest as deltas before in-sync.
 */
async function restartedServerWithOldSnapshot(b: readonly RawObject[]): Promise<Harness> {
  const ds = new StagedDatastore();
  const h = await serve(ds);
  ds.list(A, [obj('a0'), obj('a1')]);
  await eventually(() => h.app.caches.get('felix')!.current().kvs.size === 2, 'kind A in the cache');
  const primer = await TestClient.connect(h.syncUrl, { hostname: 'primer' });
  await eventually(() => primer.snapshotDone, 'the primer builds the shared snapshot of seq 1');
  primer.close();
  ds.list(B, b);
  await eventually(() => h.app.syncers.get('felix')!.status === 'in-sync' && h.app.caches.get('felix')!.current().status === 'in-sync', 'the new server is in sync');
  return h;
}

describe('docs/PROTOCOL.md §10 step 7: the resync rule, followed literally', () => {
  test('after a restart whose snapshot is older than its newest breadcrumb and whose deltas re-set held keys before in-sync, a client written from the text and our client both end exact', { timeout: 120_000 }, async () => {
    const first = new MemoryDatastore();
    for (const o of [obj('a0'), obj('a1')]) first.upsert(A, o);
    for (const o of range('b', 0, 96)) first.upsert(B, o);
    let h: Harness = await serve(first);
    // Discovery is reloaded before every attempt; it points at whichever server is current.
    let url = h.syncUrl;
    const discovery: Discovery = { description: 'test', load: async () => [{ url }] };
    const host = new RecordingHost();
    const ours = new SyncClient({ discovery, handler: host, hostname: 'ours', backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
    const doc = new DocClient();
    try {
      ours.start();
      await doc.connect(h.syncUrl);
      await eventually(() => doc.inSync && host.lastStatus === 'in-sync' && host.state.size === 98 && doc.map.size === 98, 'both clients in sync with 98 keys');

      // Restart. While down, b95 is deleted, b96 created and b0 changed.
      const stale = url;
      await h.close();
      await eventually(() => !doc.connected && host.lastStatus === 'wait-for-datastore', 'both clients saw the connection end');
      assert.equal(doc.pending?.size, 98, '§10 7.2: the pending set is every key held');
      url = stale; // refused until the new server is ready
      h = await restartedServerWithOldSnapshot([obj('b0', 'two'), ...range('b', 1, 95), obj('b96')]);
      url = h.syncUrl;
      await doc.connect(h.syncUrl);
      await eventually(() => doc.inSync && host.lastStatus === 'in-sync' && same(host.state, h.model('felix')), 'both clients in sync with the new server');

      const end = doc.record.snapshotEnds.at(-1)!;
      assert.deepEqual({ seq: end.seq, keys: end.keys }, { seq: 1, keys: 2 }, 'the snapshot was of seq 1, older than the newest breadcrumb');
      assert.ok(h.app.caches.get('felix')!.current().seq > 1);
      assert.equal(end.pendingAfter, 96, 'after the snapshot 96 held keys were still pending');
      assert.equal(doc.record.removedByDeltas, 95, 'deltas before in-sync re-set 95 of them');
      assert.equal(doc.record.deletedAtInSync, 1, 'only b95 was deleted at in-sync');
      const model = h.model('felix');
      assert.equal(model.size, 98);
      assertExact(doc.map, model, 'the client written from the text');
      assertExact(host.state, model, 'our client');
      assert.deepEqual(host.violations, []);
      assert.equal(ours.stats.deletionsSynthesised, 1);
      const b95 = host.batches.flat().filter((u) => u.key === '/doc/globalnetworksets.crd.projectcalico.org/b95').map((u) => u.type);
      assert.deepEqual(b95, ['new', 'deleted']);
    } finally {
      doc.close();
      await ours.close();
      await h.close();
    }
  });

  test('a second reconnect before in-sync deletes nothing early and still ends exact', { timeout: 120_000 }, async () => {
    const first = new MemoryDatastore();
    for (const o of [obj('a0'), obj('a1')]) first.upsert(A, o);
    for (const o of range('b', 0, 96)) first.upsert(B, o);
    let h: Harness = await serve(first);
    let url = h.syncUrl;
    const discovery: Discovery = { description: 'test', load: async () => [{ url }] };
    const host = new RecordingHost();
    const ours = new SyncClient({ discovery, handler: host, hostname: 'ours', backoff: { initialDelayMs: 20, maxDelayMs: 200 } });
    const doc = new DocClient();
    try {
      ours.start();
      await doc.connect(h.syncUrl);
      await eventually(() => doc.inSync && host.lastStatus === 'in-sync' && host.state.size === 98, 'both clients in sync with 98 keys');
      const held = new Map(doc.map);
      await h.close();
      await eventually(() => !doc.connected && host.lastStatus === 'wait-for-datastore', 'both clients saw the first server go');

      // A second server that never gets in sync: only kind A is ever listed.
      const half = new StagedDatastore();
      h = await serve(half);
      half.list(A, [obj('a0', 'two'), obj('a1')]);
      await eventually(() => h.app.caches.get('felix')!.current().kvs.size === 2, 'kind A listed');
      url = h.syncUrl;
      const connectionsBefore = ours.stats.connections;
      await doc.connect(h.syncUrl);
      await eventually(() => doc.status === 'resync-in-progress' && ours.stats.connections > connectionsBefore && host.lastStatus === 'resync-in-progress', 'both clients streaming from the half-synced server');
      assert.equal(doc.map.size, 98, 'nothing deleted before in-sync');
      assert.equal(host.state.size, 98, 'our client deleted nothing before in-sync either');
      assert.deepEqual(doc.map.get('/doc/namespaces/a0'), { v: 'two' }, 'the update itself was applied');
      assert.deepEqual([...doc.map.keys()].sort(), [...held.keys()].sort());
      await h.close();
      await eventually(() => !doc.connected && host.lastStatus === 'wait-for-datastore', 'both clients saw the second server go');
      assert.equal(doc.pending?.size, 98, '§10 7.6: the pending set is again every key held');

      h = await restartedServerWithOldSnapshot([...range('b', 0, 50, 'three')]);
      url = h.syncUrl;
      await doc.connect(h.syncUrl);
      await eventually(() => doc.inSync && host.lastStatus === 'in-sync' && same(host.state, h.model('felix')), 'both clients in sync with the third server');
      const model = h.model('felix');
      assert.equal(model.size, 52);
      assertExact(doc.map, model, 'the client written from the text');
      assertExact(host.state, model, 'our client');
      assert.deepEqual(host.violations, []);
    } finally {
      doc.close();
      await ours.close();
      await h.close();
    }
  });
});
