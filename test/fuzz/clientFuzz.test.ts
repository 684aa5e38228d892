/**
 * The client library against a hostile server: a tiny ws server that, connection after
 * connection, sends garbage, text frames, wrong shapes, messages out of order, oversized and
 * deeply nested frames, huge declared lengths, or a good prefix (with bogus keys and even
 * `in-sync`) followed by garbage or an abrupt end. The SyncClient must never throw into the
 * host, never break its delivery contract, keep memory flat, keep retrying, and converge to the
 * right state as soon as the server behaves.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocketServer, type WebSocket } from 'ws';
import { createPackr } from '../../src/protocol/index.ts';
import { SyncClient } from '../../clients/typescript/src/index.ts';
import { eventually } from '../support/harness.ts';
import { diffModels } from '../support/expectedModel.ts';
import { Prng } from '../torture/prng.ts';
import { RecordingHost } from '../torture/recorder.ts';

const packr = createPackr();
const pack = (v: unknown): Buffer => Buffer.from(packr.pack(v));
const MAX_FRAME = 256 * 1024;
const GOOD = new Map(Array.from({ length: 40 }, (_, i) => [`/calico/v1/good/${i}`, { n: i }] as const));
const SERVER_HELLO = { type: 'serverHello', protocolVersion: 1, syncerType: 'felix', serverVersion: 'h', serverInstanceId: 'hostile', connectionId: 'c', compression: null };
const kvs = (entries: readonly (readonly unknown[])[]) => pack({ type: 'kvs', kvs: entries });
const goodSnapshot = () => kvs([...GOOD].map(([k, v]) => [k, v, '1', 1]));

function nested(depth: number): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa3, 0x6b, 0x76, 0x73, 0xa3, 0x6b, 0x76, 0x73]), Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
}

/** What a hostile connection sends after the client's hello, as a list of frames (Buffer, or string for text). */
function hostileScript(rng: Prng): (Buffer | string | 'close' | 'terminate')[] {
  const hello = pack(SERVER_HELLO);
  const bogus = kvs([[`/calico/v1/bogus/${rng.int(0, 5)}`, { x: rng.int(0, 9) }, '9', 1]]);
  switch (rng.int(0, 17)) {
    case 0: return [Buffer.from(Array.from({ length: rng.int(1, 50) }, () => rng.int(0, 255)))];
    case 1: return ['{"type":"serverHello"}'];
    case 2: return [pack(rng.pick<unknown>([1, 'x', [], null, { type: 5 }, { type: 'mystery' }, { noType: 1 }]))];
    case 3: return [pack({ ...SERVER_HELLO, syncerType: 'bgp' })];
    case 4: return [pack({ ...SERVER_HELLO, protocolVersion: 2 })];
    case 5: return [goodSnapshot()];
    case 6: return [hello, pack({ type: 'status', status: 'in-sync' })];
    case 7: return [hello, goodSnapshot(), pack({ type: 'snapshotEnd', seq: 1, keys: 40 }), pack({ type: 'snapshotEnd', seq: 1, keys: 40 })];
    case 8: return [hello, Buffer.alloc(MAX_FRAME + rng.int(1, 100_000), 0xc0)];
    case 9: return [hello, nested(rng.pick([1000, 50_000, 200_000]))];
    case 10: return [hello, rng.pick([Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]), Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])])];
    case 11: return [hello, kvs([rng.pick<unknown[]>([[1, {}, '1', 1], ['/k', null, '1', 1], ['/k', {}, 1, 1], ['/k', {}, '1', 9], ['/k', {}, '1', 3], ['/k'], []])])];
    case 12: return [hello, pack({ type: 'kvs', kvs: rng.pick<unknown>(['x', 5, null, { a: 1 }]) })];
    // A good prefix with bogus keys, even in-sync, then garbage: the next good server must delete them.
    case 13: return [hello, goodSnapshot(), bogus, pack({ type: 'snapshotEnd', seq: 1, keys: 41 }), pack({ type: 'status', status: 'in-sync' }), Buffer.from([0xc1])];
    case 14: return [hello, bogus, pack({ type: 'snapshotEnd', seq: 1, keys: 1 }), pack({ type: 'status', status: 'resync-in-progress' }), 'terminate'];
    case 15: return [hello, pack({ type: 'snapshotEnd', seq: 1, keys: 0 }), pack({ type: 'ping', timestamp: 'soon' })];
    case 16: return [hello, pack({ type: 'snapshotEnd', seq: 1, keys: 0 }), pack({ type: 'status', status: 'on-fire' })];
    default: return [];
  }
}

test('a SyncClient against a hostile server never throws into its host, keeps memory flat and converges once the server behaves', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rng = new Prng(0xbad);
  let hostile = true;
  let connections = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const send = (ws: WebSocket, frame: Buffer | string | 'close' | 'terminate') => {
    if (frame === 'close') ws.close(4000, 'hostile');
    else if (frame === 'terminate') ws.terminate();
    else ws.send(frame, { binary: typeof frame !== 'string' });
  };
  wss.on('connection', (ws) => {
    connections++;
    ws.on('error', () => {});
    ws.once('message', () => {
      if (!hostile) {
        ws.send(pack(SERVER_HELLO));
        ws.send(goodSnapshot());
        ws.send(pack({ type: 'snapshotEnd', seq: 1, keys: GOOD.size }));
        ws.once('message', () => ws.send(pack({ type: 'status', status: 'in-sync' })));
        return;
      }
      for (const f of hostileScript(rng)) send(ws, f);
    });
  });
  const port = (wss.address() as AddressInfo).port;
  const host = new RecordingHost('client vs hostile server', { checkWire: false });
  const thrown: unknown[] = [];
  const onUncaught = (err: unknown) => thrown.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const client = new SyncClient({
    servers: [`ws://127.0.0.1:${port}`], handler: host, syncerType: 'felix', hostname: 'victim',
    handshakeTimeoutMs: 300, readTimeoutMs: 400, connectTimeoutMs: 1000, maxFrameBytes: MAX_FRAME,
    backoff: { initialDelayMs: 1, maxDelayMs: 5 },
  });
  const errors = new Map<string, number>();
  client.on('error', (e) => errors.set(e.code, (errors.get(e.code) ?? 0) + 1));
  let stopped = false;
  void client.stopped.then(() => { stopped = true; });
  try {
    client.start();
    await eventually(() => connections >= 100, '100 hostile connections', 30_000);
    for (let i = 0; i < 3; i++) gc();
    const heapBefore = process.memoryUsage().heapUsed;
    await eventually(() => connections >= 600, '600 hostile connections', 60_000);
    for (let i = 0; i < 3; i++) gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 8 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MiB over 500 hostile connections`);
    assert.ok(client.stats.maxQueued <= GOOD.size + 20, `queue reached ${client.stats.maxQueued}`);
    assert.equal(stopped, false, 'the client gave up');

    hostile = false;
    await eventually(() => host.status === 'in-sync' && diffModels(host.held, GOOD).length === 0, 'converged on the good server', 10_000);
    assert.deepEqual(host.violations, []);
    assert.deepEqual(thrown, []);
    process.stdout.write(`# hostile server: ${connections} connections; client errors ${JSON.stringify(Object.fromEntries(errors))}; heap growth ${(growth / 1024).toFixed(0)} KiB\n`);
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await client.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  }
});
