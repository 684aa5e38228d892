import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pack } from 'msgpackr';
import {
  assembleKvsFrame, Codec, CloseCode, KVEncoder, type ProtocolError, type ServerMessage, sameValue,
} from '../../src/protocol/index.ts';
import { closeCodeOf } from '../support/closeCodeOf.ts';

const codec = new Codec();

describe('protocol codec', () => {
  test('every client message survives an encode/decode round trip', () => {
    const hello = { type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'node-1', clientVersion: '1.0', clientInfo: 'test', clientConnId: 'c1', capabilities: { compression: ['zstd'] } } as const;
    assert.deepEqual(codec.decodeClient(codec.encode(hello)), hello);
    assert.deepEqual(codec.decodeClient(codec.encode({ type: 'pong', pingTimestamp: 1234.5 })), { type: 'pong', pingTimestamp: 1234.5 });
    assert.deepEqual(codec.decodeClient(codec.encode({ type: 'ack' })), { type: 'ack' });
  });

  test('every server message survives an encode/decode round trip', () => {
    const msgs: ServerMessage[] = [
      { type: 'serverHello', protocolVersion: 1, syncerType: 'bgp', serverVersion: '0.1.0', serverInstanceId: 'abc', connectionId: '7', compression: null },
      { type: 'kvs', kvs: [['/calico/v1/Ready', 'true', '5', 1], ['/calico/v1/x', null, '6', 3]] },
      { type: 'status', status: 'in-sync' },
      { type: 'ping', timestamp: 1_700_000_000_000 },
      { type: 'snapshotEnd', seq: 42, keys: 10 },
    ];
    for (const m of msgs) assert.deepEqual(codec.decodeServer(codec.encode(m)), m);
  });

  test('a hello with unknown extra fields is accepted and the extras ignored', () => {
    const bytes = pack({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'h', futureField: [1, 2], capabilities: { futureCap: true } });
    const hello = codec.decodeClient(bytes);
    assert.equal(hello.type, 'hello');
    assert.equal((hello as unknown as Record<string, unknown>).futureField, undefined);
  });

  test('bytes that are not MessagePack close with badFrame', () => {
    assert.equal(closeCodeOf(() => codec.decodeClient(Buffer.from([0xc1]))), CloseCode.badFrame);
    assert.equal(closeCodeOf(() => codec.decodeClient(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]))), CloseCode.badFrame);
  });

  test('valid MessagePack of the wrong shape closes with badFrame', () => {
    for (const value of [42, 'hello', [1, 2], null, { noType: 1 }, { type: 7 }, { type: 'nonsense' }, { type: 'hello', protocolVersion: 'one', syncerType: 'felix', hostname: 'h' }, { type: 'hello', protocolVersion: 1, syncerType: 3, hostname: 'h' }, { type: 'pong' }, { type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'h', capabilities: { compression: 'zstd' } }]) {
      assert.equal(closeCodeOf(() => codec.decodeClient(pack(value))), CloseCode.badFrame, JSON.stringify(value));
    }
  });

  test('a server map with an unknown type string decodes as unknown, to be ignored; a missing or non-string type is a bad frame', () => {
    assert.deepEqual(codec.decodeServer(pack({ type: 'digestSummary', buckets: [1] })), { type: 'unknown', name: 'digestSummary' });
    for (const value of [{ noType: 1 }, { type: 7 }, { type: '' }]) {
      assert.equal(closeCodeOf(() => codec.decodeServer(pack(value))), CloseCode.badFrame, JSON.stringify(value));
    }
  });

  test('a kvs entry whose nil value disagrees with its update type is rejected by the client side', () => {
    const bad = pack({ type: 'kvs', kvs: [['/k', null, '1', 1]] });
    assert.equal(closeCodeOf(() => codec.decodeServer(bad)), CloseCode.badFrame);
  });
});

describe('catch-up messages and fields (PROTOCOL.md §11)', () => {
  const hello = (capabilities: unknown): Record<string, unknown> => ({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'h', capabilities });
  const reasonOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      assert.equal((err as ProtocolError).closeCode, CloseCode.badFrame);
      return (err as Error).message;
    }
    assert.fail('expected a ProtocolError');
  };

  test('a hello offering resume, digest and probe decodes with each capability; nil ones count as absent', () => {
    const msg = codec.decodeClient(pack(hello({ compression: ['zstd'], resume: { serverInstanceId: 'abc', seq: 4_294_967_296 }, digest: { level: 16 }, probe: true })));
    assert.equal(msg.type, 'hello');
    if (msg.type === 'hello') assert.deepEqual(msg.capabilities, { compression: ['zstd'], resume: { serverInstanceId: 'abc', seq: 4_294_967_296 }, digest: { level: 16 }, probe: true });
    const plain = codec.decodeClient(pack(hello({ resume: null, digest: null, probe: false })));
    if (plain.type === 'hello') assert.deepEqual(plain.capabilities, {});
    const none = codec.decodeClient(pack({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'h', capabilities: null }));
    if (none.type === 'hello') assert.deepEqual(none.capabilities, {});
  });

  test('malformed catch-up capabilities close with 4001 and a reason naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ resume: 'abc' }, /^hello\.capabilities\.resume must be a map$/],
      [{ resume: { serverInstanceId: 7, seq: 1 } }, /^hello\.capabilities\.resume\.serverInstanceId must be a string of at most 128 characters$/],
      [{ resume: { serverInstanceId: 'x'.repeat(129), seq: 1 } }, /serverInstanceId must be a string of at most 128/],
      [{ resume: { serverInstanceId: 'abc' } }, /^hello\.capabilities\.resume\.seq must be a non-negative integer$/],
      [{ resume: { serverInstanceId: 'abc', seq: -1 } }, /resume\.seq must be a non-negative integer/],
      [{ resume: { serverInstanceId: 'abc', seq: 1.5 } }, /resume\.seq must be a non-negative integer/],
      [{ resume: { serverInstanceId: 'abc', seq: 2 ** 60 } }, /resume\.seq must be a non-negative integer/],
      [{ digest: 16 }, /^hello\.capabilities\.digest must be a map$/],
      [{ digest: { level: 17 } }, /^hello\.capabilities\.digest\.level must be an integer from 0 to 16$/],
      [{ digest: { level: -1 } }, /digest\.level must be an integer from 0 to 16/],
      [{ digest: {} }, /digest\.level must be an integer from 0 to 16/],
      [{ probe: 'yes' }, /^hello\.capabilities\.probe must be a boolean$/],
      [[], /^hello\.capabilities must be a map$/],
    ];
    for (const [caps, reason] of cases) assert.match(reasonOf(() => codec.decodeClient(pack(hello(caps)))), reason, JSON.stringify(caps));
  });

  test('digests messages round-trip, and every stateless rule of their shape closes with 4001', () => {
    const digests = Buffer.alloc(8 * 4096, 0xab);
    const msg = { type: 'digests', level: 16, offset: 8192, digests } as const;
    const frame = codec.encode(msg);
    assert.ok(frame.length <= 33 * 1024, `a full digests frame is ${frame.length} bytes`);
    const decoded = codec.decodeClient(frame);
    assert.equal(decoded.type, 'digests');
    if (decoded.type === 'digests') {
      assert.deepEqual([decoded.level, decoded.offset], [16, 8192]);
      assert.deepEqual(Buffer.from(decoded.digests), digests);
    }
    const small = codec.decodeClient(codec.encode({ type: 'digests', level: 4, offset: 0, digests: Buffer.alloc(16 * 8) }));
    assert.equal(small.type === 'digests' && small.digests.length, 128);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ level: 17, offset: 0, digests: Buffer.alloc(8) }, /^digests\.level must be an integer from 0 to 16$/],
      [{ level: 16, offset: 100, digests: Buffer.alloc(8 * 4096) }, /^digests\.offset must be a multiple of 4096 below 2\^level \(65536\)$/],
      [{ level: 12, offset: 4096, digests: Buffer.alloc(8 * 4096) }, /offset must be a multiple of 4096 below 2\^level \(4096\)/],
      [{ level: 16, offset: -4096, digests: Buffer.alloc(8 * 4096) }, /offset must be a multiple/],
      [{ level: 4, offset: 0, digests: 'abc' }, /^digests\.digests must be binary \(MessagePack bin\)$/],
      [{ level: 4, offset: 0, digests: [1, 2] }, /digests must be binary/],
      [{ level: 4, offset: 0, digests: Buffer.alloc(127) }, /^digests\.digests must be exactly 128 bytes at level 4, offset 0; got 127$/],
      [{ level: 16, offset: 0, digests: Buffer.alloc(8 * 4095) }, /exactly 32768 bytes/],
    ];
    for (const [fields, reason] of bad) assert.match(reasonOf(() => codec.decodeClient(pack({ type: 'digests', ...fields }))), reason, JSON.stringify(fields));
  });

  test('a serverHello carries catchUp, catchUpReason and status when sent, and decodes exactly as in v1 without them', () => {
    const full = { type: 'serverHello', protocolVersion: 1, syncerType: 'felix', serverVersion: '0.2.0', serverInstanceId: 'i', connectionId: '1', compression: null, catchUp: 'digest', catchUpReason: 'other-instance', status: 'in-sync' } as const;
    assert.deepEqual(codec.decodeServer(codec.encode(full)), full);
    const v1 = { type: 'serverHello', protocolVersion: 1, syncerType: 'felix', serverVersion: '0.1.0', serverInstanceId: 'i', connectionId: '1', compression: null } as const;
    assert.deepEqual(codec.decodeServer(pack({ ...v1, catchUp: null, catchUpReason: null })), v1);
    assert.match(reasonOf(() => codec.decodeServer(pack({ ...v1, catchUp: 'teleport' }))), /^serverHello\.catchUp "teleport" is not resume, digest, snapshot or nil$/);
    assert.match(reasonOf(() => codec.decodeServer(pack({ ...v1, status: 'sleepy' }))), /serverHello\.status "sleepy" is not a known sync status/);
    assert.match(reasonOf(() => codec.decodeServer(pack({ ...v1, catchUpReason: 5 }))), /serverHello\.catchUpReason must be a string/);
  });

  test('a buckets message decodes its level and bitmap; a bitmap of the wrong size closes with 4001', () => {
    const replaced = Buffer.alloc(8192, 0xff);
    const decoded = codec.decodeServer(codec.encode({ type: 'buckets', level: 16, replaced }));
    assert.equal(decoded.type, 'buckets');
    if (decoded.type === 'buckets') {
      assert.equal(decoded.level, 16);
      assert.deepEqual(Buffer.from(decoded.replaced), replaced);
    }
    const level0 = codec.decodeServer(codec.encode({ type: 'buckets', level: 0, replaced: Buffer.from([0x80]) }));
    assert.equal(level0.type === 'buckets' && level0.replaced.length, 1);
    assert.match(reasonOf(() => codec.decodeServer(pack({ type: 'buckets', level: 4, replaced: Buffer.alloc(3) }))), /^buckets\.replaced must be binary of 2 bytes at level 4$/);
    assert.match(reasonOf(() => codec.decodeServer(pack({ type: 'buckets', level: 20, replaced: Buffer.alloc(3) }))), /^buckets\.level must be an integer from 0 to 16$/);
  });

  test('a kvs frame with a seq decodes it; without one there is no seq field; a bad seq closes with 4001', () => {
    const kv = new KVEncoder().encode('/calico/v1/Ready', 'true', '1');
    assert.deepEqual(codec.decodeServer(assembleKvsFrame([{ kv, updateType: 'new' }], 7)), { type: 'kvs', kvs: [['/calico/v1/Ready', 'true', '1', 1]], seq: 7 });
    assert.deepEqual(codec.decodeServer(assembleKvsFrame([{ kv, updateType: 'new' }])), { type: 'kvs', kvs: [['/calico/v1/Ready', 'true', '1', 1]] });
    assert.match(reasonOf(() => codec.decodeServer(pack({ type: 'kvs', kvs: [], seq: 'x' }))), /^kvs\.seq must be a non-negative integer$/);
  });
});

describe('pre-encoded kvs frames', () => {
  test('an assembled frame decodes as a plain kvs message with each entry carrying its own update type', () => {
    const enc = new KVEncoder();
    const a = enc.encode('/calico/v1/a', { x: 1, nested: { y: [1, 2] } }, '10');
    const b = enc.encode('/calico/v1/b', null, '11');
    const c = enc.encode('/calico/v1/c', 'raw text', '12');
    const frame = assembleKvsFrame([{ kv: a, updateType: 'new' }, { kv: b, updateType: 'deleted' }, { kv: c, updateType: 'updated' }]);
    assert.deepEqual(codec.decodeServer(frame), {
      type: 'kvs',
      kvs: [['/calico/v1/a', { x: 1, nested: { y: [1, 2] } }, '10', 1], ['/calico/v1/b', null, '11', 3], ['/calico/v1/c', 'raw text', '12', 2]],
    });
  });

  test('frames with more than 15 and more than 65535 entries use the right array headers', () => {
    const enc = new KVEncoder();
    const kv = enc.encode('/k', 'v', '1');
    for (const n of [0, 15, 16, 65535, 65536]) {
      const decoded = codec.decodeServer(assembleKvsFrame(Array.from({ length: n }, () => ({ kv, updateType: 'new' as const }))));
      assert.equal((decoded as unknown as { kvs: unknown[] }).kvs.length, n);
    }
  });

  test('values compare equal by bytes regardless of revision, and differ when content differs', () => {
    const enc = new KVEncoder();
    assert.ok(sameValue(enc.encode('/k', { a: 1 }, '1'), enc.encode('/k', { a: 1 }, '2')));
    assert.ok(!sameValue(enc.encode('/k', { a: 1 }, '1'), enc.encode('/k', { a: 2 }, '1')));
  });

  test('encoded entries own their bytes, so encoding another entry does not corrupt an earlier one', () => {
    const enc = new KVEncoder();
    const first = enc.encode('/first', { v: 'one' }, '1');
    const copy = Buffer.from(first.bytes);
    enc.encode('/second', { v: 'two'.repeat(100) }, '2');
    assert.deepEqual(first.bytes, copy);
  });
});
