/**
 * Builds and tests the Go client (clients/go) offline, from Debian's packaged Go sources in
 * /usr/share/gocode, without touching the committed go.mod: the module is copied to a
 * temporary directory with a generated vendor/ tree, and every go command runs with
 * GOFLAGS=-mod=vendor and GOPROXY=off, so nothing is fetched and go.sum is not consulted.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = path.join(import.meta.dirname, '..', '..');
export const GO_MODULE_DIR = path.join(REPO, 'clients', 'go');
const GOCODE = '/usr/share/gocode/src';

/** The Debian packages that hold the Go client's dependencies (installTools installs them). */
export const GO_DEPENDENCY_PACKAGES = ['golang-github-gorilla-websocket-dev', 'golang-github-vmihailenco-msgpack.v5-dev', 'golang-github-klauspost-compress-dev'];

/**
 * Modules Debian's packaged sources import although upstream's do not: Debian's
 * klauspost/compress replaces its bundled xxhash with github.com/cespare/xxhash (the v2 sources,
 * under the v1 import path). The workspace copy's go.mod requires them (Go 1.17+ wants every
 * vendored module required); the committed go.mod, which upstream's go get resolves, does not.
 */
const DEBIAN_ONLY_MODULES = new Map([['github.com/cespare/xxhash', 'v2.1.1+incompatible']]);

/** Module path → version, read from go.mod's require lines (the vendor tree must match them). */
function requiredModules(): Map<string, string> {
  const mods = new Map<string, string>();
  const text = readFileSync(path.join(GO_MODULE_DIR, 'go.mod'), 'utf8');
  for (const m of text.matchAll(/^\s*(?:require\s+)?([a-z0-9.\-/]+\.[a-z]+\/[^\s]+)\s+(v[^\s]+)/gm)) mods.set(m[1]!, m[2]!);
  return mods;
}

function goDirective(modDir: string): string {
  const m = /^go\s+(\S+)/m.exec(readFileSync(path.join(modDir, 'go.mod'), 'utf8'));
  return m?.[1] ?? '1.11';
}

function packagesUnder(dir: string, importPath: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name.endsWith('.go') && !e.name.endsWith('_test.go'))) out.push(importPath);
  for (const e of entries) {
    if (e.isDirectory() && e.name !== 'testdata' && !e.name.startsWith('.') && !existsSync(path.join(dir, e.name, 'go.mod'))) {
      out.push(...packagesUnder(path.join(dir, e.name), `${importPath}/${e.name}`));
    }
  }
  return out;
}

export interface GoWorkspace {
  /** The module copy with its vendor/ tree. */
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Copies the module (and the conformance adapter as cmd/conformance-adapter) to a temporary
 * directory and vendors the packaged dependencies into it. Throws, naming the apt command,
 * when Go or a dependency is missing.
 */
export function prepareGoWorkspace(): GoWorkspace {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`Go is missing; install it as root with: apt-get install -y golang-go ${GO_DEPENDENCY_PACKAGES.join(' ')}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'cattail-go-'));
  cpSync(GO_MODULE_DIR, dir, { recursive: true });
  cpSync(path.join(import.meta.dirname, 'adapters', 'go'), path.join(dir, 'cmd', 'conformance-adapter'), { recursive: true });
  let modules = '';
  for (const [mod, ver] of requiredModules()) {
    const src = path.join(GOCODE, mod);
    if (!existsSync(path.join(src, 'go.mod'))) {
      throw new Error(`${mod} is missing from ${GOCODE}; install it as root with: apt-get install -y ${GO_DEPENDENCY_PACKAGES.join(' ')}`);
    }
    cpSync(src, path.join(dir, 'vendor', mod), { recursive: true, filter: (p) => !p.endsWith('_test.go') });
    modules += `# ${mod} ${ver}\n## explicit; go ${goDirective(src)}\n${packagesUnder(src, mod).join('\n')}\n`;
  }
  for (const [mod, ver] of DEBIAN_ONLY_MODULES) {
    const src = path.join(GOCODE, mod);
    if (!existsSync(src)) throw new Error(`${mod} is missing from ${GOCODE}; install it as root with: apt-get install -y ${GO_DEPENDENCY_PACKAGES.join(' ')}`);
    cpSync(src, path.join(dir, 'vendor', mod), { recursive: true, filter: (p) => !p.endsWith('_test.go') });
    modules += `# ${mod} ${ver}\n## explicit\n${packagesUnder(src, mod).join('\n')}\n`;
    appendFileSync(path.join(dir, 'go.mod'), `\nrequire ${mod} ${ver} // indirect: Debian's packaged sources import it\n`);
  }
  writeFileSync(path.join(dir, 'vendor', 'modules.txt'), modules);
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-mod=vendor', GOPROXY: 'off', GOWORK: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
  // go needs a build cache and a GOPATH; without HOME (a bare CI environment) it has neither.
  if (env.HOME === undefined || env.HOME === '') {
    env.GOCACHE ??= path.join(tmpdir(), 'cattail-go-cache');
    env.GOPATH ??= path.join(tmpdir(), 'cattail-gopath');
  }
  return { dir, env };
}

/** Runs a go command in the workspace; returns its output, or throws with it. */
export function go(ws: GoWorkspace, args: readonly string[], timeoutMs = 600_000): string {
  const r = spawnSync('go', args, { cwd: ws.dir, env: ws.env, encoding: 'utf8', timeout: timeoutMs });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`go ${args.join(' ')} failed (${r.status ?? r.error?.message}):\n${output}`);
  return output;
}
