/**
 * docs/PROTOCOL.md §9 and §9.1, rule by rule: for each documented case, send exactly what the
 * document describes (at the byte level where it talks about frames) and assert the documented
 * close code and reason against the real server. Every server close must carry a reason.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Packr } from 'msgpackr';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { frame, RawSocket } from '../fuzz/rawSocket.ts';
import { eventually, startCattail, type Harness } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const pack = (v: unknown) => Buffer.from(packr.pack(v));
const binary = (v: unknown) => frame(2, pack(v));
const hello = (fields: Record<string, unknown> = {}) => ({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'doc-test', ...fields });
/** A `digests` message (§11.6): `bytes` of digests, by default exactly 8 per bucket of its slice. */
const digests = (level: number, offset: number, bytes = 8 * Math.min(4096, 2 ** level - offset)) => ({ type: 'digests', level, offset, digests: Buffer.alloc(bytes) });

const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_k, obj) => [{ key: `/doc/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};

interface Case {
  readonly rule: string;
  /** The bytes written after the upgrade, in one write. */
  readonly bytes: Buffer;
  readonly code: number;
  readonly reason: RegExp;
}

async function closeOf(h: Harness, bytes: Buffer): Promise<{ code: number; reason: string }> {
  const s = await RawSocket.open(h.app.syncAddress.port);
  s.write(bytes);
  const closed = await s.closed;
  s.destroy();
  return closed;
}

describe('docs/PROTOCOL.md §9.1: which close code, when', () => {
  let h: Harness;
  before(async () => {
    const ds = new MemoryDatastore();
    // A snapshot of several ~64 KiB frames, so "before snapshotEnd" spans several turns.
    for (let i = 0; i < 12; i++) ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `n${i}` }, spec: { blob: 'x'.repeat(20_000) } });
    h = await startCattail({ datastore: ds, specs: { felix: spec }, flags: ['--syncer-types', 'felix', '--handshake-timeout-ms', '500'] });
    await eventually(() => h.app.readiness().ready, 'ready');
  });
  after(() => h.close());

  const cases: Case[] = [
    // Rule 1: framing.
    { rule: '1 an unmasked frame', bytes: frame(2, pack(hello()), { mask: false }), code: 1002, reason: /^WebSocket protocol error: MASK must be set$/ },
    { rule: '1 a reserved bit set', bytes: frame(2, pack(hello()), { rsv: 4 }), code: 1002, reason: /^WebSocket protocol error: RSV1 must be clear$/ },
    { rule: '1 an unknown opcode', bytes: frame(3, pack(hello())), code: 1002, reason: /^WebSocket protocol error: invalid opcode 3$/ },
    { rule: '1 a control frame over 125 bytes', bytes: frame(9, Buffer.alloc(126)), code: 1002, reason: /^WebSocket protocol error: invalid payload length 126$/ },
    { rule: '1 a fragmented control frame', bytes: frame(9, Buffer.alloc(4), { fin: false }), code: 1002, reason: /^WebSocket protocol error: FIN must be set$/ },
    { rule: '1 a continuation without a start', bytes: frame(0, pack(hello())), code: 1002, reason: /^WebSocket protocol error: invalid opcode 0$/ },
    { rule: '1 a close frame with an invalid code', bytes: frame(8, Buffer.from([0x03, 0xe7])), code: 1002, reason: /^WebSocket protocol error: invalid status code 999$/ },
    // Rule 2: size, before content.
    { rule: '2 a binary frame over 64 KiB', bytes: frame(2, Buffer.alloc(64 * 1024 + 1, 0xc1)), code: 4009, reason: /^frame exceeds 65536 bytes$/ },
    { rule: '2 a text frame over 64 KiB is 4009, not 4001', bytes: frame(1, Buffer.alloc(70 * 1024, 0x61)), code: 4009, reason: /^frame exceeds 65536 bytes$/ },
    { rule: '2 a fragmented message whose total passes 64 KiB', bytes: Buffer.concat([frame(2, Buffer.alloc(40 * 1024), { fin: false }), frame(0, Buffer.alloc(40 * 1024))]), code: 4009, reason: /^frame exceeds 65536 bytes$/ },
    // Rule 2, then rate: every message and WebSocket ping spends a token (burst 100) before it is read.
    { rule: '2 then rate: a burst of WebSocket pings past the bucket, then a text frame', bytes: Buffer.concat([binary(hello()), ...Array.from({ length: 149 }, () => frame(9, Buffer.alloc(0))), frame(1, Buffer.from('x'))]), code: 4008, reason: /^more than 10 frames\/s \(burst 100\) from the client$/ },
    // Rule 3: a text frame, whatever its bytes.
    { rule: '3 a text frame of valid UTF-8', bytes: frame(1, Buffer.from(JSON.stringify(hello()))), code: 4001, reason: /^text frames are not allowed; send binary MessagePack$/ },
    { rule: '3 a text frame of invalid UTF-8 is 4001, never 1007', bytes: frame(1, Buffer.from([0xff, 0xfe, 0xc3])), code: 4001, reason: /^text frames are not allowed; send binary MessagePack$/ },
    // Rule 4: shape.
    { rule: '4 undecodable bytes (a map header with nothing after it)', bytes: frame(2, Buffer.from([0x85])), code: 4001, reason: /^frame is not a single MessagePack message/ },
    { rule: '4 two MessagePack values in one message', bytes: frame(2, Buffer.concat([pack({ type: 'ack' }), pack(1)])), code: 4001, reason: /^frame is not a single MessagePack message/ },
    { rule: '4 not a map', bytes: binary(['hello']), code: 4001, reason: /^frame is not a MessagePack map$/ },
    { rule: '4 no string type', bytes: binary({ type: 7 }), code: 4001, reason: /^message has no string field "type"$/ },
    { rule: '4 an unknown type', bytes: binary({ type: 'subscribe' }), code: 4001, reason: /^unknown client message type "subscribe"$/ },
    { rule: '4 a field of the wrong type', bytes: binary(hello({ hostname: 42 })), code: 4001, reason: /^hello\.hostname must be a string$/ },
    { rule: '4 a field over its length', bytes: binary(hello({ hostname: 'h'.repeat(254) })), code: 4001, reason: /^hello\.hostname is longer than 253 characters$/ },
    { rule: '4 shape before place: a malformed pong as the first message', bytes: binary({ type: 'pong' }), code: 4001, reason: /^pong\.pingTimestamp must be a finite number$/ },
    // Rule 5: place.
    { rule: '5 a first message other than hello', bytes: binary({ type: 'pong', pingTimestamp: 1 }), code: 4000, reason: /^the first message must be hello, not pong$/ },
    { rule: '5 an ack as the first message', bytes: binary({ type: 'ack' }), code: 4000, reason: /^the first message must be hello, not ack$/ },
    { rule: '5 a second hello', bytes: Buffer.concat([binary(hello()), binary(hello())]), code: 4000, reason: /^hello sent twice$/ },
    { rule: '5 hello and ack written together', bytes: Buffer.concat([binary(hello()), binary({ type: 'ack' })]), code: 4000, reason: /^ack before snapshotEnd; send ack only after receiving snapshotEnd$/ },
    // Rule 6: hello content, version first.
    { rule: '6 an unsupported version', bytes: binary(hello({ protocolVersion: 2 })), code: 4002, reason: /^protocol version 2 is not supported; this server speaks 1$/ },
    { rule: '6 a syncer type not served', bytes: binary(hello({ syncerType: 'bogus' })), code: 4003, reason: /^syncer type "bogus" is not served; served: felix$/ },
    { rule: '6 a syncer type of two-byte characters, whose reason is cut between characters', bytes: binary(hello({ syncerType: 'é'.repeat(60) })), code: 4003, reason: /^syncer type "é{53}\.\.\.$/ },
    { rule: '6 version before syncer type', bytes: binary(hello({ protocolVersion: 2, syncerType: 'bogus' })), code: 4002, reason: /^protocol version 2 is not supported/ },
    { rule: '6 shape before content: version 2 and no hostname', bytes: binary({ type: 'hello', protocolVersion: 2, syncerType: 'felix' }), code: 4001, reason: /^hello\.hostname must be a string$/ },
    // The catch-up additions (§3, §11): capability shapes under rule 4, digests under rules 4, 5 and 6.
    { rule: '4 a malformed resume capability', bytes: binary(hello({ capabilities: { resume: { serverInstanceId: 'x', seq: -1 } } })), code: 4001, reason: /^hello\.capabilities\.resume\.seq must be a non-negative integer$/ },
    { rule: '4 a digest level over 16', bytes: binary(hello({ capabilities: { digest: { level: 17 } } })), code: 4001, reason: /^hello\.capabilities\.digest\.level must be an integer from 0 to 16$/ },
    { rule: '4 a probe that is not a boolean', bytes: binary(hello({ capabilities: { probe: 1 } })), code: 4001, reason: /^hello\.capabilities\.probe must be a boolean$/ },
    { rule: '4 a digests bin of the wrong length, even in place', bytes: Buffer.concat([binary(hello({ capabilities: { digest: { level: 4 } } })), binary(digests(4, 0, 127))]), code: 4001, reason: /^digests\.digests must be exactly 128 bytes at level 4, offset 0; got 127$/ },
    { rule: '5 digests when the server chose no digest path', bytes: Buffer.concat([binary(hello()), binary(digests(4, 0))]), code: 4000, reason: /^digests sent when none are expected/ },
    { rule: '5 a digests message after the last one', bytes: Buffer.concat([binary(hello({ capabilities: { digest: { level: 4 } } })), binary(digests(4, 0)), binary(digests(4, 0))]), code: 4000, reason: /^digests sent when none are expected/ },
    { rule: '6 digests at a level other than the hello\'s', bytes: Buffer.concat([binary(hello({ capabilities: { digest: { level: 4 } } })), binary(digests(5, 0))]), code: 4001, reason: /^digests\.level 5 is not the level 4/ },
    { rule: '6 digests out of order', bytes: Buffer.concat([binary(hello({ capabilities: { digest: { level: 13 } } })), binary(digests(13, 4096))]), code: 4001, reason: /^digests\.offset 4096 is not the next expected offset 0$/ },
  ];

  for (const c of cases) {
    test(`rule ${c.rule} closes with ${c.code} and its reason`, async () => {
      const closed = await closeOf(h, c.bytes);
      assert.equal(closed.code, c.code, `closed with ${closed.code} (${closed.reason})`);
      assert.match(closed.reason, c.reason);
      assert.ok(Buffer.byteLength(closed.reason) <= 123);
    });
  }

  test('rule 5: an ack read before snapshotEnd was sent is refused every time, with a multi-frame snapshot and with an empty one', async () => {
    const empty = await startCattail({ datastore: new MemoryDatastore(), specs: { felix: spec }, flags: ['--syncer-types', 'felix'] });
    try {
      await eventually(() => empty.app.readiness().ready, 'ready');
      for (const server of [h, empty]) {
        for (let i = 0; i < 20; i++) {
          const closed = await closeOf(server, Buffer.concat([binary(hello()), binary({ type: 'ack' })]));
          assert.equal(closed.code, 4000, `attempt ${i}: ${closed.code} ${closed.reason}`);
        }
      }
    } finally {
      await empty.close();
    }
  });

  test('rule 5: an ack after snapshotEnd is accepted, a second ack is refused, and a pong is in place at any time after hello', async () => {
    const c = await TestClient.connect(h.syncUrl);
    c.send({ type: 'pong', pingTimestamp: 1 });
    await eventually(() => c.inSync, 'in sync after an early pong and an ack on snapshotEnd');
    c.send({ type: 'pong', pingTimestamp: 2 });
    c.send({ type: 'ack' });
    await eventually(() => c.closed !== undefined, 'closed');
    assert.deepEqual(c.closed, { code: 4000, reason: 'ack sent twice' });
  });

  test('rule 7: no hello within the handshake timeout closes with 4004 and its reason', async () => {
    const s = await RawSocket.open(h.app.syncAddress.port);
    const closed = await s.closed;
    assert.equal(closed.code, 4004);
    assert.equal(closed.reason, 'no hello within the handshake timeout');
  });

  test('rule 7: on the digest path, digests that do not all arrive within the handshake timeout from serverHello close with 4004', async () => {
    const s = await RawSocket.open(h.app.syncAddress.port);
    s.write(Buffer.concat([binary(hello({ capabilities: { digest: { level: 13 } } })), binary(digests(13, 0))]));
    const closed = await s.closed;
    s.destroy();
    assert.deepEqual([closed.code, closed.reason], [4004, 'no digests within the handshake timeout']);
  });

  test('§9.2: a plain request gets 426, another path 404 with its reason, and a malformed upgrade 405 or 400 without being counted', async () => {
    const server = await startCattail({ datastore: new MemoryDatastore(), specs: { felix: spec }, flags: ['--syncer-types', 'felix', '--ops-cache-ms', '0'] });
    const answer = (request: string) => new Promise<string>((resolve) => {
      const socket = net.connect(server.app.syncAddress.port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1'))).on('error', () => {}).on('close', () => resolve(text));
      socket.end(request);
    });
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const refused = async () => [...(await (await fetch(`${server.opsUrl}/metrics`)).text()).matchAll(/^cattail_connections_refused_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    try {
      const before = await refused();
      assert.match(await answer('GET /sync HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 426 [^]*open a WebSocket on \/sync/);
      assert.match(await answer(`GET /other HTTP/1.1\r\nHost: x\r\n${upgrade}${key}\r\n`), /^HTTP\/1\.1 404 [^]*Connection: close[^]*\r\n\r\nthe sync endpoint is \/sync\n$/);
      assert.match(await answer(`POST /sync HTTP/1.1\r\nHost: x\r\n${upgrade}${key}\r\n`), /^HTTP\/1\.1 405 /);
      assert.match(await answer(`GET /sync HTTP/1.1\r\nHost: x\r\n${upgrade}Sec-WebSocket-Key: short\r\n\r\n`), /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Key/);
      assert.equal(await refused(), before + 1, 'only the 404 is counted');
    } finally {
      await server.close();
    }
  });

  test('rule 10: shedding closes with 4020 and shutting down with 4021, each with its reason', async () => {
    const server = await startCattail({ datastore: new MemoryDatastore(), specs: { felix: spec }, flags: ['--syncer-types', 'felix', '--connection-drop-interval-ms', '50'] });
    try {
      const clients = [await TestClient.connect(server.syncUrl, { hostname: 'a' }), await TestClient.connect(server.syncUrl, { hostname: 'b' })];
      await eventually(() => clients.every((c) => c.inSync), 'both in sync');
      server.app.server.setMaxConnections(1);
      await eventually(() => clients.some((c) => c.closed !== undefined), 'one shed');
      const shed = clients.find((c) => c.closed !== undefined)!;
      assert.deepEqual(shed.closed, { code: 4020, reason: 'server over its connection limit; connect to another replica' });
      const kept = clients.find((c) => c !== shed)!;
      await server.app.shutdownGracefully();
      await eventually(() => kept.closed !== undefined, 'closed on shutdown');
      assert.equal(kept.closed!.code, 4021);
      assert.match(kept.closed!.reason, /^server shutting down/);
    } finally {
      await server.close();
    }
  });
});
