/**
 * A restart must not turn a broken manifest into deletions (issue 11 item 2): the real server,
 * started on a directory with a file that does not parse, serves what reads, never says
 * in-sync to anyone, names the file in readiness and /status, and goes in-sync (with the
 * file's objects) once it is fixed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SyncClient } from '../../../clients/typescript/src/index.ts';
import type { SyncStatus, Update } from '../../../clients/typescript/src/types.ts';
import { eventually, startCattail } from '../../support/harness.ts';
import { TestClient } from '../../support/testClient.ts';

/** A port free on 127.0.0.1 a moment ago: the restarted server must listen where the agent reconnects. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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

  it('an agent connected across a restart onto a file broken since start keeps every policy (the 11-of-11 reproduction)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cattail-restart-'));
    const names = Array.from({ length: 11 }, (_, i) => `policy-${i}`);
    const good = names.map(policy).join('---\n');
    await writeFile(join(dir, 'policies.yaml'), good);
    const port = await freePort();
    const flags = ['--sync-port', String(port), '--syncer-types', 'felix'];
    let h = await startCattail({ dir, flags });
    const held = new Map<string, unknown>();
    let status: SyncStatus | undefined;
    let connections = 0;
    const client = new SyncClient({
      servers: [`ws://127.0.0.1:${port}/sync`], syncerType: 'felix', hostname: 'agent-1',
      handler: {
        onUpdates: (updates: readonly Update[]) => {
          for (const u of updates) {
            if (u.type === 'deleted') held.delete(u.key);
            else held.set(u.key, u.value);
          }
        },
        onStatus: (s: SyncStatus) => { status = s; },
      },
    });
    client.on('connected', () => { connections += 1; });
    client.on('error', () => {});
    const policiesHeld = () => names.filter((n) => hasPolicy(held, n)).length;
    try {
      client.start();
      await eventually(() => status === 'in-sync' && policiesHeld() === 11, 'the agent holds 11 policies');

      await h.close();
      await writeFile(join(dir, 'policies.yaml'), `${good}\n  bad: [indent\n`);
      h = await startCattail({ dir, flags });
      await eventually(() => connections === 2 && status === 'resync-in-progress', 'the agent reconnected to the restarted server');
      // Give a wrong server every chance to say in-sync and make the agent drop the policies.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(status, 'resync-in-progress');
      assert.equal(policiesHeld(), 11, 'no policy deleted on the agent');

      await writeFile(join(dir, 'policies.yaml'), good);
      await eventually(() => status === 'in-sync', 'in-sync once the file reads');
      assert.equal(policiesHeld(), 11);
    } finally {
      await client.close();
      await h.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
