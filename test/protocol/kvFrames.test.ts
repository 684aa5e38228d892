import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleKvsFrames, Codec, DEFAULT_MAX_VALUE_BYTES, KVEncoder, largestServerFrameBytes, type EncodedKV, type FrameEntry } from '../../src/protocol/index.ts';

const encoder = new KVEncoder();

/**
 * An encoded entry of exactly `bytes` bytes (its update-type byte not counted). Some sizes sit
 * in the gap where a string header grows; a key one character longer then closes it.
 */
function entryOf(key: string, bytes: number): EncodedKV {
  for (let k = key; ; k += 'x') {
    let len = bytes;
    for (let attempt = 0; attempt < 4; attempt++) {
      const kv = encoder.encode(k, 'v'.repeat(Math.max(0, len)), '1');
      if (kv.bytes.length === bytes) return kv;
      len -= kv.bytes.length - bytes;
    }
  }
}

const asNew = (kv: EncodedKV): FrameEntry => ({ kv, updateType: 'new' });

test('the worst-case frame (entries just under 64 KiB, then one entry at the bound) is exactly largestServerFrameBytes', () => {
  const small = Array.from({ length: 15 }, (_, i) => entryOf(`/k${i}`, 40));
  const used = small.reduce((n, kv) => n + kv.bytes.length + 1, 0);
  const filler = entryOf('/filler', 65_535 - used - 1);
  const biggest = entryOf('/biggest', DEFAULT_MAX_VALUE_BYTES);
  const frames = assembleKvsFrames([...small, filler, biggest].map(asNew), 100_000);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]?.length, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES));
  assert.equal(largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES), 2_162_705);
});

test('delta frames close at 64 KiB as well as at maxKVs, keep every entry in order, and never exceed the bound', () => {
  const max = 20_000;
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const entries = Array.from({ length: 400 }, (_, i) => asNew(entryOf(`/e${i}`, 20 + Math.floor(random() ** 4 * (max - 20)))));
  const frames = assembleKvsFrames(entries, 100);
  const codec = new Codec();
  const keys: string[] = [];
  for (const frame of frames) {
    assert.ok(frame.length <= largestServerFrameBytes(max), `frame of ${frame.length} bytes`);
    const msg = codec.decodeServer(frame);
    assert.equal(msg.type, 'kvs');
    if (msg.type === 'kvs') {
      assert.ok(msg.kvs.length <= 100);
      keys.push(...msg.kvs.map(([key]) => key));
    }
  }
  assert.deepEqual(keys, entries.map((e) => e.kv.key));
  assert.ok(frames.length > 4, 'byte closure split the frames, not only the count');
});
