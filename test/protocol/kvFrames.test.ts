import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleKvsFrames, Codec, DEFAULT_MAX_VALUE_BYTES, largestServerFrameBytes, type EncodedKV, type FrameEntry } from '../../src/protocol/index.ts';
import { entryOf, worstCaseFrames } from '../support/worstCaseFrame.ts';

const asNew = (kv: EncodedKV): FrameEntry => ({ kv, updateType: 'new' });

test('the worst-case frame (entries just under 64 KiB, then one entry at the bound) is exactly largestServerFrameBytes', () => {
  const { frames } = worstCaseFrames('', DEFAULT_MAX_VALUE_BYTES);
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
