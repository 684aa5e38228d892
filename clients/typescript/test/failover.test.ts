import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode } from '../../../src/protocol/index.ts';
import { SyncClient, type ConnectionInfo, type SyncClientOptions, type Update } from '../src/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, sorted, waitFor } from './support/recordingHost.ts';

function client(servers: string[], host: RecordingHost, extra: Partial<SyncClientOptions> = {}): SyncClient {
  return new SyncClient({
    servers, handler: host, hostname: 'node-1', shuffleServers: false,
    backoff: { initialDelayMs: 10, maxDelayMs: 100 }, ...extra,
  });
}

function fill(server: FakeServer, prefix: string, n: number, value: unknown): void {
  for (let i = 0; i < n; i++) server.state.set(`/calico/v1/${prefix}/${i}`, value);
}

describe('failover between replicas', () => {
  it('after each switch the host holds exactly the new server\'s state, with correct new/updated labels', async (t) => {
    const a = await FakeServer.start({ instanceId: 'A' });
    const b = await FakeServer.start({ instanceId: 'B' });
    t.after(() => Promise.all([a.close(), b.close()]));
    fill(a, 'shared', 300, { from: 'A' });
    fill(a, 'onlyA', 200, 1);
    fill(b, 'shared', 300, { from: 'B' });
    fill(b, 'onlyB', 100, 2);

    const host = new RecordingHost();
    const c = client([a.url, b.url], host);
    const connected: ConnectionInfo[] = [];
    c.on('connected', (info) => connected.push(info));
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync' && host.state.size === 500, 'first sync with A');
    assert.deepEqual(sorted(host.state), sorted(a.state));

    for (let round = 0; round < 4; round++) {
      const [from, to] = round % 2 === 0 ? [a, b] : [b, a];
      // Change the target while the client is elsewhere, so every switch carries real differences.
      to.state.set(`/calico/v1/round/${round}`, round);
      to.state.delete(`/calico/v1/shared/${round}`);
      const before = host.updates;
      const statusesBefore = host.statuses.length;
      from.dropAll(CloseCode.shuttingDown, 'shutting down');
      await waitFor(() => c.connection?.serverInstanceId === to.instanceId, `switch ${round} to ${to.instanceId}`);
      await waitFor(() => host.lastStatus === 'in-sync' && host.statuses.length > statusesBefore, `in-sync on ${to.instanceId}`);
      assert.deepEqual(sorted(host.state), sorted(to.state), `round ${round}: host holds exactly ${to.instanceId}'s state`);
      assert.deepEqual(sorted(c.state), sorted(to.state));
      const delivered: Update[] = host.batches.flat().slice(before);
      for (const u of delivered) {
        if (u.type === 'new') assert.ok(!from.state.has(u.key) || !to.state.has(u.key), `new for a key in both: ${u.key}`);
      }
      assert.deepEqual(host.statuses.slice(statusesBefore).at(-1), 'in-sync');
      assert.ok(host.statuses.slice(statusesBefore).includes('resync-in-progress'));
    }
    assert.deepEqual(host.violations, []);
    assert.deepEqual(connected.map((i) => i.serverInstanceId), ['A', 'B', 'A', 'B', 'A']);
  });

  it('keeps stale keys while the new server is not in sync, then deletes them when it is', async (t) => {
    const a = await FakeServer.start({ instanceId: 'A' });
    const b = await FakeServer.start({ instanceId: 'B' });
    t.after(() => Promise.all([a.close(), b.close()]));
    a.state.set('k/both', 1);
    a.state.set('k/stale', 1);
    b.state.set('k/both', 2);
    b.state.set('k/fresh', 2);
    b.status = 'resync-in-progress';
    const host = new RecordingHost();
    const c = client([a.url, b.url], host);
    c.start();
    t.after(() => c.close());
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync with A');
    a.dropAll(CloseCode.shuttingDown, 'bye');
    await waitFor(() => host.state.get('k/both') === 2 && host.state.has('k/fresh'), 'B snapshot applied');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(sorted(host.state), [['k/both', 2], ['k/fresh', 2], ['k/stale', 1]]);
    assert.notEqual(host.lastStatus, 'in-sync');
    b.setStatus('in-sync');
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync with B');
    assert.deepEqual(sorted(host.state), [['k/both', 2], ['k/fresh', 2]]);
    assert.equal(c.stats.deletionsSynthesised, 1);
    assert.deepEqual(host.violations, []);
  });

  it('moves a client shed by one replica to another it has not tried', async (t) => {
    const a = await FakeServer.start({ instanceId: 'A' });
    const b = await FakeServer.start({ instanceId: 'B' });
    const c3 = await FakeServer.start({ instanceId: 'C' });
    t.after(() => Promise.all([a.close(), b.close(), c3.close()]));
    const servers = [a, b, c3];
    const host = new RecordingHost();
    const c = client(servers.map((s) => s.url), host, { shuffleServers: true });
    const seen: string[] = [];
    c.on('connected', (info) => seen.push(info.serverInstanceId));
    c.start();
    t.after(() => c.close());
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => seen.length === i && host.lastStatus === 'in-sync', `connection ${i}`);
      const current = servers.find((s) => s.instanceId === seen.at(-1));
      current?.dropAll(CloseCode.rebalance, 'rebalancing');
      await waitFor(() => seen.length > i, 'reconnected after the shed');
      assert.notEqual(seen[i], seen[i - 1], 'never straight back to the replica that shed it');
    }
    // Three sheds visit three different replicas before any is revisited.
    assert.equal(new Set(seen.slice(0, 3)).size, 3, `visited ${seen.join(',')}`);
    assert.deepEqual(host.violations, []);
  });
});
