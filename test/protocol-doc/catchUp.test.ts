/**
 * docs/PROTOCOL.md §11 followed literally, by a client written from its sentences
 * (catchUpClient.ts), against real servers: resume on the same process after a cut, digest
 * catch-up on another replica of the same datastore, the fallbacks and their reasons, and the
 * probe. Each ends with the client holding exactly the server's model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, startCattail, type Harness } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { CatchUpDocClient } from './catchUpClient.ts';

const KIND = KINDS.globalNetworkSets;
const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KIND],
  convert: (_k, obj) => [{ key: `/doc/${obj.metadata.name}`, value: { v: (obj.spec as { v: string }).v, n: [1, 300, 70_000] } }],
};
const obj = (i: number, v = 'one'): RawObject => ({ metadata: { name: `o${i}` }, spec: { v } });
const KEYS = 300;

const serve = (ds: MemoryDatastore) => startCattail({ datastore: ds, specs: { felix: spec }, flags: ['--syncer-types', 'felix'] });

async function inSyncAndEqual(client: CatchUpDocClient, h: Harness, what: string): Promise<void> {
  await eventually(() => {
    if (client.status !== 'in-sync' || client.pending !== undefined) return false;
    const model = h.model('felix');
    return model.size === client.map.size && [...model].every(([k, v]) => JSON.stringify(client.map.get(k)) === JSON.stringify(v));
  }, what, 20_000);
}

describe('docs/PROTOCOL.md §11: catch-up, followed literally', () => {
  const ds = new MemoryDatastore();
  let a: Harness;
  let b: Harness;
  before(async () => {
    for (let i = 0; i < KEYS; i++) ds.upsert(KIND, obj(i));
    a = await serve(ds);
    b = await serve(ds);
    await eventually(() => a.app.readiness().ready && b.app.readiness().ready, 'both replicas ready');
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  test('a client cut for a while resumes on the same server with only the missed deltas (§11.5)', async () => {
    const client = new CatchUpDocClient();
    await client.connect(a.syncUrl, { resume: true, digestLevel: 'default' });
    await inSyncAndEqual(client, a, 'first connection in sync');
    assert.equal(client.record.catchUp, 'digest', 'a first connection has no position; its digest offer is taken');
    assert.equal(client.record.catchUpReason, 'not-offered');
    // Changes while connected move the position by the delta frames' marks (§11.1, §11.2).
    ds.upsert(KIND, obj(1, 'two'));
    await inSyncAndEqual(client, a, 'delta applied');
    await eventually(() => client.position?.seq === a.app.caches.get('felix')?.current().seq, 'the position follows the marks');
    await client.close();
    ds.upsert(KIND, obj(2, 'three'));
    ds.delete(KIND, obj(3));
    ds.upsert(KIND, obj(KEYS + 1, 'new'));
    const offered = client.position?.seq;
    await client.connect(a.syncUrl, { resume: true, digestLevel: 'default' });
    await inSyncAndEqual(client, a, 'resumed and in sync');
    const rec = client.record;
    assert.equal(rec.catchUp, 'resume');
    assert.equal(rec.catchUpReason, null);
    assert.equal(rec.entriesBeforeSnapshotEnd, 0, 'no kvs between serverHello and snapshotEnd');
    assert.deepEqual(rec.types.slice(0, 2), ['serverHello', 'snapshotEnd']);
    assert.equal(rec.snapshotEnd?.seq, offered);
    assert.equal(rec.snapshotEnd?.keys, KEYS);
    assert.equal(client.map.has('/doc/o3'), false, 'the deletion came as a delta');
    await client.close();
  });

  test('a client moving to another replica uploads its digests and receives only the differing buckets (§11.6)', async () => {
    const client = new CatchUpDocClient();
    await client.connect(a.syncUrl, { digestLevel: 'default' });
    await inSyncAndEqual(client, a, 'in sync on replica a');
    await client.close();
    ds.upsert(KIND, obj(10, 'changed'));
    ds.delete(KIND, obj(11));
    ds.upsert(KIND, obj(KEYS + 2, 'created'));
    await eventually(() => b.model('felix').get('/doc/o10') !== undefined && !b.model('felix').has('/doc/o11'), 'replica b saw the changes');
    // Level 13: two digests messages (offsets 0 and 4096), as §11.6 step 2 describes.
    await client.connect(b.syncUrl, { resume: true, digestLevel: 13 });
    await inSyncAndEqual(client, b, 'caught up on replica b');
    const rec = client.record;
    assert.equal(rec.catchUp, 'digest');
    assert.equal(rec.catchUpReason, 'other-instance');
    assert.equal(rec.digestMessages, 2);
    assert.deepEqual(rec.types.slice(0, 2), ['serverHello', 'buckets']);
    assert.equal(rec.buckets?.level, 13);
    assert.equal(rec.buckets?.replaced.length, 1024);
    const set = [...(rec.buckets?.replaced ?? [])].reduce((n, byte) => n + byte.toString(2).replaceAll('0', '').length, 0);
    assert.ok(set >= 2 && set <= 3, `${set} buckets replaced for 3 changed keys`);
    assert.ok(rec.entriesBeforeSnapshotEnd <= 3, `${rec.entriesBeforeSnapshotEnd} entries sent instead of ${KEYS}`);
    assert.ok((rec.pendingAfterBuckets ?? 0) <= 3);
    assert.equal(rec.snapshotEnd?.keys, b.model('felix').size);
    assert.equal(client.map.has('/doc/o11'), false, 'the deleted key, in a replaced bucket and not sent, went at in-sync');
    assert.equal(rec.deletedAtInSync, 1);
    await client.close();
  });

  test('a position the server cannot use falls back with its reason, never a close (§11.4)', async () => {
    const client = new CatchUpDocClient();
    await client.connect(a.syncUrl, {});
    await inSyncAndEqual(client, a, 'in sync');
    assert.equal(client.record.catchUp, null, 'no offer: no catchUp, a full snapshot as in v1');
    assert.equal(client.record.entriesBeforeSnapshotEnd, a.model('felix').size);
    await client.close();
    client.position = { serverInstanceId: client.position?.serverInstanceId as string, seq: 1e12 };
    await client.connect(a.syncUrl, { resume: true });
    await inSyncAndEqual(client, a, 'in sync after a fallback from the future');
    assert.deepEqual([client.record.catchUp, client.record.catchUpReason], ['snapshot', 'future']);
    assert.equal(client.record.entriesBeforeSnapshotEnd, a.model('felix').size);
    await client.close();
  });

  test('a probe is answered with the status and a 1000 close, and nothing else (§11.7)', async () => {
    const client = new CatchUpDocClient();
    await client.connect(b.syncUrl, { probe: true });
    await eventually(() => client.closed, 'the server closed the probe');
    assert.deepEqual(client.record.types, ['serverHello']);
    assert.equal(client.record.serverStatus, 'in-sync');
    assert.equal(client.record.catchUp, null);
    assert.deepEqual([client.record.closeCode, client.record.closeReason], [1000, 'probe answered']);
  });
});
