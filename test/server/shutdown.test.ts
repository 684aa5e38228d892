import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CloseCode } from '../../src/protocol/index.ts';
import { eventually } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

interface Running {
  readonly proc: ChildProcess;
  readonly syncUrl: string;
  readonly opsUrl: string;
  readonly exit: Promise<number | null>;
  readonly dir: string;
}

/** Starts `node src/main.ts` as a real process, as Kubernetes would, and waits for its ready line. */
async function spawnCattail(shutdownTimeout: string): Promise<Running> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cattail-shutdown-'));
  await writeFile(path.join(dir, 'pool.yaml'), 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}\n');
  const proc = spawn(process.execPath, ['src/main.ts', '--datastore', 'file', '--file-dir', dir, '--sync-host', '127.0.0.1', '--sync-port', '0',
    '--ops-host', '127.0.0.1', '--ops-port', '0', '--shutdown-timeout-ms', shutdownTimeout, '--max-connections-per-source', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let out = '';
  const urls = await new Promise<{ sync: string; ops: string }>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('ready for agents'));
      if (line !== undefined) resolve(JSON.parse(line) as { sync: string; ops: string });
    });
    proc.once('exit', () => reject(new Error(`cattail exited before ready:\n${out}`)));
  });
  return { proc, syncUrl: urls.sync, opsUrl: urls.ops, exit, dir };
}

describe('graceful shutdown on SIGTERM', () => {
  test('with no sessions the process exits at once with code 0', { timeout: 30_000 }, async () => {
    const r = await spawnCattail('60s');
    const started = Date.now();
    r.proc.kill('SIGTERM');
    assert.equal(await r.exit, 0);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    await rm(r.dir, { recursive: true, force: true });
  });

  for (const [n, timeout, interval] of [[5, '2s', 380], [50, '5s', 95]] as const) {
    test(`with ${n} sessions readiness fails first, then sessions are closed one at a time about ${interval} ms apart, and the process exits 0`, { timeout: 60_000 }, async () => {
      const r = await spawnCattail(timeout);
      const clients = await Promise.all(Array.from({ length: n }, () => TestClient.connect(r.syncUrl)));
      await eventually(() => clients.every((c) => c.inSync), 'all in sync');
      const closedAt: number[] = [];
      for (const c of clients) c.ws.on('close', () => closedAt.push(Date.now()));
      r.proc.kill('SIGTERM');
      await eventually(async () => (await fetch(`${r.opsUrl}/readiness`)).status === 503, 'readiness to fail', 2000);
      const openWhenUnready = clients.filter((c) => c.closed === undefined).length;
      assert.ok(openWhenUnready >= n - 2, `readiness failed while ${openWhenUnready} of ${n} sessions were still open`);
      assert.equal(await r.exit, 0);
      await eventually(() => clients.every((c) => c.closed !== undefined), 'all closed');
      assert.ok(clients.every((c) => c.closed!.code === CloseCode.shuttingDown), 'every session got the shutting-down code');
      closedAt.sort((a, b) => a - b);
      // Pacing is judged on the whole spread, which stays meaningful when a loaded test machine
      // delivers individual close events late or in clumps.
      const spread = closedAt.at(-1)! - closedAt[0]!;
      const expected = (n - 1) * interval;
      assert.ok(spread >= expected * 0.6, `closes spread over ${spread} ms; paced at ${interval} ms they need about ${expected} ms`);
      assert.ok(spread < Number.parseFloat(timeout) * 1000, `spread over ${spread} ms, within the shutdown timeout`);
      await rm(r.dir, { recursive: true, force: true });
    });
  }

  test('a second signal exits immediately', { timeout: 30_000 }, async () => {
    const r = await spawnCattail('60s');
    const clients = await Promise.all(Array.from({ length: 3 }, () => TestClient.connect(r.syncUrl)));
    await eventually(() => clients.every((c) => c.inSync), 'all in sync');
    r.proc.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 100));
    const started = Date.now();
    r.proc.kill('SIGTERM');
    assert.equal(await r.exit, 1);
    assert.ok(Date.now() - started < 2000);
    await rm(r.dir, { recursive: true, force: true });
  });
});
