/**
 * The README's "complete minimal agent", run as written (only its import and server address are
 * pointed at this checkout and a local server): it syncs, and Ctrl-C ends it with exit code 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FakeServer } from './support/fakeServer.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

function readmeAgent(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /```js\n(\/\/ agent\.mjs\n[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the README has the agent.mjs block');
  return block[1]!;
}

describe('the README minimal agent', () => {
  it('syncs against a server and exits 0 on Ctrl-C (SIGINT)', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.set('/calico/v1/config/LogSeverityScreen', 'Info');
    const code = readmeAgent();
    assert.ok(code.includes("from '@cattail/client'") && code.includes("'ws://127.0.0.1:5473'"));
    const dir = mkdtempSync(path.join(tmpdir(), 'cattail-readme-agent-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'agent.mjs');
    writeFileSync(file, code
      .replace("from '@cattail/client'", `from ${JSON.stringify(pathToFileURL(path.join(root, 'src', 'index.ts')).href)}`)
      .replace("'ws://127.0.0.1:5473'", JSON.stringify(server.url)));

    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const deadline = Date.now() + 30_000;
    while (!/status in-sync keys 1/.test(stdout)) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`agent did not sync:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0, `exit code after Ctrl-C\n${stdout}\n${stderr}`);
    assert.doesNotMatch(stderr, /stopped:/);
  });
});
