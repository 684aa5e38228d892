/**
 * Debian packages that the tests and the bench run for real (Prometheus, redis, etcd): found on
 * PATH or installed with apt-get, so `npm test` on a fresh Debian machine needs no manual step.
 * Installing needs root; without it the caller gets the reason, never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

export interface SystemTool {
  /** The command looked up on PATH. */
  readonly command: string;
  /** The Debian package that provides it. */
  readonly aptPackage: string;
  /** For a package without a command (a Go library's sources): the file whose presence means it is installed. */
  readonly file?: string;
}

function isPresent(tool: SystemTool): boolean {
  return tool.file === undefined ? findOnPath(tool.command) !== undefined : existsSync(tool.file);
}

/** Absolute path of `command` on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function aptGet(args: readonly string[]): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

/**
 * Makes every tool available, installing the missing ones' packages in one apt-get run (after
 * `apt-get update` when the first attempt fails, since a fresh machine has no package lists).
 * Returns one line per tool that is still missing; empty means all are there.
 */
export function ensureSystemTools(tools: readonly SystemTool[]): string[] {
  const missing = tools.filter((t) => !isPresent(t));
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((t) => t.aptPackage))];
  if (process.getuid?.() !== 0) {
    return missing.map((t) => `${t.command} is missing; install it as root with: apt-get install -y ${t.aptPackage}`);
  }
  const install = ['install', '-y', '-qq', '--no-install-recommends', ...packages];
  let result = aptGet(install);
  if (!result.ok) {
    aptGet(['update', '-qq']);
    result = aptGet(install);
  }
  return missing
    .filter((t) => !isPresent(t))
    .map((t) => `${t.command} is still missing after apt-get install ${t.aptPackage}: ${result.output.split('\n').slice(-3).join(' | ')}`);
}
