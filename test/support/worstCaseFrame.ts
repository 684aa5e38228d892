/**
 * The largest `kvs` frame a server with a given value bound can send (PROTOCOL.md §1): entries
 * that fill a frame to just under its close threshold (65,527 bytes), then one entry at the bound,
 * in a delta frame that ends a run and so carries the largest position mark `seq`. Shared by the
 * protocol test that pins `largestServerFrameBytes` and the client test that accepts exactly it.
 */
import { assembleKvsFrames, KVEncoder, KVS_FRAME_CLOSE_BYTES, type EncodedKV, type FrameEntry } from '../../src/protocol/index.ts';

const encoder = new KVEncoder();

/**
 * An encoded entry of exactly `bytes` bytes (its update-type byte not counted). Some sizes sit
 * in the gap where a string header grows; a key one character longer then closes it.
 */
export function entryOf(key: string, bytes: number): EncodedKV {
  for (let k = key; ; k += 'x') {
    let len = bytes;
    for (let attempt = 0; attempt < 4; attempt++) {
      const kv = encoder.encode(k, 'v'.repeat(Math.max(0, len)), '1');
      if (kv.bytes.length === bytes) return kv;
      len -= kv.bytes.length - bytes;
    }
  }
}

/** The worst-case frame for `maxValueBytes`, its last entry `extra` bytes over the bound; `frames` has one element unless the rule changed. */
export function worstCaseFrames(prefix: string, maxValueBytes: number, extra = 0): { frames: Buffer[]; keys: string[] } {
  const small = Array.from({ length: 15 }, (_, i) => entryOf(`/${prefix}k${i}`, 40));
  const used = small.reduce((n, kv) => n + kv.bytes.length + 1, 0);
  const entries = [...small, entryOf(`/${prefix}filler`, KVS_FRAME_CLOSE_BYTES - 1 - used - 1), entryOf(`/${prefix}biggest`, maxValueBytes + extra)];
  const frames = assembleKvsFrames(entries.map((kv): FrameEntry => ({ kv, updateType: 'new' })), 100_000, 0xffff_ffff);
  return { frames, keys: entries.map((e) => e.key) };
}
