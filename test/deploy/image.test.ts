/**
 * The container image, checked without a container engine: the Dockerfile is read, what it
 * copies is laid out as the image would hold it, and its entrypoint with its default arguments
 * is run with Node 24 (the version the image pins) on that layout.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { envName, flagName, OPTIONS, parseConfig } from '../../src/config/index.ts';
import { eventually } from '../support/harness.ts';
import { dockerfileInstructions, dockerIgnored, type Instruction, repoPath, stopProcess } from './tools.ts';

const instructions = dockerfileInstructions(readFileSync(repoPath('Dockerfile'), 'utf8'));
const ignorePatterns = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n');
const finalStage = Math.max(...instructions.map((i) => i.stage));
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };

function last(keyword: string, stage = finalStage): Instruction | undefined {
  return instructions.filter((i) => i.keyword === keyword && i.stage === stage).at(-1);
}

function jsonArray(keyword: string): string[] {
  const i = last(keyword);
  assert.ok(i, `the final stage has ${keyword}`);
  const value = JSON.parse(i.args) as unknown;
  assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `${keyword} is in exec (JSON array) form`);
  return value;
}

/** `COPY [--flags] src... dest` from the build context (not `--from=` another stage). */
function contextCopies(): { sources: string[]; dest: string; stage: number }[] {
  return instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').flatMap((i) => {
    const words = i.args.split(/\s+/).filter((w) => w !== '');
    if (words.some((w) => w.startsWith('--from='))) return [];
    const plain = words.filter((w) => !w.startsWith('--'));
    return [{ sources: plain.slice(0, -1), dest: plain.at(-1)!, stage: i.stage }];
  });
}

/** ENV of the final stage (`ENV K=V` form). */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.keyword === 'ENV' && x.stage === finalStage)) {
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

describe('container image', () => {
  test('every file the Dockerfile copies from the build context exists and is not excluded by .dockerignore', () => {
    const copies = contextCopies();
    assert.ok(copies.length > 0);
    for (const { sources } of copies) {
      for (const source of sources) {
        assert.ok(existsSync(repoPath(source)), `${source} exists`);
        assert.equal(dockerIgnored(ignorePatterns, source), false, `${source} is in the build context`);
        if (source === 'src') assert.equal(dockerIgnored(ignorePatterns, 'src/main.ts'), false, 'files under src/ are in the build context');
      }
    }
    for (const secretish of ['node_modules', '.git', 'test', 'examples/cluster', 'kubeconfig', '.env']) {
      assert.equal(dockerIgnored(ignorePatterns, secretish), true, `${secretish} stays out of the build context`);
    }
  });

  test('the image installs production dependencies only, from the lockfile, in a separate stage', () => {
    assert.ok(finalStage >= 1, 'multi-stage');
    const install = instructions.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(install, 'npm ci (the lockfile) installs dependencies');
    assert.match(install.args, /--omit=dev/);
    assert.ok(install.stage < finalStage, 'dependencies are installed in a build stage');
    assert.ok(!instructions.some((i) => i.stage === finalStage && i.keyword === 'RUN' && /\bnpm\b/.test(i.args)), 'npm does not run in the final stage');
  });

  test('the image runs the Node version the tests run on, from the official slim image', () => {
    const args = Object.fromEntries(instructions.filter((i) => i.keyword === 'ARG' && i.stage === -1).map((i) => i.args.split('=') as [string, string]));
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args[name] ?? ''));
    for (const image of froms) {
      const m = /^node:(\d+\.\d+\.\d+)-[a-z]+-slim$/.exec(image);
      assert.ok(m, `${image} is an official node:<version>-<debian>-slim image`);
      assert.equal(m[1], pkg.devDependencies.node, 'the image pins the same Node as package.json (devDependency "node")');
      assert.equal(process.versions.node, m[1], 'this test runs on that Node');
    }
    assert.match(pkg.engines.node, new RegExp(`>=${process.versions.node.split('.')[0]}\\b`));
  });

  test('the image runs as a fixed non-root user, exposes the default ports and stops on SIGTERM', () => {
    const user = last('USER')?.args;
    assert.match(user ?? '', /^\d+:\d+$/, 'USER is numeric, so runAsNonRoot can verify it');
    assert.notEqual(user!.split(':')[0], '0');
    const exposed = last('EXPOSE')!.args.split(/\s+/).map(Number).sort();
    assert.deepEqual(exposed, [OPTIONS.syncPort.default, OPTIONS.opsPort.default].sort());
    assert.equal(last('STOPSIGNAL')?.args, 'SIGTERM');
  });

  test('the entrypoint with its default arguments and the image environment passes config validation', () => {
    assert.deepEqual(jsonArray('ENTRYPOINT'), ['node', 'src/main.ts']);
    const parsed = parseConfig(jsonArray('CMD'), imageEnv());
    assert.equal(parsed.help, false);
    assert.equal((parsed as Extract<typeof parsed, { help: false }>).config.datastore, 'kubernetes');
  });

  describe('run from the files the image holds', () => {
    // The image's /app: what the final stage copies, laid out the same way, with node_modules.
    const app = mkdtempSync(path.join(tmpdir(), 'cattail-image-'));
    for (const { sources, dest, stage } of contextCopies()) {
      if (stage !== finalStage) continue;
      for (const source of sources) cpSync(repoPath(source), path.join(app, dest.endsWith('/') || sources.length > 1 ? path.join(dest, path.basename(source)) : dest), { recursive: true });
    }
    symlinkSync(repoPath('node_modules'), path.join(app, 'node_modules'));
    const children: ChildProcess[] = [];
    after(async () => {
      for (const c of children) await stopProcess(c);
      rmSync(app, { recursive: true, force: true });
    });
    const [command, ...entryArgs] = jsonArray('ENTRYPOINT');
    assert.equal(command, 'node');
    // Only the image's variables (and PATH), as in a container; HOME as the image user has it.
    const env = { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...imageEnv() };

    test('--help prints every option', () => {
      const r = spawnSync(process.execPath, [...entryArgs, '--help'], { cwd: app, env, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      for (const name of Object.keys(OPTIONS)) {
        assert.ok(r.stdout.includes(flagName(name)) && r.stdout.includes(envName(name)), `--help lists ${flagName(name)}`);
      }
    });

    /** Every path under /app with its size and modification time: the server must change none. */
    const tree = (): string[] => (readdirSync(app, { recursive: true }) as string[])
      .filter((f) => !f.startsWith('node_modules'))
      .map((f) => { const st = statSync(path.join(app, f)); return `${f} ${st.size} ${st.mtimeMs}`; })
      .sort();

    test('with the default arguments plus file-datastore overrides it serves its probes, writes nothing and exits 0 on SIGTERM', async () => {
      const before = tree();
      const overrides = ['--datastore', 'file', '--file-dir', repoPath('examples/cluster'), '--sync-host', '127.0.0.1', '--sync-port', '0', '--ops-host', '127.0.0.1', '--ops-port', '0'];
      const child = spawn(process.execPath, [...entryArgs, ...jsonArray('CMD'), ...overrides], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      let ops: string | undefined;
      await eventually(() => {
        assert.equal(child.exitCode, null, `the server exited early:\n${out}\n${err}`);
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          const record = JSON.parse(line) as { ops?: string };
          if (record.ops !== undefined) ops = record.ops;
        }
        return ops !== undefined;
      }, 'the server logs its ops address', 15_000);
      assert.equal((await fetch(`${ops}/liveness`)).status, 200);
      await eventually(async () => (await fetch(`${ops}/readiness`)).status === 200, 'ready on the example cluster', 15_000);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `clean exit on SIGTERM:\n${err}`);
      assert.match(out, /shut down cleanly/);
      assert.doesNotMatch(err, /ExperimentalWarning|Error/);
      assert.deepEqual(tree(), before, 'nothing under /app was created or changed (read-only root filesystem)');
    });
  });
});
