#!/usr/bin/env node
/**
 * `cattail-client`: a debug and load-test client, like Typha's typha-client. It uses the same
 * SyncClient an agent would, so what it shows is what an agent would get.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { USAGE, parseCli, type CliCommand } from './cliArgs.ts';
import { CattailClientError } from './errors.ts';
import { clientNodeLoadFailure } from './kubernetesDiscovery.ts';
import { SyncClient } from './syncClient.ts';
import type { SyncClientOptions } from './options.ts';
import type { SyncStatus, Update } from './types.ts';
import { CLIENT_VERSION } from './version.ts';

export const EXIT = Object.freeze({ ok: 0, internal: 1, refused: 2, unreachable: 3, tls: 4, dumpTimeout: 5, usage: 64 });

export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborting ends --follow / --stats with exit 0 (SIGINT / SIGTERM in the real binary). */
  readonly signal?: AbortSignal;
}

/** Runs the CLI and resolves with its exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCli(argv, io.env);
  switch (parsed.kind) {
    case 'help':
      io.stdout(USAGE);
      return EXIT.ok;
    case 'version':
      io.stdout(CLIENT_VERSION);
      return EXIT.ok;
    case 'usage-error':
      for (const p of parsed.problems) io.stderr(`cattail-client: ${p}`);
      io.stderr('Try cattail-client --help.');
      return EXIT.usage;
    case 'run':
      try {
        return await run(parsed.command, io);
      } catch (err) {
        io.stderr(`cattail-client: ${(err as Error).message}`);
        return err instanceof CattailClientError && err.code === 'INVALID_OPTIONS' ? EXIT.usage : EXIT.internal;
      }
  }
}

async function run(command: CliCommand, io: CliIo): Promise<number> {
  let options: Omit<SyncClientOptions, 'handler'> = command.clientOptions;
  if (command.kubeconfig !== undefined && options.kubernetes !== undefined) {
    let k8s: typeof import('@kubernetes/client-node');
    try {
      k8s = await import('@kubernetes/client-node');
    } catch (err) {
      io.stderr(`cattail-client: ${clientNodeLoadFailure(err)}`);
      return EXIT.internal;
    }
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(command.kubeconfig);
    options = { ...options, kubernetes: { ...options.kubernetes, kubeConfig } };
  }
  const { mode } = command;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => { finish = resolve; });
  let updatesThisSecond = 0;
  let everConnected = false;

  const client: SyncClient = new SyncClient({
    ...options,
    handler: {
      onUpdates(updates: readonly Update[]) {
        updatesThisSecond += updates.length;
        if (mode !== 'follow') return;
        for (const u of updates) io.stdout(JSON.stringify({ type: u.type, key: u.key, revision: u.revision, value: u.value }));
      },
      onStatus(status: SyncStatus) {
        if (mode === 'follow') io.stdout(JSON.stringify({ status }));
        if (mode === 'stats') io.stderr(`status ${status}`);
        if (mode === 'dump' && status === 'in-sync') {
          const entries = [...client.state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          io.stdout(JSON.stringify(Object.fromEntries(entries), null, 2));
          finish(EXIT.ok);
        }
      },
    },
  });
  client.on('connected', (info) => {
    everConnected = true;
    io.stderr(`connected to ${info.url} (server ${info.serverInstanceId || '?'} ${info.serverVersion}, connection ${info.connectionId}, client ${info.clientConnId}`
      + `, catch-up ${info.catchUp ?? 'none'}${info.catchUpReason === undefined ? '' : ` (${info.catchUpReason})`})`);
  });
  client.on('caughtUp', (c) => {
    const buckets = c.path === 'digest' ? `, ${c.replacedBuckets ?? '?'} of ${2 ** (c.level ?? 0)} buckets replaced (${c.pendingKeys ?? 0} held keys in them)` : '';
    io.stderr(`caught up by ${c.path}${c.reason === undefined ? '' : ` (${c.reason})`}: ${c.entries} entries, ${c.bytes} bytes in ${c.durationMs} ms${buckets}`);
  });
  client.on('probed', (p) => {
    io.stderr(`probed ${p.url || 'discovery'}: ${p.status ?? p.error?.message ?? 'no answer'}${p.nextProbeInMs === undefined ? '' : `; next probe in ${p.nextProbeInMs} ms`}`);
  });
  client.on('leavingReplica', (l) => {
    io.stderr(`leaving stale replica ${l.from} (${l.status ?? 'no status'} for ${l.notInSyncForMs} ms) for ${l.to}, which is in sync`);
  });
  client.on('disconnected', (info) => {
    if (info.streamed) io.stderr(`disconnected from ${info.url}: ${info.error?.message ?? `close ${info.code}`}`);
  });
  client.on('error', (err) => {
    if (err.code === 'TLS_UNTRUSTED' || err.code === 'TLS_NAME_MISMATCH' || err.code === 'TLS_CONFIG') {
      io.stderr(`cattail-client: TLS failure: ${err.message}`);
      finish(EXIT.tls);
    } else if (err.code === 'NO_SERVER_REACHABLE' && !everConnected) {
      io.stderr(`cattail-client: ${err.message.replace('; still retrying', '')}`);
      finish(EXIT.unreachable);
    } else if (err.code !== 'REFUSED' && err.code !== 'DEPENDENCY_UNAVAILABLE') {
      io.stderr(`cattail-client: ${err.code}: ${err.message}`);
    }
  });
  void client.stopped.then((info) => {
    if (info.reason === 'misconfigured') {
      io.stderr(`cattail-client: ${info.error?.message ?? 'misconfigured'}`);
      finish(EXIT.internal);
      return;
    }
    if (info.reason !== 'refused') return;
    io.stderr(`cattail-client: refused by the server: ${info.error?.message ?? 'no reason given'}`);
    finish(EXIT.refused);
  });
  io.signal?.addEventListener('abort', () => finish(EXIT.ok), { once: true });

  let statsTimer: NodeJS.Timeout | undefined;
  if (mode === 'stats') {
    statsTimer = setInterval(() => {
      const s = client.stats;
      io.stdout(`updates/s=${updatesThisSecond} keys=${client.state.size} delivered=${s.updatesDelivered} received=${s.updatesReceived} `
        + `coalesced=${s.updatesCoalesced} queued=${s.queued} status=${client.status ?? '-'} server=${client.connection?.serverInstanceId ?? '-'} `
        + `catchup=${client.connection?.catchUp ?? '-'} bytes=${s.bytesReceived}`);
      updatesThisSecond = 0;
    }, 1000);
  }
  // A server that never reaches in-sync (its datastore is down) must not hang a --dump.
  const dumpTimer = mode !== 'dump' ? undefined : setTimeout(() => {
    io.stderr(`cattail-client: not in sync within ${command.dumpTimeoutMs} ms (status ${client.status ?? 'none yet'}, ${client.state.size} keys); raise --dump-timeout-ms or check the server's /readiness`);
    finish(EXIT.dumpTimeout);
  }, command.dumpTimeoutMs);
  client.start();
  const code = await done;
  clearTimeout(dumpTimer);
  clearInterval(statsTimer);
  await client.close();
  return code;
}

/** True when this module is the program (also through npm's bin symlink, and on Node without import.meta.main). */
function isProgram(): boolean {
  if (typeof import.meta.main === 'boolean') return import.meta.main;
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isProgram()) {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const code = await runCli(process.argv.slice(2), {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    signal: abort.signal,
  });
  process.exitCode = code;
  // Let stdout drain, but never hang on a stray handle.
  setTimeout(() => process.exit(code), 2000).unref();
}
