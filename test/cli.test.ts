/**
 * The `cattail` command as an operator runs it (bin/cattail.js under the pinned Node, in its
 * own process): --help and --version, the Node-version guard, expected start-up failures as
 * one line without a stack, "ready for agents" only once in sync, and no Kubernetes client
 * loaded for the file datastore.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HELP_AREAS } from '../src/config/index.ts';
import { eventually } from './support/eventually.ts';
import { findOnPath } from './support/systemPackages.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin', 'cattail.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'cattail-cli-'));
const QUIET_ENV = { PATH: process.env.PATH ?? '', HOME: scratch };
/** An --import module that makes any import of the Kubernetes client fail loudly. */
const NO_KUBERNETES_CLIENT = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ resolve(s, c, next) { if (s === '@kubernetes/client-node') throw new Error('@kubernetes/client-node was imported'); return next(s, c); } });
`)}`;

function run(args: readonly string[], options: { node?: string; nodeArgs?: readonly string[]; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(options.node ?? process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: options.env ?? QUIET_ENV, cwd: REPO });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l !== '') };
}

/** The log lines (JSON, since stdout is not a terminal) after the "starting cattail" line. */
function logLines(text: string): { level: string; msg: string; [k: string]: unknown }[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
}

class Running {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  constructor(args: readonly string[], nodeArgs: readonly string[] = []) {
    this.child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: QUIET_ENV, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }
  logs() { return logLines(this.stdout); }
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGINT');
    return exited;
  }
}

function assertOneLineWithoutStack(lines: readonly string[], pattern: RegExp): void {
  const fatal = lines.filter((l) => /fatal|cannot start/.test(l));
  assert.equal(fatal.length, 1, lines.join('\n'));
  assert.match(fatal[0]!, pattern);
  assert.doesNotMatch(lines.join('\n'), /\bat .*\.ts:\d+|"stack"/, 'no stack');
}

describe('the cattail command', () => {
  const running: Running[] = [];
  after(async () => {
    for (const r of running) await r.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('--version prints the version and --help every area, both exiting 0 without loading the Kubernetes client', () => {
    const version = run(['--version'], { nodeArgs: ['--import', NO_KUBERNETES_CLIENT] });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^cattail \d+\.\d+\.\d+\n$/);
    const help = run(['--help'], { nodeArgs: ['--import', NO_KUBERNETES_CLIENT] });
    assert.equal(help.status, 0, help.stderr);
    for (const area of HELP_AREAS) assert.ok(help.stdout.includes(`\n${area.title}:\n`), area.title);
  });

  test('an older Node gets one line naming the Node it needs, and exit 1', () => {
    const pretend20 = `data:text/javascript,${encodeURIComponent('Object.defineProperty(process.versions, "node", { value: "20.20.2" });')}`;
    const r = run(['--help'], { nodeArgs: ['--import', pretend20] });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.lines.length, 1, r.stderr);
    assert.match(r.stderr, /^cattail: needs Node\.js 24 or newer, but this is Node\.js 20\.20\.2 .*npm start/);
    // The machine's own Node, when it is an older one (Debian's is 20), fails the same way for real.
    const system = findOnPath('node');
    const major = system === undefined ? undefined : Number(spawnSync(system, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).stdout.trim());
    if (system !== undefined && major !== undefined && major < 24) {
      const real = run(['--help'], { node: system });
      assert.equal(real.status, 1);
      assert.match(real.stderr, new RegExp(`^cattail: needs Node\\.js 24 or newer, but this is Node\\.js ${major}\\.`));
    }
  });

  test('a --file-dir that does not exist is one line without a stack, naming the directory and --file-dir-missing', () => {
    const missing = path.join(scratch, 'no-such-dir');
    const r = run(['--file-dir', missing, '--sync-port', '0', '--ops-port', '0']);
    assert.equal(r.status, 1);
    assertOneLineWithoutStack(r.lines, new RegExp(`cannot start: --file-dir ${missing} does not exist; .*--file-dir-missing wait`));
  });

  test('a port in use is one line without a stack, naming the address and the flag', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = run(['--sync-host', '127.0.0.1', '--sync-port', String(port), '--ops-port', '0']);
      assert.equal(r.status, 1);
      assertOneLineWithoutStack(r.lines, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(sync listener\\): the port is already in use.*--sync-port`));
    } finally {
      blocker.close();
    }
  });

  test('missing Kubernetes credentials are one line without a stack, saying once what was looked for', () => {
    const r = run(['--datastore', 'kubernetes', '--sync-port', '0', '--ops-port', '0']);
    assert.equal(r.status, 1);
    assertOneLineWithoutStack(r.lines, /cannot start: no Kubernetes configuration: /);
    const fatal = r.lines.find((l) => l.includes('cannot start'))!;
    assert.equal(fatal.split('no Kubernetes configuration').length, 2, 'the message appears once');
  });

  test('with --file-dir-missing wait it says what it waits for, and logs "ready for agents" only once the directory appears and every syncer is in sync', async () => {
    const dir = path.join(scratch, 'late');
    const app = new Running(['--file-dir', dir, '--file-dir-missing', 'wait', '--sync-port', '0', '--ops-port', '0'], ['--import', NO_KUBERNETES_CLIENT]);
    running.push(app);
    await eventually(() => app.logs().some((l) => /^listening; waiting for every syncer type to be in sync/.test(l.msg)), 'the waiting line');
    const waiting = app.logs().find((l) => /^listening; waiting/.test(l.msg))!;
    assert.match(JSON.stringify(waiting.waitingFor), /syncer felix is wait-for-datastore/);
    assert.equal(waiting.level, 'info');
    assert.match(String(waiting.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO time');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!app.logs().some((l) => /ready for agents/.test(l.msg)), 'no "ready for agents" while the directory is missing');

    cpSync(path.join(REPO, 'examples/cluster'), dir, { recursive: true });
    assert.ok(readdirSync(dir).length > 0);
    await eventually(() => app.logs().some((l) => /^ready for agents/.test(l.msg)), '"ready for agents"');
    const logs = app.logs();
    const ready = logs.findIndex((l) => /^ready for agents/.test(l.msg));
    const lastInSync = logs.map((l, i) => (l.to === 'in-sync' ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    assert.ok(lastInSync >= 0 && ready > lastInSync, 'ready is logged after every syncer reached in-sync');
    assert.match(logs[ready]!.msg, /npm run -s client -- --server ws:\/\/127\.0\.0\.1:\d+ --syncer felix --dump/);
    assert.equal(await app.stop(), 0, app.stderr);
  });
});
