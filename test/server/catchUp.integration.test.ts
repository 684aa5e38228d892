/**
 * Catch-up through the real server and real WebSocket clients (PROTOCOL.md §11): resume on the
 * same replica, digest catch-up on another replica over the same datastore (two servers over
 * one manifest directory: same state, different breadcrumb numbering and instance ids), the
 * fallbacks and their reasons, probes, clients leaving a stale replica (4030), and the close
 * codes of a broken digest upload.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { bitmapHas, bucketAtLevel, CloseCode } from '../../src/protocol/index.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { captureLogs } from '../support/logCapture.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { CatchUpClient, type CatchUpConnection } from './catchUpClient.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/cluster');
const files: Record<string, string> = {};
for (const f of readdirSync(EXAMPLE)) if (f.endsWith('.yaml')) files[f] = readFileSync(path.join(EXAMPLE, f), 'utf8');
// Held by every client before a gap, deleted during it: its key must be gone at in-sync.
files['doomed.yaml'] = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: doomed\nspec:\n  nets: ["192.0.2.0/24"]\n';

const namespace = (name: string, extra = '') => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    gap: "${name}"${extra}\n`;

async function counter(h: Harness, name: 'catchUps' | 'probes' | 'connectionsClosed' | 'duplicateHellos' | 'catchUpBytesSaved', labels: Record<string, string>): Promise<number> {
  const metric = h.app.metrics[name] as unknown as { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> };
  return (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}

const matchesModel = (c: CatchUpClient, h: Harness) => isDeepStrictEqual(c.values(), h.model('felix'));

async function synced(client: CatchUpClient, h: Harness, conn: CatchUpConnection, what: string): Promise<void> {
  await eventually(() => conn.inSync && matchesModel(client, h), what, 30_000);
}

/** Applies a change and waits until every harness shows it. */
async function change(hs: readonly Harness[], apply: () => Promise<void>, done: (m: Map<string, unknown>) => boolean, what: string): Promise<void> {
  await apply();
  await eventually(() => hs.every((h) => done(h.model('felix'))), what, 30_000);
}

/**
 * Waits out the catch-up base reuse window (--snapshot-reuse-ms, 1 s): a base made by an earlier
 * test would be reused, and the gap's changes would then come as deltas after it instead of as
 * replaced buckets (correct, but not what these tests look at).
 */
const baseExpiry = () => new Promise((r) => setTimeout(r, 1100));

/** Messages of a connection from serverHello up to snapshotEnd. */
const untilEnd = (c: CatchUpConnection) => c.messages.slice(0, c.messages.findIndex((m) => m.type === 'snapshotEnd') + 1);
const endOf = (c: CatchUpConnection) => untilEnd(c).at(-1) as { type: 'snapshotEnd'; seq: number; keys: number };

describe('catch-up', () => {
  let a: Harness;
  let b: Harness;

  before(async () => {
    a = await startCattail({ files, flags: ['--syncer-types', 'felix'] });
    b = await startCattail({ dir: a.dir, flags: ['--syncer-types', 'felix'] });
    await eventually(() => a.app.readiness().ready && b.app.readiness().ready, 'both replicas ready', 30_000);
    await eventually(() => isDeepStrictEqual(a.model('felix'), b.model('felix')), 'both replicas hold the same model', 30_000);
    assert.ok(a.model('felix').size > 50, `the example model has ${a.model('felix').size} keys`);
  });

  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a client cut and back on the same replica resumes: no snapshot, only the deltas it missed, and its map ends exact', async () => {
    const client = new CatchUpClient();
    const first = await client.connect(a.syncUrl);
    await synced(client, a, first, 'first connection in sync');
    assert.equal(first.serverHello?.catchUp, 'digest', 'a first connection with nothing held offers only digests');
    const position = client.position!;
    assert.equal(position.serverInstanceId, a.app.server.serverInstanceId);
    first.close();
    await first.ended;

    const before = a.model('felix');
    await change([a], () => a.writeManifest('resume-gap.yaml', namespace('resume-gap')), (m) => m.size > before.size, 'the change on replica A');
    const missed = [...a.model('felix')].filter(([k, v]) => !isDeepStrictEqual(before.get(k), v)).length;
    const savedBefore = await counter(a, 'catchUpBytesSaved', { syncer: 'felix' });

    const second = await client.connect(a.syncUrl);
    await synced(client, a, second, 'resumed connection in sync');
    const hello = second.serverHello!;
    assert.equal(hello.catchUp, 'resume');
    assert.equal(hello.status, 'in-sync');
    assert.deepEqual(untilEnd(second).map((m) => m.type), ['serverHello', 'snapshotEnd'], 'no kvs before snapshotEnd');
    const end = endOf(second);
    assert.equal(end.seq, position.seq, 'snapshotEnd names the offered breadcrumb');
    assert.equal(end.keys, before.size, 'with the key count at that breadcrumb');
    assert.equal(second.snapshotEntries, 0);
    assert.equal(second.deltaEntries, missed, 'exactly the missed deltas');
    assert.ok(client.position!.seq > position.seq, 'the position moved with the deltas (kvs seq)');
    assert.equal(await counter(a, 'catchUps', { syncer: 'felix', path: 'resume', reason: 'ok' }), 1);
    assert.ok((await counter(a, 'catchUpBytesSaved', { syncer: 'felix' })) > savedBefore, 'bytes saved counted');
    second.close();
    await second.ended;
  });

  test('a client back with nothing missed resumes with only serverHello, snapshotEnd and its status', async () => {
    const client = new CatchUpClient();
    const first = await client.connect(a.syncUrl);
    await synced(client, a, first, 'in sync');
    first.close();
    await first.ended;
    const held = client.position!;
    const again = await client.connect(a.syncUrl);
    await synced(client, a, again, 'in sync again');
    assert.equal(again.serverHello!.catchUp, 'resume');
    assert.equal(endOf(again).seq, held.seq);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(again.messages.map((m) => m.type).filter((t) => t !== 'ping'), ['serverHello', 'snapshotEnd', 'status']);
    assert.ok(again.wireBytes < 600, `${again.wireBytes} bytes for a resume with nothing missed`);
    again.close();
    await again.ended;
  });

  test('a position from another instance, from the future or from before the retention window falls back and says why', async () => {
    const client = new CatchUpClient();
    const c0 = await client.connect(a.syncUrl);
    await synced(client, a, c0, 'in sync');
    c0.close();
    await c0.ended;
    const held = client.position!;

    for (const [resume, reason] of [[{ serverInstanceId: 'not-this-one', seq: held.seq }, 'other-instance'], [{ ...held, seq: held.seq + 1000 }, 'future']] as const) {
      client.position = resume;
      const c = await client.connect(a.syncUrl);
      await synced(client, a, c, `in sync after ${reason}`);
      assert.deepEqual([c.serverHello!.catchUp, c.serverHello!.catchUpReason], ['digest', reason]);
      c.close();
      await c.ended;
      // Without digest the fallback is the full snapshot, with the same reason.
      client.position = resume;
      const full = await client.connect(a.syncUrl, { digest: false });
      await synced(client, a, full, `in sync after ${reason} without digest`);
      assert.deepEqual([full.serverHello!.catchUp, full.serverHello!.catchUpReason], ['snapshot', reason]);
      assert.equal(full.snapshotEntries, endOf(full).keys, 'a full snapshot');
      full.close();
      await full.ended;
    }
  });

  test('a resume position older than the retention window is expired', async () => {
    const short = await startCattail({ dir: a.dir, flags: ['--syncer-types', 'felix', '--resume-retention-ms', '50'] });
    try {
      await eventually(() => short.app.readiness().ready, 'ready', 30_000);
      const client = new CatchUpClient();
      const c0 = await client.connect(short.syncUrl);
      await synced(client, short, c0, 'in sync');
      c0.close();
      await c0.ended;
      const size = short.model('felix').size;
      await change([short, a, b], () => a.writeManifest('expiry.yaml', namespace('expiry')), (m) => m.size > size, 'a newer breadcrumb');
      await new Promise((r) => setTimeout(r, 200));
      const c = await client.connect(short.syncUrl, { digest: false });
      await synced(client, short, c, 'in sync after expiry');
      assert.deepEqual([c.serverHello!.catchUp, c.serverHello!.catchUpReason], ['snapshot', 'expired']);
      assert.equal(await counter(short, 'catchUps', { path: 'snapshot', reason: 'expired' }), 1);
      c.close();
      await c.ended;
    } finally {
      await short.close();
    }
  });

  test('a client moved to another replica gets only the buckets that differ and ends exact, held keys deleted during the gap included', async () => {
    const client = new CatchUpClient();
    const onA = await client.connect(a.syncUrl);
    await synced(client, a, onA, 'in sync on A');
    assert.ok(client.state.has('/calico/v1/netset/doomed'), 'the doomed network set is held');
    onA.close();
    await onA.ended;

    await change([a, b], async () => {
      await a.writeManifest('failover-gap.yaml', namespace('failover-gap'));
      await a.removeManifest('doomed.yaml');
    }, (m) => !m.has('/calico/v1/netset/doomed') && [...m.keys()].some((k) => k.includes('failover-gap')), 'the gap\'s changes on both replicas');

    await baseExpiry();
    // What B holds, as a client computes digests: a reference client with a full snapshot.
    const reference = new CatchUpClient();
    const ref = await reference.connect(b.syncUrl, { digest: false });
    await synced(reference, b, ref, 'reference in sync');
    ref.close();
    const level = client.digestLevel();
    const mine = client.digests(level);
    const theirs = reference.digests(level);
    const differing = new Set<number>();
    for (let i = 0; i < 2 ** level; i++) if (mine[2 * i] !== theirs[2 * i] || mine[2 * i + 1] !== theirs[2 * i + 1]) differing.add(i);
    assert.ok(differing.size > 0 && differing.size < 2 ** level / 4, `${differing.size} of ${2 ** level} buckets differ`);

    const onB = await client.connect(b.syncUrl);
    await synced(client, b, onB, 'in sync on B');
    assert.deepEqual([onB.serverHello!.catchUp, onB.serverHello!.catchUpReason], ['digest', 'other-instance']);
    const seen = untilEnd(onB);
    assert.equal(seen[1]?.type, 'buckets', 'buckets right after serverHello');
    const buckets = seen[1] as { level: number; replaced: Uint8Array };
    assert.equal(buckets.level, level);
    const replaced = new Set([...Array(2 ** level).keys()].filter((i) => bitmapHas(buckets.replaced, i)));
    assert.deepEqual(replaced, differing, 'exactly the differing buckets are replaced');
    const sent = seen.flatMap((m) => (m.type === 'kvs' ? m.kvs.map((kv) => kv[0]) : []));
    const expected = [...reference.state].filter(([, kv]) => replaced.has(bucketAtLevel(kv.bucket16, level))).map(([k]) => k);
    assert.deepEqual(new Set(sent), new Set(expected), 'every key of the replaced buckets, and nothing else');
    assert.ok(sent.length < reference.state.size / 4, `${sent.length} keys sent of ${reference.state.size}`);
    assert.ok(!client.state.has('/calico/v1/netset/doomed'), 'the key deleted during the gap is gone');
    assert.equal(await counter(b, 'catchUps', { path: 'digest', reason: 'other-instance' }), 1);
    onB.close();
    await onB.ended;
  });

  test('when the differing buckets hold more than half the keys every bit is set and the full snapshot follows', async () => {
    const other = await startCattail({ files: { 'one.yaml': namespace('lonely') }, flags: ['--syncer-types', 'felix'] });
    try {
      await eventually(() => other.app.readiness().ready, 'ready', 30_000);
      const client = new CatchUpClient();
      const c0 = await client.connect(a.syncUrl);
      await synced(client, a, c0, 'in sync on A');
      c0.close();
      await c0.ended;
      const c = await client.connect(other.syncUrl);
      await synced(client, other, c, 'in sync on the other cluster');
      const buckets = untilEnd(c).find((m) => m.type === 'buckets') as { level: number; replaced: Uint8Array };
      const bits = [...Array(2 ** buckets.level).keys()].filter((i) => bitmapHas(buckets.replaced, i)).length;
      assert.equal(bits, 2 ** buckets.level, 'every bucket replaced');
      assert.equal(c.snapshotEntries, endOf(c).keys, 'the full snapshot');
      assert.ok(c.snapshotEntries > 0);
      assert.equal(await counter(other, 'catchUps', { path: 'snapshot', reason: 'too-many-differ' }), 1);
      assert.equal(await counter(other, 'catchUps', { path: 'snapshot', reason: 'client-empty' }), 0);
      c.close();
      await c.ended;
      const fresh = new CatchUpClient();
      const f = await fresh.connect(other.syncUrl);
      await synced(fresh, other, f, 'a new client in sync');
      assert.equal(await counter(other, 'catchUps', { path: 'snapshot', reason: 'client-empty' }), 1, 'a new client holding nothing is counted apart');
      f.close();
    } finally {
      await other.close();
    }
  });

  test('a compressed session gets its catch-up frames compressed and still ends exact', async () => {
    const client = new CatchUpClient();
    const c0 = await client.connect(a.syncUrl, { compression: ['zstd'] });
    await synced(client, a, c0, 'in sync');
    c0.close();
    await c0.ended;
    await change([a, b], () => a.writeManifest('zstd-gap.yaml', namespace('zstd-gap', '\n    padding: "'.concat('p'.repeat(2000), '"'))), (m) => [...m.keys()].some((k) => k.includes('zstd-gap')), 'the change');
    await baseExpiry();
    const c = await client.connect(b.syncUrl, { compression: ['zstd'] });
    await synced(client, b, c, 'in sync on B');
    assert.equal(c.serverHello!.compression, 'zstd');
    assert.equal(c.serverHello!.catchUp, 'digest');
    assert.ok(untilEnd(c).some((m) => m.type === 'kvs'), 'the differing buckets were sent');
    assert.ok(c.compressedFrames > 0, 'and compressed');
    c.close();
    await c.ended;
  });

  test('a probe gets a serverHello with the status and a 1000 close, no snapshot, and is not a duplicate hello', async () => {
    const client = new CatchUpClient();
    const steady = await client.connect(a.syncUrl, { hostname: 'probing-node' });
    await synced(client, a, steady, 'in sync');
    const duplicates = await counter(a, 'duplicateHellos', {});
    const probes = await counter(a, 'probes', { syncer: 'felix', status: 'in-sync' });
    const probe = await new CatchUpClient().connect(a.syncUrl, { hostname: 'probing-node', probe: true });
    assert.deepEqual(await probe.ended, { code: 1000, reason: 'probe answered' });
    assert.deepEqual(probe.messages.map((m) => m.type), ['serverHello']);
    const hello = probe.serverHello!;
    assert.equal(hello.status, 'in-sync');
    assert.ok(hello.catchUp === undefined || hello.catchUp === null, 'no catch-up path for a probe');
    assert.equal(await counter(a, 'probes', { syncer: 'felix', status: 'in-sync' }), probes + 1);
    assert.equal(await counter(a, 'duplicateHellos', {}), duplicates, 'not flagged as a duplicate');
    assert.equal(steady.closed, undefined);
    steady.close();
  });

  test('a client closing with 4030 (leaving a stale replica) is counted as left-stale', async () => {
    const before = await counter(a, 'connectionsClosed', { reason: 'left-stale' });
    const client = new CatchUpClient();
    const c = await client.connect(a.syncUrl);
    await synced(client, a, c, 'in sync');
    c.close(4030, 'leaving a stale replica');
    await c.ended;
    await eventually(async () => (await counter(a, 'connectionsClosed', { reason: 'left-stale' })) === before + 1, 'left-stale counted');
  });

  describe('a broken digest upload closes only that connection with the documented code', () => {
    const cases: [string, (c: CatchUpConnection, level: number) => void, number, RegExp][] = [
      ['a wrong level', (c, level) => c.send({ type: 'digests', level: level + 1, offset: 0, digests: new Uint8Array(8 * 2 ** (level + 1)) }), CloseCode.badFrame, /digests\.level/],
      ['an offset out of order', (c, level) => c.send({ type: 'digests', level, offset: 16, digests: new Uint8Array(8 * 2 ** level) }), CloseCode.badFrame, /digests\.offset/],
      ['a wrong length', (c, level) => c.send({ type: 'digests', level, offset: 0, digests: new Uint8Array(8 * 2 ** level - 8) }), CloseCode.badFrame, /digests\.digests must be/],
      ['digests after the last', (c, level) => {
        c.sendDigests(level);
        c.send({ type: 'digests', level, offset: 0, digests: new Uint8Array(8 * 2 ** level) });
      }, CloseCode.protocolError, /digests/],
    ];
    for (const [what, send, code, reason] of cases) {
      test(`${what}: ${code}`, async () => {
        const c = await new CatchUpClient().connect(a.syncUrl, { manualDigests: true });
        await eventually(() => c.serverHello !== undefined, 'serverHello');
        assert.equal(c.serverHello!.catchUp, 'digest');
        send(c, 4);
        const closed = await c.ended;
        assert.equal(closed.code, code, closed.reason);
        assert.match(closed.reason, reason);
      });
    }

    test('digests on a connection that was not asked for them: 4000', async () => {
      const c = await new CatchUpClient().connect(a.syncUrl, { digest: false, manualDigests: true });
      await eventually(() => c.serverHello !== undefined, 'serverHello');
      c.send({ type: 'digests', level: 4, offset: 0, digests: new Uint8Array(128) });
      const closed = await c.ended;
      assert.equal(closed.code, CloseCode.protocolError, closed.reason);
    });

    test('no digests within the handshake timeout: 4004', async () => {
      const quick = await startCattail({ dir: a.dir, flags: ['--syncer-types', 'felix', '--handshake-timeout-ms', '400'] });
      try {
        await eventually(() => quick.app.readiness().ready, 'ready', 30_000);
        const c = await new CatchUpClient().connect(quick.syncUrl, { manualDigests: true });
        const closed = await c.ended;
        assert.deepEqual(closed, { code: CloseCode.handshakeTimeout, reason: 'no digests within the handshake timeout' });
        assert.equal(c.serverHello!.catchUp, 'digest');
      } finally {
        await quick.close();
      }
    });

    test('a malformed resume capability: 4001 naming the field', async () => {
      const c = await new CatchUpClient().connect(a.syncUrl, { capabilities: { resume: { serverInstanceId: 'x', seq: -1 } } });
      const closed = await c.ended;
      assert.equal(closed.code, CloseCode.badFrame);
      assert.match(closed.reason, /hello\.capabilities\.resume\.seq/);
    });
  });

  test('each hello is logged once at info with the path taken and why, and a 4030 with its own line', async () => {
    const { logger, lines } = captureLogs('info');
    const logged = await startCattail({ dir: a.dir, logger, flags: ['--syncer-types', 'felix'] });
    try {
      await eventually(() => logged.app.readiness().ready, 'ready', 30_000);
      const client = new CatchUpClient();
      client.position = { serverInstanceId: 'elsewhere', seq: 3 };
      const c = await client.connect(logged.syncUrl, { hostname: 'logged-node' });
      await synced(client, logged, c, 'in sync');
      c.close(4030, 'leaving a stale replica');
      await c.ended;
      await eventually(() => lines.some((l) => l.msg?.toString().startsWith('client left this replica as stale')), 'the 4030 logged');
      const hellos = lines.filter((l) => l.msg === 'client hello' && l.hostname === 'logged-node');
      assert.equal(hellos.length, 1);
      assert.equal(hellos[0]!.catchUp, 'digest');
      assert.equal(hellos[0]!.catchUpReason, 'other-instance');
      assert.equal(hellos[0]!.resumeFrom, 3);
      const left = lines.find((l) => l.msg?.toString().startsWith('client left this replica as stale'))!;
      assert.equal(left.level, 30, 'info');
      assert.equal(left.hostname, 'logged-node');
    } finally {
      await logged.close();
    }
  });
});

describe('a digest catch-up replacing thousands of keys', () => {
  const spec: SyncerTypeSpec = {
    name: 'felix',
    kinds: [KINDS.globalNetworkSets],
    convert: (_kind, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { v: (obj.spec as { v: string }).v } }],
  };
  const write = (ds: MemoryDatastore, i: number, v: string) => ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `k-${i}` }, spec: { v } });

  test('sends every key of the replaced buckets once, in bucket order, and ends exact', { timeout: 120_000 }, async () => {
    const ds = new MemoryDatastore();
    for (let i = 0; i < 8000; i++) write(ds, i, 'first');
    const h = await startCattail({ datastore: ds, specs: { felix: spec }, flags: ['--syncer-types', 'felix'] });
    try {
      await eventually(() => h.app.readiness().ready, 'ready', 30_000);
      const client = new CatchUpClient();
      const c0 = await client.connect(h.syncUrl);
      await synced(client, h, c0, 'in sync');
      c0.close();
      await c0.ended;
      // A fifth of the keys change: their buckets hold under half the keys, thousands of them.
      for (let i = 0; i < 8000; i += 5) write(ds, i, 'second');
      await eventually(() => (h.model('felix').get('/blob/k-7995') as { v: string }).v === 'second', 'the changes in the cache');
      await baseExpiry();
      const c = await client.connect(h.syncUrl, { resume: false });
      await synced(client, h, c, 'in sync after the digest catch-up');
      assert.deepEqual([c.serverHello!.catchUp, c.serverHello!.catchUpReason], ['digest', 'not-offered']);
      const seen = untilEnd(c);
      const buckets = seen.find((m) => m.type === 'buckets') as { level: number; replaced: Uint8Array };
      const sent = seen.flatMap((m) => (m.type === 'kvs' ? m.kvs.map((kv) => kv[0]) : []));
      const expected = [...client.state].filter(([, kv]) => bitmapHas(buckets.replaced, bucketAtLevel(kv.bucket16, buckets.level))).map(([k]) => k);
      assert.equal(sent.length, expected.length, 'each key once');
      assert.deepEqual(new Set(sent), new Set(expected));
      assert.ok(sent.length > 2000 && sent.length < 4000, `${sent.length} keys sent of 8000`);
      const order = sent.map((k) => bucketAtLevel(client.state.get(k)!.bucket16, buckets.level));
      assert.ok(order.every((b, i) => i === 0 || b >= order[i - 1]!), 'in bucket order');
      c.close();
    } finally {
      await h.close();
    }
  });
});
