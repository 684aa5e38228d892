import { statSync } from 'node:fs';
import type { Config } from './config/index.ts';

/**
 * Start-up failures an operator fixes from one line: a port in use, missing Kubernetes
 * credentials, a file datastore directory that does not exist. They are logged as that line
 * alone, without a stack; anything else is a bug and keeps its stack.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Throws StartupError when the file datastore's directory is missing and the config does not say to wait for it. */
export function checkFileDir(config: Pick<Config, 'datastore' | 'fileDir' | 'fileDirMissing'>): void {
  if (config.datastore !== 'file' || config.fileDirMissing === 'wait') return;
  let problem: string | undefined;
  try {
    if (!statSync(config.fileDir).isDirectory()) problem = 'is not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
  }
  if (problem !== undefined) {
    throw new StartupError(`--file-dir ${config.fileDir} ${problem}; create it, point --file-dir at your manifests, or pass --file-dir-missing wait to start anyway and wait for it`);
  }
}

/** The one line for an expected start-up failure, or undefined for anything else. */
export function describeStartupFailure(err: unknown, config: Pick<Config, 'syncHost' | 'syncPort' | 'opsHost' | 'opsPort'>): string | undefined {
  if (err instanceof StartupError) return err.message;
  if (!(err instanceof Error)) return undefined;
  // By name, not instanceof: importing the Kubernetes datastore's errors would load its client.
  if (err.name === 'KubeConfigError') return err.message;
  if (err.name === 'EtcdError') return err.message;
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const why = e.code === 'EADDRINUSE' ? 'the port is already in use by another process'
    : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
    : e.code === 'EADDRNOTAVAIL' ? 'that address is not one of this machine\'s'
    : undefined;
  if (why === undefined) return undefined;
  const listener = e.port === config.opsPort ? { name: 'ops', host: config.opsHost, flags: '--ops-port / --ops-host' }
    : { name: 'sync', host: config.syncHost, flags: '--sync-port / --sync-host' };
  const port = e.port ?? (listener.name === 'ops' ? config.opsPort : config.syncPort);
  return `cannot listen on ${e.address ?? listener.host}:${port} (${listener.name} listener): ${why}; stop the other process or choose another with ${listener.flags}`;
}
