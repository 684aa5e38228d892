/**
 * A restart must not turn a broken manifest into deletions (issue 11 item 2): the real server,
 * started on a directory with a file that does not parse, serves what reads, never says
 * in-sync to anyone, names the file in readiness and /status, and goes in-sync (with the
 * file's objects) once it is fixed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, startCattail } from '../../support/harness.ts';
import { TestClient } from '../../support/testClient.ts';

const policy = (name: string): string =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n  selector: all()\n`;
const hasPolicy = (state: Map<string, unknown>, name: string): boolean => [...state.keys()].some((k) => k.startsWith('/calico/v1/policy/tier/default/policy/') && k.endsWith(name));

describe('file datastore readiness with a broken manifest', () => {
  it('holds every syncer out of in-sync, names the file in readiness and /status, and recovers when it is fixed', async () => {
    const broken = `${policy('p1')}---\n${policy('p2')}  types: [Ingress\n`;
    const h = await startCattail({ files: { 'good.yaml': policy('allow-dns'), 'policies.yaml': broken } });
    try {
      const readiness = await fetch(`${h.opsUrl}/readiness`);
      assert.equal(readiness.status, 503);
      const body = await readiness.json() as { reasons: string[] };
      assert.ok(body.reasons.some((r) => r.startsWith(`datastore file: ${h.dir}/policies.yaml`)), JSON.stringify(body));
      const status = await (await fetch(`${h.opsUrl}/status`)).json() as { datastoreBlockers: { source: string }[]; syncers: Record<string, { status: string }> };
      assert.match(status.datastoreBlockers[0]?.source ?? '', /policies\.yaml/);
      for (const [name, s] of Object.entries(status.syncers)) assert.equal(s.status, 'resync-in-progress', name);

      // A brand-new client gets what reads, and is told resync-in-progress, never in-sync.
      const client = await TestClient.connect(h.syncUrl);
      try {
        await eventually(() => client.snapshotDone && client.status !== undefined, 'snapshot and status');
        assert.ok(hasPolicy(client.state, 'allow-dns'), JSON.stringify([...client.state.keys()]));
        assert.equal(client.status, 'resync-in-progress');

        await h.writeManifest('policies.yaml', `${policy('p1')}---\n${policy('p2')}`);
        await eventually(() => client.inSync, 'in-sync once the file reads');
        assert.ok(hasPolicy(client.state, 'p1') && hasPolicy(client.state, 'p2'));
        const statuses = client.messages.flatMap((m) => (m.type === 'status' ? [m.status] : []));
        assert.equal(statuses.indexOf('in-sync'), statuses.length - 1, 'in-sync only at the end');
        assert.equal((await fetch(`${h.opsUrl}/readiness`)).status, 200);
      } finally {
        client.close();
      }
    } finally {
      await h.close();
    }
  });
});
