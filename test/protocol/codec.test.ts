import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pack } from 'msgpackr';
import {
  assembleKvsFrame, Codec, CloseCode, KVEncoder, type ProtocolError, type ServerMessage, sameValue,
} from '../../src/protocol/index.ts';

const codec = new Codec();

function closeCodeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    return (err as ProtocolError).closeCode;
  }
  assert.fail('expected a ProtocolError');
}

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
