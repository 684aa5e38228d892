import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pack } from 'msgpackr';
import {
  assembleKvsFrame, bitmapHas, Codec, bitmapOf, bucketAtLevel, clientDigestLevel, CloseCode, decodeDigests, DigestTable, digestMessageCount,
  encodeDigests, keyBucket16, KVEncoder, kvHash, scanKvsFrame,
} from '../../src/protocol/index.ts';
import { closeCodeOf } from '../support/closeCodeOf.ts';

/**
 * Test vectors of PROTOCOL.md §11.8. Every expected value below was computed independently of
 * this code, with Python's hashlib (`hashlib.sha256(...).digest()`, reading the bytes as
 * big-endian integers and XORing them by hand) and, for the key's bucket, with coreutils:
 * `printf '%s' /calico/v1/Ready | sha256sum` → 5cfbad4a0b9e7bbe….
 */
const VECTOR_ENTRIES = [
  // [key, the entry [key, value, revision] as hex (array header 94 first), end of the value, KV hash]
  ['/calico/v1/host/node-0/bird_ip', '94be2f63616c69636f2f76312f686f73742f6e6f64652d302f626972645f6970a831302e302e302e31a3313030', 41, '39eef0421a0f2732'],
  ['/calico/v1/host/node-2/bird_ip', '94be2f63616c69636f2f76312f686f73742f6e6f64652d322f626972645f6970a831302e302e302e33a3313032', 41, 'e199c3aa7816a27c'],
  ['/calico/v1/host/node-12/bird_ip', '94bf2f63616c69636f2f76312f686f73742f6e6f64652d31322f626972645f6970a931302e302e302e3133a3313132', 43, 'e036ece039fb9661'],
  ['/calico/v1/host/node-14/bird_ip', '94bf2f63616c69636f2f76312f686f73742f6e6f64652d31342f626972645f6970a931302e302e302e3135a3313134', 43, '994ae361cbfc1f67'],
] as const;
const VECTOR_BUCKETS16 = [0x5883, 0x5f45, 0x51e5, 0x7468];

const hex = (hi: number, lo: number): string => hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');

describe('digest test vectors (PROTOCOL.md §11.8)', () => {
  test('the key /calico/v1/Ready is in level-16 bucket 0x5cfb (23803) and level-4 bucket 5', () => {
    assert.equal(keyBucket16('/calico/v1/Ready'), 0x5cfb);
    assert.equal(bucketAtLevel(0x5cfb, 4), 5);
    assert.equal(bucketAtLevel(0x5cfb, 16), 0x5cfb);
    assert.equal(bucketAtLevel(0x5cfb, 1), 0);
    assert.equal(bucketAtLevel(0x5cfb, 0), 0);
  });

  test('each vector key has the documented level-16 bucket', () => {
    VECTOR_ENTRIES.forEach(([key], i) => assert.equal(keyBucket16(key), VECTOR_BUCKETS16[i], key));
  });

  test('the KV hash of an entry is the first 8 bytes of SHA-256 over its key and value elements as received', () => {
    for (const [key, entryHex, valueEnd, expected] of VECTOR_ENTRIES) {
      const bytes = Buffer.from(entryHex, 'hex');
      const { hi, lo } = kvHash(bytes, 1, valueEnd);
      assert.equal(hex(hi, lo), expected, key);
    }
  });

  test('the level-3 digest of bucket 2 is the XOR of its three KVs, and folds with its sibling into level-2 bucket 1', () => {
    const table = new DigestTable();
    for (const [key, entryHex, valueEnd] of VECTOR_ENTRIES) {
      const { hi, lo } = kvHash(Buffer.from(entryHex, 'hex'), 1, valueEnd);
      table.add(keyBucket16(key), hi, lo);
    }
    const level3 = table.fold(3);
    assert.equal(level3.length, 16);
    assert.equal(hex(level3[4] as number, level3[5] as number), '3841df085be2132f', 'level 3, bucket 2: node-0, node-2, node-12');
    assert.equal(hex(level3[6] as number, level3[7] as number), '994ae361cbfc1f67', 'level 3, bucket 3: node-14 alone');
    const level2 = table.fold(2);
    assert.equal(hex(level2[2] as number, level2[3] as number), 'a10b3c69901e0c48', 'level 2, bucket 1 = XOR of its two children');
    for (const b of [0, 2, 3]) assert.equal(hex(level2[2 * b] as number, level2[2 * b + 1] as number), '0000000000000000', `empty level-2 bucket ${b}`);
    assert.deepEqual([...table.counts(2)], [0, 4, 0, 0]);
    assert.deepEqual(encodeDigests(level2, 1, 1), Buffer.from('a10b3c69901e0c48', 'hex'));
  });
});

describe('scanKvsFrame', () => {
  test('a frame assembled by the server yields each key, its bucket and the vector KV hash', () => {
    const enc = new KVEncoder();
    const kvs = [0, 2, 12, 14].map((i) => enc.encode(`/calico/v1/host/node-${i}/bird_ip`, `10.0.0.${i + 1}`, `${100 + i}`));
    // The server's own encoder produces exactly the vector bytes (so the vectors are what clients receive).
    kvs.forEach((kv, i) => assert.equal(kv.bytes.toString('hex'), VECTOR_ENTRIES[i]?.[1]));
    const scanned = scanKvsFrame(assembleKvsFrame(kvs.map((kv) => ({ kv, updateType: 'new' as const }))));
    assert.deepEqual(scanned.map((s) => [s.key, s.bucket16, hex(s.hi, s.lo), s.deleted]), VECTOR_ENTRIES.map(([key, , , h], i) => [key, VECTOR_BUCKETS16[i], h, false]));
  });

  test('deletions are reported with no hash, and a frame with seq, other field orders and extra entry elements scans the same', () => {
    const frame = pack({ seq: 4_000_000_000, kvs: [['/calico/v1/Ready', 'true', '8', 1, 'future'], ['/calico/v1/gone', null, '9', 3]], type: 'kvs' });
    const scanned = scanKvsFrame(frame);
    assert.equal(scanned.length, 2);
    assert.equal(scanned[0]?.key, '/calico/v1/Ready');
    assert.equal(scanned[0]?.bucket16, 0x5cfb);
    const readyBytes = pack('/calico/v1/Ready');
    const value = pack('true');
    const expected = kvHash(Buffer.concat([readyBytes, value]), 0, readyBytes.length + value.length);
    assert.deepEqual([scanned[0]?.hi, scanned[0]?.lo], [expected.hi, expected.lo]);
    assert.deepEqual(scanned[1], { key: '/calico/v1/gone', bucket16: keyBucket16('/calico/v1/gone'), hi: 0, lo: 0, deleted: true });
  });

  test('the hash is over the bytes as received: the same value in a wider MessagePack form hashes differently', () => {
    const narrow = Buffer.from('82a474797065a36b7673a36b76739194a1' + '6b' + 'a176' + 'a131' + '01', 'hex'); // key "k", value fixstr "v"
    const wide = Buffer.from('82a474797065a36b7673a36b76739194a1' + '6b' + 'd90176' + 'a131' + '01', 'hex'); // value str8 "v"
    const [a] = scanKvsFrame(narrow);
    const [b] = scanKvsFrame(wide);
    assert.equal(a?.key, 'k');
    assert.equal(b?.key, 'k');
    assert.notEqual(hex(a?.hi ?? 0, a?.lo ?? 0), hex(b?.hi ?? 0, b?.lo ?? 0));
  });

  test('malformed frames close with 4001', () => {
    const good = assembleKvsFrame([{ kv: new KVEncoder().encode('/k', { a: [1, 2, { b: 'c' }] }, '1'), updateType: 'new' }]);
    for (let cut = 1; cut < good.length; cut++) assert.equal(closeCodeOf(() => scanKvsFrame(good.subarray(0, cut))), CloseCode.badFrame, `cut at ${cut}`);
    assert.equal(closeCodeOf(() => scanKvsFrame(pack([1, 2]))), CloseCode.badFrame);
    assert.equal(closeCodeOf(() => scanKvsFrame(pack({ type: 'kvs' }))), CloseCode.badFrame);
    assert.equal(closeCodeOf(() => scanKvsFrame(pack({ type: 'kvs', kvs: [[1, 'v', '1', 1]] }))), CloseCode.badFrame);
    assert.equal(closeCodeOf(() => scanKvsFrame(Buffer.concat([good, Buffer.from([0xc0])]))), CloseCode.badFrame);
  });

  test('a value nested a million levels deep is skipped without exhausting the stack', () => {
    const depth = 1_000_000;
    const head = Buffer.from('82a474797065a36b7673a36b76739194a16b', 'hex');
    const nested = Buffer.alloc(depth, 0x91);
    const tail = Buffer.from('c0a13101', 'hex');
    const [entry] = scanKvsFrame(Buffer.concat([head, nested, tail]));
    assert.equal(entry?.key, 'k');
    assert.equal(entry?.deleted, false);
  });
});

describe('digest helpers', () => {
  test('digests travel as 8 big-endian bytes per bucket and decode back to the same pairs', () => {
    const table = new Uint32Array([0x01020304, 0x05060708, 0xfffffffe, 0x80000001, 0, 7]);
    const bin = encodeDigests(table, 1, 2);
    assert.equal(bin.toString('hex'), 'fffffffe80000001' + '0000000000000007');
    assert.deepEqual([...decodeDigests(bin)], [0xfffffffe, 0x80000001, 0, 7]);
    assert.throws(() => decodeDigests(Buffer.alloc(7)), RangeError);
  });

  test('bitmaps are MSB first, bucket i at byte i >> 3, unused bits zero', () => {
    const bitmap = bitmapOf(10, (i) => i === 0 || i === 9);
    assert.deepEqual(bitmap, Buffer.from([0x80, 0x40]));
    assert.ok(bitmapHas(bitmap, 0) && bitmapHas(bitmap, 9));
    assert.ok(!bitmapHas(bitmap, 1) && !bitmapHas(bitmap, 8));
    assert.deepEqual(bitmapOf(1, () => true), Buffer.from([0x80]));
    assert.equal(bitmapOf(1 << 16, () => true).length, 8192);
  });

  test('a client chooses about one key per bucket, from level 4 to level 16', () => {
    assert.deepEqual([0, 1, 16, 17, 1000, 65_536, 65_537, 100_000].map(clientDigestLevel), [4, 4, 4, 5, 10, 16, 16, 16]);
    assert.deepEqual([0, 12, 13, 16].map(digestMessageCount), [1, 1, 2, 16]);
  });

  test('removing a key undoes adding it, and a copy does not follow later changes of the original', () => {
    const table = new DigestTable();
    table.add(7, 0xdeadbeef, 0x12345678);
    const copy = table.copy();
    table.remove(7, 0xdeadbeef, 0x12345678);
    assert.deepEqual([...table.fold(16).subarray(14, 16)], [0, 0]);
    assert.equal(table.count(7), 0);
    assert.deepEqual([...copy.fold(16).subarray(14, 16)], [0xdeadbeef, 0x12345678]);
    assert.equal(copy.count(7), 1);
    assert.throws(() => table.fold(17), RangeError);
  });
});

describe('the wire vectors of PROTOCOL.md §11.8', () => {
  test('the documented digests and buckets messages decode to the documented values', () => {
    const codec = new Codec();
    const digestsHex = '84a474797065a764696765737473a56c6576656c02a66f666673657400a764696765737473c420'
      + '0000000000000000a10b3c69901e0c4800000000000000000000000000000000';
    const digests = codec.decodeClient(Buffer.from(digestsHex, 'hex'));
    assert.equal(digests.type, 'digests');
    if (digests.type === 'digests') {
      assert.deepEqual([digests.level, digests.offset], [2, 0]);
      const table = new DigestTable();
      for (const [key, entryHex, valueEnd] of VECTOR_ENTRIES) {
        const { hi, lo } = kvHash(Buffer.from(entryHex, 'hex'), 1, valueEnd);
        table.add(keyBucket16(key), hi, lo);
      }
      assert.deepEqual(Buffer.from(digests.digests), encodeDigests(table.fold(2), 0, 4), 'what a client holding the four vector keys uploads');
    }
    const buckets = codec.decodeServer(Buffer.from('83a474797065a76275636b657473a56c6576656c02a87265706c61636564c40140', 'hex'));
    assert.deepEqual(buckets.type === 'buckets' && [buckets.level, [...buckets.replaced]], [2, [0x40]]);
    assert.ok(buckets.type === 'buckets' && bitmapHas(buckets.replaced, 1) && !bitmapHas(buckets.replaced, 0));
  });
});

describe('EncodedKV.bucket16', () => {
  test('is the bucket of the key for every string header width and for multi-byte characters', () => {
    const enc = new KVEncoder();
    for (const key of ['/k', '/calico/v1/Ready', `/${'x'.repeat(40)}`, `/${'y'.repeat(300)}`, `/${'z'.repeat(70_000)}`, '/calico/v1/ümlaut/漢字/🌿']) {
      assert.equal(enc.encode(key, 'v', '1').bucket16, keyBucket16(key), `key of ${key.length} characters`);
      assert.equal(enc.encode(key, null, '1').bucket16, keyBucket16(key), 'a deletion too');
    }
  });

  test('is taken from the caller when it knows it (the stored entry of the same key)', () => {
    const enc = new KVEncoder();
    assert.equal(enc.encode('/k', 'v', '1', 1234).bucket16, 1234);
  });
});
