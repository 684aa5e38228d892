import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CloseCode } from '../../../src/protocol/index.ts';
import { parseCli } from '../src/cliArgs.ts';
import { EXIT, runCli } from '../src/cli.ts';
import { SyncClient, type CattailClientError } from '../src/index.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, waitFor } from './support/recordingHost.ts';

const cliPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts');

function capture(): { out: string[]; err: string[]; io: Parameters<typeof runCli>[1] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} } };
}

describe('cattail-client CLI', () => {
  it('--dump prints the whole state as JSON once in sync and exits 0', async (t) => {
    const server = await FakeServer.start({ instanceId: 'A' });
    t.after(() => server.close());
    server.set('/calico/v1/b', { n: 2 });
    server.set('/calico/v1/a', 'text');
    const { out, err, io } = capture();
    const code = await runCli(['--server', server.url, '--syncer', 'felix', '--dump'], io);
    assert.equal(code, EXIT.ok, err.join('\n'));
    assert.deepEqual(JSON.parse(out.join('\n')), { '/calico/v1/a': 'text', '/calico/v1/b': { n: 2 } });
    assert.match(err.join('\n'), /connected to .* \(server A.*catch-up none\)/);
    assert.match(err.join('\n'), /caught up by snapshot: 2 entries, \d+ bytes in \d+ ms/);
  });

  it('--follow prints each update and status as a JSON line until interrupted', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.set('k1', 1);
    const { out, io } = capture();
    const abort = new AbortController();
    const running = runCli(['--server', server.url, '--follow'], { ...io, signal: abort.signal });
    const until = async (pred: () => boolean): Promise<void> => { while (!pred()) await new Promise((r) => setTimeout(r, 10)); };
    await until(() => out.some((l) => l.includes('in-sync')));
    server.set('k1', 2);
    await until(() => out.length >= 4);
    abort.abort();
    assert.equal(await running, EXIT.ok);
    assert.deepEqual(out.map((l) => JSON.parse(l)), [
      { status: 'resync-in-progress' },
      { type: 'new', key: 'k1', revision: '1', value: 1 },
      { status: 'in-sync' },
      { type: 'updated', key: 'k1', revision: '2', value: 2 },
    ]);
  });

  it('exits 2 with the server\'s reason when the syncer type is refused', async (t) => {
    const server = await FakeServer.start({
      onHello: (h) => ({ code: CloseCode.unknownSyncerType, reason: `unknown syncer type ${JSON.stringify(h.syncerType)}` }),
    });
    t.after(() => server.close());
    const { err, io } = capture();
    assert.equal(await runCli(['--server', server.url, '--syncer', 'bogus', '--dump'], io), EXIT.refused);
    assert.match(err.join('\n'), /refused by the server: .*unknown syncer type "bogus"/);
  });

  it('exits 2 with the server\'s reason when the upgrade is refused with 403, without retrying', async (t) => {
    let upgrades = 0;
    const server = http.createServer();
    server.on('upgrade', (_req, socket) => {
      upgrades++;
      socket.on('error', () => {}); // the client may reset first; that is not this test's concern
      const body = 'client certificate (CN ["intruder"], URI SANs []) is not on the allow-list\n';
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => server.close());
    const { err, io } = capture();
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.equal(await runCli(['--server', url, '--dump'], io), EXIT.refused);
    assert.match(err.join('\n'), /refused by the server: .*HTTP 403.*intruder.*not on the allow-list/);
    assert.equal(upgrades, 1, 'a refusal is not retried');
  });

  it('keeps retrying, saying why, when the upgrade is refused with 429 at the per-source cap', async (t) => {
    let upgrades = 0;
    const server = http.createServer();
    server.on('upgrade', (_req, socket) => {
      upgrades++;
      socket.on('error', () => {}); // the client may reset first; that is not this test's concern
      const body = '16 connections from 127.0.0.1 already; at most 16 per source\n';
      socket.end(`HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => server.close());
    const client = new SyncClient({ servers: [`ws://127.0.0.1:${(server.address() as AddressInfo).port}`], handler: new RecordingHost(), backoff: { initialDelayMs: 10, maxDelayMs: 20 } });
    const errors: CattailClientError[] = [];
    client.on('error', (e) => errors.push(e));
    client.start();
    await waitFor(() => upgrades >= 3, 'three attempts');
    await client.close();
    assert.equal((await client.stopped).reason, 'closed', 'a 429 never stops the client');
    const refused = errors.find((e) => e.httpStatus === 429);
    assert.equal(refused?.code, 'CONNECT_FAILED');
    assert.match(refused?.message ?? '', /HTTP 429: 16 connections from 127\.0\.0\.1 already/);
  });

  it('exits 3 when no server is reachable', async () => {
    const server = await FakeServer.start();
    const url = server.url;
    await server.close();
    const { err, io } = capture();
    assert.equal(await runCli(['--server', url, '--dump'], io), EXIT.unreachable);
    assert.match(err.join('\n'), /no server reachable/);
  });

  it('exits 64 with every problem on a bad command line, and 0 for --help', async () => {
    const { err, io } = capture();
    assert.equal(await runCli(['--dump', '--follow'], io), EXIT.usage);
    assert.match(err.join('\n'), /exactly one of --server/);
    assert.match(err.join('\n'), /exclude each other/);
    const help = capture();
    assert.equal(await runCli(['--help'], help.io), EXIT.ok);
    assert.match(help.out.join('\n'), /Exit codes/);
  });

  it('parses discovery and TLS flags into client options', () => {
    const parsed = parseCli(['--k8s-service', 'calico-system/cattail', '--ca-file', '/ca', '--server-cn', 'cattail-server', '--stats'], { NODENAME: 'n1' });
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    assert.deepEqual(parsed.command.clientOptions.kubernetes, { serviceName: 'cattail', namespace: 'calico-system', nodeName: 'n1' });
    assert.deepEqual(parsed.command.clientOptions.tls, { caFile: '/ca', serverCommonName: 'cattail-server' });
    const dns = parseCli(['--dns', 'cattail.kube-system.svc:6000'], {});
    assert.ok(dns.kind === 'run' && dns.command.clientOptions.dns?.port === 6000 && dns.command.mode === 'stats');
  });

  it('parses the catch-up flags: --no-catch-up and --leave-stale-after-ms (0 = never)', () => {
    const defaults = parseCli(['--server', 'x'], {});
    assert.ok(defaults.kind === 'run');
    assert.equal(defaults.command.clientOptions.catchUp, undefined, 'catch-up on by default');
    assert.equal(defaults.command.clientOptions.leaveStaleAfterMs, undefined, 'the library default (120000)');
    const off = parseCli(['--server', 'x', '--no-catch-up', '--leave-stale-after-ms', '0'], {});
    assert.ok(off.kind === 'run');
    assert.equal(off.command.clientOptions.catchUp, false);
    assert.equal(off.command.clientOptions.leaveStaleAfterMs, 0);
    const bad = parseCli(['--server', 'x', '--leave-stale-after-ms', '-5'], {});
    assert.ok(bad.kind === 'usage-error' && bad.problems.some((p) => p.includes('--leave-stale-after-ms')));
  });

  it('runs as a program: --dump against a server exits 0 with the JSON on stdout', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.set('k', { v: 1 });
    const { stdout } = await promisify(execFile)(process.execPath, [cliPath, '--server', server.url, '--dump'], { timeout: 10_000 });
    assert.deepEqual(JSON.parse(stdout), { k: { v: 1 } });
  });

  it('--dump gives up with exit 5 and says why when the server never reaches in-sync', async (t) => {
    const server = await FakeServer.start();
    t.after(() => server.close());
    server.status = 'resync-in-progress';
    server.set('k', 1);
    const { out, err, io } = capture();
    const code = await runCli(['--server', server.url, '--dump', '--dump-timeout-ms', '300'], io);
    assert.equal(code, EXIT.dumpTimeout, err.join('\n'));
    assert.deepEqual(out, [], 'nothing half-synced on stdout');
    assert.match(err.join('\n'), /not in sync within 300 ms \(status resync-in-progress, 1 keys\)/);
    assert.equal(parseCli(['--server', 'x', '--dump-timeout-ms', '5'], {}).kind, 'usage-error', '--dump-timeout-ms needs --dump');
  });
});
