/**
 * The client side of catch-up (PROTOCOL.md §11) that every catch-up test client shares: what a
 * client holds per key (its value, bucket and KV hash, computed from the raw `kvs` bytes as a
 * client in any language must), the digests it uploads, and the rules that change its map and
 * pending set. `test/server/catchUpClient.ts` (over `ws`, across connections) and
 * `test/fuzz/catchUpPeer.ts` (byte-level, hostile cases) are transports around these rules.
 * `test/protocol-doc/` keeps its own client on purpose: it is written from the document alone.
 */
import {
  bitmapHas, bucketAtLevel, DIGESTS_PER_FRAME, DigestTable, digestMessageCount, encodeDigests, scanKvsFrame,
} from '../../src/protocol/index.ts';

export interface HeldKV {
  readonly value: unknown;
  readonly bucket16: number;
  readonly hi: number;
  readonly lo: number;
}

export interface Position {
  readonly serverInstanceId: string;
  readonly seq: number;
}

export interface DigestsMessage {
  readonly type: 'digests';
  readonly level: number;
  readonly offset: number;
  readonly digests: Buffer;
}

/** Bucket digests of a held map at `level`, as DigestTable.fold returns them. */
export function heldDigests(held: ReadonlyMap<string, HeldKV>, level: number): Uint32Array {
  const table = new DigestTable();
  for (const kv of held.values()) table.add(kv.bucket16, kv.hi, kv.lo);
  return table.fold(level);
}

/** The `digests` messages of a held map at `level`, as an honest client sends them. */
export function ownDigests(held: ReadonlyMap<string, HeldKV>, level: number): DigestsMessage[] {
  const folded = heldDigests(held, level);
  const out: DigestsMessage[] = [];
  for (let m = 0; m < digestMessageCount(level); m++) {
    const offset = m * DIGESTS_PER_FRAME;
    out.push({ type: 'digests', level, offset, digests: encodeDigests(folded, offset, Math.min(DIGESTS_PER_FRAME, 2 ** level - offset)) });
  }
  return out;
}

/**
 * At a serverHello (§10 step 7): a resumed connection keeps the pending set it had; any other
 * answer (a snapshot, or a digest one until `buckets` says which keys) makes every held key
 * pending.
 */
export function pendingAfterServerHello(held: ReadonlyMap<string, HeldKV>, pending: Set<string> | undefined, catchUp: unknown): Set<string> | undefined {
  return catchUp === 'resume' ? pending : new Set(held.keys());
}

/** After `buckets`: the held keys of the replaced buckets are pending (they must all come back). */
export function pendingAfterBuckets(held: ReadonlyMap<string, HeldKV>, level: number, replaced: Uint8Array): Set<string> {
  return new Set([...held].filter(([, kv]) => bitmapHas(replaced, bucketAtLevel(kv.bucket16, level))).map(([k]) => k));
}

/**
 * Applies one `kvs` frame: `frame` is its raw (decompressed) bytes, `kvs` its decoded entries.
 * Each entry clears its key from `pending`; a deletion drops the key, anything else sets it with
 * the bucket and hash scanned from the bytes. Throws if the scan and the decoding disagree.
 */
export function applyKvs(held: Map<string, HeldKV>, pending: Set<string> | undefined, frame: Uint8Array, kvs: readonly (readonly unknown[])[]): void {
  const scanned = scanKvsFrame(frame);
  if (scanned.length !== kvs.length) throw new Error(`scan found ${scanned.length} entries, decoding ${kvs.length}`);
  for (const [i, e] of scanned.entries()) {
    const [key, value] = kvs[i]!;
    if (e.key !== key) throw new Error(`scan and decode disagree: ${e.key} vs ${String(key)}`);
    pending?.delete(e.key);
    if (e.deleted) held.delete(e.key);
    else held.set(e.key, { value, bucket16: e.bucket16, hi: e.hi, lo: e.lo });
  }
}

/** At in-sync: every key still pending is deleted (the caller then discards the set). */
export function deletePending(held: Map<string, HeldKV>, pending: ReadonlySet<string>): void {
  for (const k of pending) held.delete(k);
}
