/**
 * Integration harness: the real Cattail (composition root, file datastore on a temp directory,
 * real listeners on 127.0.0.1 port 0) for tests that connect real WebSocket clients.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.ts';
import type { Datastore } from '../../src/datastore/types.ts';
import { silentLogger, type Logger } from '../../src/logger.ts';
import { type Cattail, startCattail as startApp } from '../../src/main.ts';
import { Codec } from '../../src/protocol/index.ts';
import type { Clock } from '../../src/clock.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';

export interface HarnessOptions {
  /** Manifest directory; a fresh temp directory when omitted. */
  readonly dir?: string;
  /** Files to write into the directory before start, name → YAML text. */
  readonly files?: Readonly<Record<string, string>>;
  /** Extra flags, e.g. `['--handshake-timeout-ms', '300']`. */
  readonly flags?: readonly string[];
  readonly datastore?: Datastore;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Replaces syncer type specs (tests whose subject is the server, not the Calico model). */
  readonly specs?: Partial<Record<string, SyncerTypeSpec>>;
}

export interface Harness {
  readonly app: Cattail;
  readonly dir: string;
  readonly syncUrl: string;
  readonly opsUrl: string;
  writeManifest(name: string, yaml: string): Promise<void>;
  removeManifest(name: string): Promise<void>;
  /** The server's current model for a syncer type: key → decoded value. */
  model(syncerType: string): Map<string, unknown>;
  close(): Promise<void>;
}

export async function startCattail(options: HarnessOptions = {}): Promise<Harness> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'cattail-test-')));
  for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(path.join(dir, name), text);
  const parsed = parseConfig([
    '--sync-host', '127.0.0.1', '--sync-port', '0', '--ops-host', '127.0.0.1', '--ops-port', '0',
    '--datastore', 'file', '--file-dir', dir, '--file-debounce-ms', '20',
    // Every test client connects from 127.0.0.1, one source: tests of the per-source cap set it.
    '--max-connections-per-source', '0', ...(options.flags ?? []),
  ], {});
  if (parsed.help) throw new Error('unexpected --help');
  const app = await startApp(parsed.config, {
    logger: options.logger ?? silentLogger(), registry: new Registry(),
    ...(options.datastore !== undefined ? { datastore: options.datastore } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.specs !== undefined ? { specs: options.specs } : {}),
  });
  const codec = new Codec();
  return {
    app,
    dir,
    syncUrl: `ws://127.0.0.1:${app.syncAddress.port}/sync`,
    opsUrl: `http://127.0.0.1:${app.opsAddress.port}`,
    writeManifest: (name, yaml) => writeFile(path.join(dir, name), yaml),
    removeManifest: (name) => unlink(path.join(dir, name)),
    model: (syncerType) => {
      const cache = app.caches.get(syncerType);
      if (cache === undefined) throw new Error(`syncer type ${syncerType} not served`);
      const out = new Map<string, unknown>();
      for (const [key, kv] of cache.current().kvs.entries()) out.set(key, codec.decodeAny(kv.bytes.subarray(kv.valueStart, kv.valueEnd)));
      return out;
    },
    close: async () => {
      await app.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export { eventually } from './eventually.ts';
