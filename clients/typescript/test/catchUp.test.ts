import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  DigestTable, KVEncoder, bitmapOf, bucketAtLevel, clientDigestLevel, decodeDigests, digestMessageCount, kvHash, type EncodedKV,
} from '../../../src/protocol/index.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { CattailClientError, Connection, SyncClient, type CatchUpInfo, type KvHash, type LeaveStaleInfo, type SyncClientOptions } from '../src/index.ts';
import { RecordingHost, sorted, waitFor } from './support/recordingHost.ts';
import { ScriptedServer, type ScriptedSession } from './support/scriptedServer.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<ScriptedServer> {
  const s = await ScriptedServer.start();
  cleanups.push(() => s.close());
  return s;
}

function client(servers: string[], host: RecordingHost, extra: Partial<SyncClientOptions> = {}): SyncClient {
  const c = new SyncClient({
    servers, shuffleServers: false, handler: host, random: () => 0, leaveStaleAfterMs: 0,
    backoff: { initialDelayMs: 10, maxDelayMs: 50 }, ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

const model = (n: number): Map<string, unknown> => new Map(Array.from({ length: n }, (_, i) => [`/calico/v1/k/${i}`, { spec: { i } }]));

/** The server-side digests of a state (spec B.3: KV hash of bytes[1, valueEnd) of each EncodedKV). */
function serverTable(state: ReadonlyMap<string, unknown>): { table: DigestTable; kvs: EncodedKV[] } {
  const encoder = new KVEncoder();
  const table = new DigestTable();
  const kvs = [...state].map(([k, v]) => encoder.encode(k, v, '1'));
  for (const kv of kvs) {
    const { hi, lo } = kvHash(kv.bytes, 1, kv.valueEnd);
    table.add(kv.bucket16, hi, lo);
  }
  return { table, kvs };
}

/** A first connection: full snapshot of `state` at `seq`, then in-sync. */
async function fullSync(s: ScriptedSession, instanceId: string, state: ReadonlyMap<string, unknown>, seq: number): Promise<void> {
  await s.handshake(instanceId);
  s.sendKvs([...state]);
  await s.snapshotEnd(seq, state.size);
  s.send({ type: 'status', status: 'in-sync' });
}

describe('Catch-up in the SyncClient (PROTOCOL.md §11), against a scripted server', () => {
  it('offers nothing on a first connection, then resumes on the same server: only the missed changes arrive, and the resync statuses still fire', async () => {
    const srv = await server();
    const host = new RecordingHost();
    const c = client([srv.url], host);
    const caughtUp: CatchUpInfo[] = [];
    c.on('caughtUp', (i) => caughtUp.push(i));
    c.start();

    const s1 = await srv.next();
    const hello1 = await s1.handshake('A');
    assert.equal(hello1.capabilities.resume, undefined);
    assert.equal(hello1.capabilities.digest, undefined, 'nothing held yet: no digest offer');
    s1.sendKvs([['/a', 1], ['/b', 1]]);
    await s1.snapshotEnd(5, 2);
    s1.send({ type: 'status', status: 'in-sync' });
    s1.sendKvs([['/c', 1]], { seq: 6 });
    await waitFor(() => host.state.size === 3, 'three keys');
    s1.cut();

    const s2 = await srv.next();
    const hello2 = await s2.handshake('A', { catchUp: 'resume' });
    assert.deepEqual(hello2.capabilities.resume, { serverInstanceId: 'A', seq: 6 });
    assert.deepEqual(hello2.capabilities.digest, { level: clientDigestLevel(3) });
    const updatesBefore = host.updates;
    await s2.snapshotEnd(6, 3);
    s2.send({ type: 'status', status: 'in-sync' });
    s2.sendKvs([['/d', 1]], { seq: 7 });
    await waitFor(() => host.state.has('/d') && c.connection?.catchUp === 'resume', 'the change after the resume');
    assert.equal(host.updates - updatesBefore, 1, 'a resumed connection delivers only the changes');
    assert.deepEqual(host.statuses, ['resync-in-progress', 'in-sync', 'wait-for-datastore', 'resync-in-progress', 'in-sync']);
    assert.deepEqual(sorted(host.state).map(([k]) => k), ['/a', '/b', '/c', '/d']);
    assert.deepEqual(host.violations, []);
    assert.deepEqual(caughtUp.map((i) => i.path), ['snapshot', 'resume']);
    assert.equal(caughtUp[1]?.entries, 0);
    assert.equal(c.stats.catchUps.resume, 1);
    assert.ok(c.stats.catchUpBytes.resume > 0 && c.stats.catchUpBytes.resume < c.stats.catchUpBytes.snapshot);

    // The mark moved the position: the next offer is seq 7.
    s2.cut();
    const s3 = await srv.next();
    assert.deepEqual((await s3.recv('hello')).capabilities.resume, { serverInstanceId: 'A', seq: 7 });
  });

  it('a slow host loses nothing across a resume: what it had not taken when the connection dropped is still delivered', async () => {
    const srv = await server();
    const host = new RecordingHost({ delayMs: 40 });
    const c = client([srv.url], host, { maxBatchSize: 1 });
    c.start();
    const s1 = await srv.next();
    await s1.handshake('A');
    s1.sendKvs([['/a', 0]]);
    await s1.snapshotEnd(1, 1);
    s1.send({ type: 'status', status: 'in-sync' });
    for (let i = 1; i <= 20; i++) s1.sendKvs([[`/k${i}`, i]], { seq: 1 + i });
    await waitFor(() => c.stats.updatesReceived === 21, 'every delta read');
    assert.ok(host.state.size < 21, 'the host is still behind when the connection drops');
    s1.cut();
    const s2 = await srv.next();
    const hello = await s2.handshake('A', { catchUp: 'resume' });
    assert.deepEqual(hello.capabilities.resume, { serverInstanceId: 'A', seq: 21 }, 'the position counts what was read, not what was delivered');
    await s2.snapshotEnd(21, 21);
    s2.send({ type: 'status', status: 'in-sync' });
    s2.sendKvs([['/k1', 'changed']], { seq: 22 });
    await waitFor(() => host.state.get('/k1') === 'changed' && host.state.size === 21 && host.lastStatus === 'in-sync', 'everything delivered', 20_000);
    assert.deepEqual(host.violations, []);
  });

  it('makes no resume offer after a connection that did not resume was cut mid-snapshot', async () => {
    const srv = await server();
    const host = new RecordingHost();
    const c = client([srv.url], host);
    c.start();
    const state = model(10);
    await fullSync(await srv.next(), 'A', state, 5);
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    srv.sessions[0]?.cut();

    const s2 = await srv.next();
    const hello2 = await s2.handshake('A', { catchUp: 'snapshot', catchUpReason: 'expired' });
    assert.deepEqual(hello2.capabilities.resume, { serverInstanceId: 'A', seq: 5 });
    s2.sendKvs([...state].slice(0, 4));
    await waitFor(() => c.stats.updatesReceived >= 14, 'part of the snapshot');
    s2.cut();

    const s3 = await srv.next();
    const hello3 = await s3.recv('hello');
    assert.equal(hello3.capabilities.resume, undefined, 'no position: the pending set holds keys of the older state');
    assert.deepEqual(hello3.capabilities.digest, { level: clientDigestLevel(10) });
    assert.equal(host.state.size, 10, 'nothing deleted');
  });

  it('on another replica uploads digests equal to the server\'s for the same state, then receives only the differing buckets and ends with the exact map', async () => {
    const srvA = await server();
    const srvB = await server();
    const host = new RecordingHost();
    const c = client([srvA.url, srvB.url], host);
    const caughtUp: CatchUpInfo[] = [];
    c.on('caughtUp', (i) => caughtUp.push(i));
    c.start();
    const before = model(200);
    await fullSync(await srvA.next(), 'A', before, 40);
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync on A');
    srvA.sessions[0]?.cut();
    // A is gone for good: its next connections are refused at once.
    await srvA.close();

    // B holds the state after a few changes made while the client was away.
    const after = new Map(before);
    after.set('/calico/v1/k/1', { spec: { i: 'changed' } });
    after.delete('/calico/v1/k/2');
    after.set('/calico/v1/k/new', { spec: { i: 'new' } });
    const s = await srvB.next();
    const hello = await s.handshake('B', { catchUp: 'digest', catchUpReason: 'other-instance' });
    const level = clientDigestLevel(200);
    assert.deepEqual(hello.capabilities.digest, { level });
    assert.equal(hello.capabilities.resume?.serverInstanceId, 'A');

    const uploaded = new Uint32Array(2 << level);
    for (let m = 0; m < digestMessageCount(level); m++) {
      const msg = await s.recv('digests');
      assert.equal(msg.level, level);
      assert.equal(msg.offset, m * 4096);
      uploaded.set(decodeDigests(msg.digests), 2 * msg.offset);
    }
    assert.deepEqual(uploaded, serverTable(before).table.fold(level), "the client's digests equal the server's for the same state");

    const { table, kvs } = serverTable(after);
    const mine = table.fold(level);
    const differs = (i: number) => mine[2 * i] !== uploaded[2 * i] || mine[2 * i + 1] !== uploaded[2 * i + 1];
    const bitmap = bitmapOf(2 ** level, differs);
    const resent = kvs.filter((kv) => differs(bucketAtLevel(kv.bucket16, level)));
    assert.ok(resent.length >= 2 && resent.length < 10, `${resent.length} keys in the replaced buckets`);
    const updatesBefore = host.updates;
    s.send({ type: 'buckets', level, replaced: bitmap });
    s.sendKvs(resent.map((kv) => [kv.key, after.get(kv.key)]));
    await s.snapshotEnd(41, after.size);
    s.send({ type: 'status', status: 'resync-in-progress' });
    await waitFor(() => host.state.has('/calico/v1/k/new'), 'the replaced buckets');
    assert.ok(host.state.has('/calico/v1/k/2'), 'a replaced bucket\'s key not re-sent is deleted only at in-sync');
    s.send({ type: 'status', status: 'in-sync' });
    await waitFor(() => host.lastStatus === 'in-sync' && !host.state.has('/calico/v1/k/2'), 'in-sync on B');

    assert.deepEqual(sorted(host.state), sorted(after));
    assert.equal(host.updates - updatesBefore, resent.length + 1, 'only the replaced buckets\' keys and one deletion');
    assert.deepEqual(host.violations, []);
    const digest = caughtUp.at(-1);
    assert.equal(digest?.path, 'digest');
    assert.equal(digest?.reason, 'other-instance');
    assert.equal(digest?.level, level);
    assert.equal(digest?.replacedBuckets, [...Array(2 ** level).keys()].filter(differs).length);
    assert.equal(c.stats.catchUps.digest, 1);
    assert.equal(c.connection?.catchUp, 'digest');
  });

  it('refuses a negative leaveStaleAfterMs and a catchUp that is not a boolean, naming both', () => {
    assert.throws(
      () => new SyncClient({ servers: ['127.0.0.1:1'], handler: new RecordingHost(), leaveStaleAfterMs: -1, catchUp: 'yes' as unknown as boolean }),
      (err: Error & { code?: string }) => err.code === 'INVALID_OPTIONS' && /leaveStaleAfterMs/.test(err.message) && /catchUp/.test(err.message),
    );
  });

  it('offers no catch-up at all with catchUp: false', async () => {
    const srv = await server();
    const host = new RecordingHost();
    const c = client([srv.url], host, { catchUp: false });
    c.start();
    await fullSync(await srv.next(), 'A', model(5), 5);
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    srv.sessions[0]?.cut();
    const hello = await (await srv.next()).recv('hello');
    assert.equal(hello.capabilities.resume, undefined);
    assert.equal(hello.capabilities.digest, undefined);
  });

  it('refuses a serverHello that chooses a path the client did not offer, and buckets of the wrong level', async () => {
    const srv = await server();
    const host = new RecordingHost();
    const c = client([srv.url], host);
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.message));
    c.start();
    const s1 = await srv.next();
    await s1.handshake('A', { catchUp: 'resume' });
    assert.equal((await s1.closed).code, 4000);
    await fullSync(await srv.next(), 'A', model(5), 5);
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync');
    srv.sessions[1]?.cut();
    const s3 = await srv.next();
    const hello = await s3.handshake('B', { catchUp: 'digest' });
    await s3.recv('digests');
    const level = hello.capabilities.digest?.level ?? 0;
    s3.send({ type: 'buckets', level: level + 1, replaced: Buffer.alloc(2 ** (level + 1) / 8) });
    assert.equal((await s3.closed).code, 4001);
    await waitFor(() => errors.some((m) => m.includes('buckets.level')), 'the buckets error');
    assert.ok(errors.some((m) => m.includes('chose catch-up "resume"')), errors.join('\n'));
  });

  it('leaves a replica that stays out of sync for an in-sync one it probed, closing with 4030', async () => {
    const srvA = await server();
    const srvB = await server();
    const host = new RecordingHost();
    const clock = new ManualClock(0);
    const T = 60_000;
    const c = client([srvA.url, srvB.url], host, { leaveStaleAfterMs: T, clock });
    const left: LeaveStaleInfo[] = [];
    c.on('leavingReplica', (i) => left.push(i));
    c.start();
    const state = model(20);
    const a = await srvA.next();
    await fullSync(a, 'A', state, 5);
    await waitFor(() => host.lastStatus === 'in-sync', 'in-sync on A');
    a.send({ type: 'status', status: 'wait-for-datastore' });
    await waitFor(() => host.lastStatus === 'wait-for-datastore', 'A goes stale');

    clock.advance(T - 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(srvB.sessions.length, 0, 'no probe before T');
    clock.advance(1);
    const probe = await srvB.next();
    const probeHello = await probe.recv('hello');
    assert.deepEqual(probeHello.capabilities, { probe: true });
    probe.send({
      type: 'serverHello', protocolVersion: 1, syncerType: 'felix', serverVersion: 'scripted', serverInstanceId: 'B',
      connectionId: 'p', compression: null, status: 'in-sync',
    });
    probe.ws.close(1000, 'probe answered');

    const closedA = await a.closed;
    assert.deepEqual(closedA, { code: 4030, reason: 'leaving a stale replica' });
    const s = await srvB.next();
    const hello = await s.recv('hello');
    assert.deepEqual(hello.capabilities.digest, { level: clientDigestLevel(20) }, 'the move offers digests');
    assert.equal(left.length, 1);
    assert.equal(left[0]?.from, srvA.url);
    assert.equal(left[0]?.to, srvB.url);
    assert.ok((left[0]?.notInSyncForMs ?? 0) >= T);
    assert.equal(c.stats.leftStale, 1);
    assert.equal(c.stats.probes, 1);
    assert.equal(c.stats.probesInSync, 1);
  });

  it('never probes while discovery lists no other replica', async () => {
    const srv = await server();
    const host = new RecordingHost();
    const clock = new ManualClock(0);
    const c = client([srv.url], host, { leaveStaleAfterMs: 1000, clock });
    c.start();
    const a = await srv.next();
    await fullSync(a, 'A', model(3), 5);
    a.send({ type: 'status', status: 'resync-in-progress' });
    await waitFor(() => host.lastStatus === 'resync-in-progress', 'A goes stale');
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(srv.sessions.length, 1, 'no probe connection');
    assert.equal(c.stats.probes, 0);
    assert.equal(a.ws.readyState, a.ws.OPEN);
  });

  it('stays on a stale replica when the probed one is not in sync either', async () => {
    const srvA = await server();
    const srvB = await server();
    const host = new RecordingHost();
    const clock = new ManualClock(0);
    const T = 60_000;
    const c = client([srvA.url, srvB.url], host, { leaveStaleAfterMs: T, clock });
    c.start();
    const a = await srvA.next();
    await fullSync(a, 'A', model(3), 5);
    a.send({ type: 'status', status: 'resync-in-progress' });
    await waitFor(() => host.lastStatus === 'resync-in-progress', 'A goes stale');
    clock.advance(T);
    const probe = await srvB.next();
    await probe.handshake('B', { status: 'wait-for-datastore' });
    probe.ws.close(1000, 'probe answered');
    await waitFor(() => c.stats.probes === 1 && probe.ws.readyState === probe.ws.CLOSED, 'the probe');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.ws.readyState, a.ws.OPEN, 'still connected to A');
    assert.equal(c.stats.leftStale, 0);
    assert.equal(srvB.sessions.length, 1, 'only the probe');
  });

  it('applies a frame its scanner cannot hash without hashes, reports it once, and keeps the connection', async () => {
    const srv = await server();
    const kvs: (readonly (KvHash | undefined)[] | undefined)[] = [];
    const failures: CattailClientError[] = [];
    const connection = new Connection({
      url: srv.url, syncerType: 'felix', hostname: 'h', clientVersion: 'v', clientInfo: 'test', clientConnId: 'c1',
      connectTimeoutMs: 5000, handshakeTimeoutMs: 5000, readTimeoutMs: 30_000, writeTimeoutMs: 5000, maxFrameBytes: 1 << 21,
      compression: false, tls: undefined, hashKvs: true, scanKvs: () => { throw new Error('scanner bug'); },
    }, {
      onServerHello: () => undefined, onSnapshotEnd: () => undefined, onStatus: () => undefined,
      onKvs: (_entries, hashes) => kvs.push(hashes),
      onHashFailure: (e) => failures.push(e),
    });
    const done = connection.run();
    const s = await srv.next();
    await s.handshake('A');
    s.sendKvs([['/a', 1]]);
    s.sendKvs([['/b', 1]]);
    await s.snapshotEnd(1, 2);
    assert.deepEqual(kvs, [undefined, undefined], 'both frames applied, without hashes');
    assert.equal(failures.length, 1);
    assert.match(failures[0]?.message ?? '', /scanner bug.*digest catch-up is off/);
    assert.equal(s.ws.readyState, s.ws.OPEN, 'the connection goes on');
    connection.close();
    await done;
  });
});
