/**
 * The README's and OPERATIONS.md's quick-start commands, run as written through npm (only the
 * port is changed to a running test server's): whatever the machine's own `node` is, they run
 * on the pinned Node, and `--dump` prints JSON alone on stdout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Harness, startCattail } from '../support/harness.ts';
import { findOnPath } from '../support/systemPackages.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const docs = ['README.md', 'docs/OPERATIONS.md', 'clients/typescript/README.md'].map((f) => readFileSync(path.join(REPO, f), 'utf8')).join('\n');

/** Every documented `npm run ...` command line (comments after `#` dropped). */
const npmCommands = [...new Set([...docs.matchAll(/^(npm run [^\n#`]*?)\s*(?:#.*)?$/gm)].map((m) => m[1]!.trim()))];

/** Runs a shell command without blocking this process, which hosts the server it talks to. */
function sh(command: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd: REPO, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

describe('documented commands', () => {
  let h: Harness;
  before(async () => {
    h = await startCattail({ files: { 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: docs\n' } });
  });
  after(async () => h.close());

  test('the documented client --dump command prints nothing but the model as JSON and exits 0', async () => {
    assert.ok(findOnPath('npm'), 'npm is on PATH');
    const dump = npmCommands.filter((c) => /^npm run -s client -- --server ws:\/\/127\.0\.0\.1:5473 --syncer felix --dump$/.test(c));
    assert.ok(dump.length > 0, `README documents the --dump command; found: ${npmCommands.join(' | ')}`);
    const port = new URL(h.syncUrl).port;
    const r = await sh(dump[0]!.replace('127.0.0.1:5473', `127.0.0.1:${port}`));
    assert.equal(r.status, 0, r.stderr);
    const model = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.ok(Object.keys(model).some((k) => k.startsWith('/calico/')), 'the felix model');
  });

  test('every documented npm run command names a script package.json defines, and the server\'s --help and --version run', async () => {
    const scripts = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const c of npmCommands) {
      const name = /^npm run (?:-s )?([\w:-]+)/.exec(c)?.[1];
      assert.ok(name !== undefined && scripts[name] !== undefined, `${c}: script ${name} exists`);
    }
    for (const c of ['npm run -s cattail -- --help', 'npm run -s cattail -- --version']) {
      assert.ok(docs.includes(c.replace(' -- --version', ' -- --help')), `${c} is documented`);
      const r = await sh(c);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^(Usage: cattail|cattail \d)/, 'no npm banner before the output');
    }
  });
});
