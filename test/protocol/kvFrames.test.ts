import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assembleKvsFrames, Codec, DEFAULT_MAX_VALUE_BYTES, KVS_FRAME_CLOSE_BYTES, kvsFrameCloseBytes, largestServerFrameBytes, type EncodedKV, type FrameEntry,
} from '../../src/protocol/index.ts';
import { entryOf } from '../support/worstCaseFrame.ts';

const asNew = (kv: EncodedKV): FrameEntry => ({ kv, updateType: 'new' });
const codec = new Codec();

/** Entries that fill a frame to one byte under its close threshold, then one entry at the bound (+ `extra`). */
function worstCaseEntries(maxValueBytes: number, closeAt: number, extra = 0): FrameEntry[] {
  const small = Array.from({ length: 15 }, (_, i) => entryOf(`/k${i}`, 40));
  const used = small.reduce((n, kv) => n + kv.bytes.length + 1, 0);
  return [...small, entryOf('/filler', closeAt - 1 - used - 1), entryOf('/biggest', maxValueBytes + extra)].map(asNew);
}

test('frames close 9 bytes under 64 KiB, the room a position mark takes', () => {
  assert.equal(KVS_FRAME_CLOSE_BYTES, 65_536 - 9);
  assert.equal(kvsFrameCloseBytes(), KVS_FRAME_CLOSE_BYTES);
  assert.equal(kvsFrameCloseBytes(0xffff_ffff), KVS_FRAME_CLOSE_BYTES);
  assert.equal(kvsFrameCloseBytes(2 ** 32), KVS_FRAME_CLOSE_BYTES - 4, 'a uint64 mark takes 4 bytes more');
});

test('the worst-case frame (entries just under the close threshold, one at the bound, then a position mark) is exactly largestServerFrameBytes', () => {
  assert.equal(largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES), 2_162_705, 'unchanged by position marks');
  const frames = assembleKvsFrames(worstCaseEntries(DEFAULT_MAX_VALUE_BYTES, KVS_FRAME_CLOSE_BYTES), 100_000, 0xffff_ffff);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]?.length, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES));
  const msg = codec.decodeServer(frames[0] as Buffer);
  assert.equal(msg.type === 'kvs' && msg.seq, 0xffff_ffff);
  // The same with a seq beyond uint32 (a 13-byte mark): the frame closes earlier and is no larger.
  const wide = assembleKvsFrames(worstCaseEntries(DEFAULT_MAX_VALUE_BYTES, kvsFrameCloseBytes(2 ** 40)), 100_000, 2 ** 40);
  assert.equal(wide.length, 1);
  assert.equal(wide[0]?.length, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES));
  const wideMsg = codec.decodeServer(wide[0] as Buffer);
  assert.equal(wideMsg.type === 'kvs' && wideMsg.seq, 2 ** 40);
  // One byte more in the entries before the last closes the frame before the big entry.
  assert.equal(assembleKvsFrames(worstCaseEntries(DEFAULT_MAX_VALUE_BYTES, KVS_FRAME_CLOSE_BYTES + 1), 100_000, 1).length, 2);
  assert.equal(assembleKvsFrames(worstCaseEntries(DEFAULT_MAX_VALUE_BYTES, kvsFrameCloseBytes(2 ** 40) + 1), 100_000, 2 ** 40).length, 2);
});

test('only the last frame of a run carries the position mark, and a run without entries has no frame', () => {
  const entries = Array.from({ length: 250 }, (_, i) => asNew(entryOf(`/m${i}`, 30)));
  const frames = assembleKvsFrames(entries, 100, 41);
  assert.equal(frames.length, 3);
  const seqs = frames.map((f) => {
    const msg = codec.decodeServer(f);
    return msg.type === 'kvs' ? msg.seq : 'not kvs';
  });
  assert.deepEqual(seqs, [undefined, undefined, 41]);
  assert.equal(frames[2]?.[0], 0x83, 'the marked frame is a 3-field map');
  assert.equal(frames[0]?.[0], 0x82);
  assert.deepEqual(assembleKvsFrames([], 100, 41), []);
  assert.deepEqual(assembleKvsFrames(entries, 100).map((f) => f.length), frames.map((f, i) => f.length - (i === 2 ? 9 : 0)));
});

test('delta frames close at 64 KiB as well as at maxKVs, keep every entry in order, and never exceed the bound', () => {
  const max = 20_000;
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const entries = Array.from({ length: 400 }, (_, i) => asNew(entryOf(`/e${i}`, 20 + Math.floor(random() ** 4 * (max - 20)))));
  const frames = assembleKvsFrames(entries, 100, 9);
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
