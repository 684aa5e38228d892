/**
 * The TypeScript client's catch-up against the real server (PROTOCOL.md §11): two replicas over
 * one manifest directory (the same state under different breadcrumb numbering and instance
 * ids), a TCP proxy in front of replica A so the test can cut the client off without either
 * side closing on purpose.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { eventually, startCattail, type Harness } from '../../../test/support/harness.ts';
import { TcpProxy } from '../../../test/support/tcpProxy.ts';
import { SyncClient, type CatchUpInfo, type LeaveStaleInfo, type ProbeInfo } from '../src/index.ts';
import { RecordingHost } from './support/recordingHost.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../../examples/cluster');
const files: Record<string, string> = {};
for (const f of readdirSync(EXAMPLE)) if (f.endsWith('.yaml')) files[f] = readFileSync(path.join(EXAMPLE, f), 'utf8');
const netSet = (name: string, net: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: ${name}\nspec:\n  nets: ["${net}"]\n`;
files['doomed.yaml'] = netSet('doomed', '192.0.2.0/24');
const DOOMED = '/calico/v1/netset/doomed';

/** Keys whose value differs between two models, deletions and creations included. */
function changedKeys(before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): number {
  let n = 0;
  for (const [k, v] of after) if (!isDeepStrictEqual(before.get(k), v)) n++;
  for (const k of before.keys()) if (!after.has(k)) n++;
  return n;
}

describe('client catch-up against the real server', () => {
  let a: Harness;
  let b: Harness;
  let proxy: TcpProxy;
  let proxyUrl: string;
  let proxyB: TcpProxy;
  let proxyBUrl: string;

  before(async () => {
    a = await startCattail({ files, flags: ['--syncer-types', 'felix'] });
    b = await startCattail({ dir: a.dir, flags: ['--syncer-types', 'felix'] });
    proxy = new TcpProxy(a.app.syncAddress.port);
    proxyUrl = `ws://127.0.0.1:${await proxy.listen()}/sync`;
    proxyB = new TcpProxy(b.app.syncAddress.port);
    proxyBUrl = `ws://127.0.0.1:${await proxyB.listen()}/sync`;
    await eventually(() => isDeepStrictEqual(a.model('felix'), b.model('felix')) && a.app.readiness().ready && b.app.readiness().ready,
      'both replicas ready with the same model', 30_000);
  });

  after(async () => {
    await proxy?.close();
    await proxyB?.close();
    await b?.close();
    await a?.close();
  });

  function start(servers: string[]): { client: SyncClient; host: RecordingHost; caughtUp: CatchUpInfo[] } {
    const host = new RecordingHost();
    const client = new SyncClient({
      servers, shuffleServers: false, syncerType: 'felix', handler: host, leaveStaleAfterMs: 0,
      backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const caughtUp: CatchUpInfo[] = [];
    client.on('caughtUp', (i) => caughtUp.push(i));
    client.start();
    return { client, host, caughtUp };
  }

  it('a client cut off and back on the same replica resumes: only the missed deltas, and an exact map', async (t) => {
    const { client, host, caughtUp } = start([proxyUrl]);
    try {
      await eventually(() => host.lastStatus === 'in-sync' && isDeepStrictEqual(host.state, a.model('felix')), 'first sync', 30_000);
      proxy.block();
      await eventually(() => client.connection === undefined, 'the cut is seen', 30_000);
      const beforeGap = a.model('felix');
      await a.writeManifest('resume-gap.yaml', netSet('resume-gap', '198.51.100.0/24'));
      await a.removeManifest('doomed.yaml');
      await eventually(() => { const m = a.model('felix'); return m.size === beforeGap.size && !isDeepStrictEqual(m, beforeGap); }, 'the changes on A', 30_000);
      const missed = changedKeys(beforeGap, a.model('felix'));
      const updatesBefore = host.updates;
      proxy.open();
      await eventually(() => caughtUp.length === 2 && host.lastStatus === 'in-sync' && isDeepStrictEqual(host.state, a.model('felix')),
        'resumed and exact', 30_000);
      const resumed = caughtUp[1] as CatchUpInfo;
      t.diagnostic(`resume: ${resumed.bytes} bytes until snapshotEnd, ${missed} missed changes; first snapshot ${caughtUp[0]?.bytes} bytes, ${caughtUp[0]?.entries} entries`);
      assert.equal(resumed.path, 'resume');
      assert.equal(resumed.entries, 0, 'no snapshot entries on a resumed connection');
      assert.equal(host.updates - updatesBefore, missed, 'the host receives exactly the missed changes');
      assert.ok(client.stats.catchUpBytes.resume < client.stats.catchUpBytes.snapshot / 10,
        `resume ${client.stats.catchUpBytes.resume} bytes, snapshot ${client.stats.catchUpBytes.snapshot}`);
      assert.deepEqual(host.violations, []);
    } finally {
      await client.close();
      proxy.open();
      await a.writeManifest('doomed.yaml', netSet('doomed', '192.0.2.0/24'));
    }
  });

  it('a client moved to another replica over the same datastore receives only the differing buckets, and ends with an exact map', async (t) => {
    // The first test put doomed back: both replicas must hold it again before the gap deletes it.
    await eventually(() => a.model('felix').has(DOOMED) && isDeepStrictEqual(a.model('felix'), b.model('felix')), 'replicas agree, doomed included', 30_000);
    const { client, host, caughtUp } = start([proxyUrl, proxyBUrl]);
    try {
      await eventually(() => host.lastStatus === 'in-sync' && isDeepStrictEqual(host.state, a.model('felix')), 'first sync on A', 30_000);
      assert.equal(client.connection?.url, proxyUrl);
      const snapshotEntries = caughtUp[0]?.entries ?? 0;
      // A is gone, B unreachable for now: the changes happen while the client is connected nowhere.
      proxy.block();
      proxyB.block();
      await eventually(() => client.connection === undefined, 'the cut is seen', 30_000);
      const beforeGap = b.model('felix');
      await b.writeManifest('move-gap.yaml', netSet('move-gap', '203.0.113.0/24'));
      await b.removeManifest('doomed.yaml');
      await eventually(() => { const m = b.model('felix'); return m.size === beforeGap.size && !isDeepStrictEqual(m, beforeGap); }, 'the changes on B', 30_000);
      proxyB.open();
      await eventually(() => caughtUp.length === 2 && host.lastStatus === 'in-sync' && isDeepStrictEqual(host.state, b.model('felix')),
        'caught up on B and exact', 30_000);
      const moved = caughtUp[1] as CatchUpInfo;
      t.diagnostic(`digest: ${moved.bytes} bytes, ${moved.entries} entries, ${moved.replacedBuckets} of ${2 ** (moved.level ?? 0)} buckets; first snapshot ${caughtUp[0]?.bytes} bytes, ${snapshotEntries} entries`);
      assert.equal(moved.path, 'digest', `path ${moved.path} (${moved.reason})`);
      assert.equal(moved.reason, 'other-instance');
      assert.ok((moved.replacedBuckets ?? 0) > 0 && (moved.replacedBuckets ?? 0) < 2 ** (moved.level ?? 0) / 2,
        `${moved.replacedBuckets} of ${2 ** (moved.level ?? 0)} buckets replaced`);
      assert.ok(moved.entries < snapshotEntries / 2, `${moved.entries} entries against a snapshot of ${snapshotEntries}`);
      assert.ok(moved.entries >= changedKeys(beforeGap, b.model('felix')) - 1, 'at least the changed keys (but the deletion) come again');
      assert.ok(beforeGap.has(DOOMED) && !host.state.has(DOOMED), 'the key deleted during the gap is gone');
      assert.deepEqual(host.violations, []);
    } finally {
      await client.close();
      proxy.open();
      proxyB.open();
    }
  });

  it('leaves a replica stuck in wait-for-datastore for one a probe finds in sync, and the stale replica counts the 4030 as left-stale', async () => {
    // A replica whose manifest directory does not exist (and waits for it) never reaches in-sync.
    const stale = await startCattail({ dir: path.join(tmpdir(), `cattail-missing-${randomBytes(6).toString('hex')}`), flags: ['--syncer-types', 'felix', '--file-dir-missing', 'wait'] });
    const host = new RecordingHost();
    const client = new SyncClient({
      servers: [stale.syncUrl, b.syncUrl], shuffleServers: false, syncerType: 'felix', handler: host, leaveStaleAfterMs: 300,
      backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const probes: ProbeInfo[] = [];
    const left: LeaveStaleInfo[] = [];
    client.on('probed', (p) => probes.push(p));
    client.on('leavingReplica', (l) => left.push(l));
    try {
      client.start();
      await eventually(() => client.connection?.url === stale.syncUrl, 'connected to the stale replica', 30_000);
      await eventually(() => host.lastStatus === 'in-sync' && client.connection?.url === b.syncUrl && isDeepStrictEqual(host.state, b.model('felix')),
        'moved to B and in sync there', 30_000);
      assert.equal(left.length, 1);
      assert.equal(left[0]?.from, stale.syncUrl);
      assert.equal(left[0]?.to, b.syncUrl);
      assert.ok((left[0]?.notInSyncForMs ?? 0) >= 300, `left after ${left[0]?.notInSyncForMs} ms`);
      assert.deepEqual(probes.map((p) => [p.url, p.status]), [[b.syncUrl, 'in-sync']]);
      assert.equal(client.stats.leftStale, 1);
      const metric = stale.app.metrics.connectionsClosed as unknown as { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> };
      await eventually(async () => (await metric.get()).values.some((v) => v.labels.reason === 'left-stale' && v.value === 1), 'the stale replica counts left-stale', 30_000);
      assert.deepEqual(host.violations, []);
    } finally {
      await client.close();
      await stale.close();
    }
  });
});
