/**
 * A catch-up client written from the sentences of docs/PROTOCOL.md §10 and §11 alone: it
 * imports neither our client library nor the server's protocol module (its digests come from
 * node:crypto and a MessagePack skipper of its own, as a client in another language would write
 * them). Each rule it applies is marked with the section it comes from.
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';

type Msg = Record<string, unknown> & { type: string };

export interface CatchUpOffer {
  readonly resume?: boolean;
  /** The level to offer; default §11.3's clamp(ceil(log2(max(1, held))), 4, 16). */
  readonly digestLevel?: number | 'default';
  readonly probe?: boolean;
}

/** What one connection saw, for the tests' assertions. */
export interface ConnectionRecord {
  serverInstanceId?: string;
  catchUp?: string | null;
  catchUpReason?: string | null;
  serverStatus?: string;
  /** `kvs` entries received before `snapshotEnd`. */
  entriesBeforeSnapshotEnd: number;
  digestMessages: number;
  buckets?: { level: number; replaced: Buffer };
  snapshotEnd?: { seq: number; keys: number };
  /** Keys in the pending set right after `buckets` (§10 step 7.8). */
  pendingAfterBuckets?: number;
  deletedAtInSync: number;
  closeCode?: number;
  closeReason?: string;
  /** Every message type in order. */
  readonly types: string[];
}

/** §11.8: one value skipped, returning the offset after it (every type's length is in its first bytes). */
function skip(b: Buffer, off: number): number {
  let remaining = 1;
  while (remaining-- > 0) {
    const t = b[off++] as number;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
    if (t >= 0x80 && t <= 0x8f) remaining += 2 * (t & 0xf);
    else if (t >= 0x90 && t <= 0x9f) remaining += t & 0xf;
    else if (t >= 0xa0 && t <= 0xbf) off += t & 0x1f;
    else if (t === 0xc4 || t === 0xd9) off += 1 + (b[off] as number);
    else if (t === 0xc5 || t === 0xda) off += 2 + b.readUInt16BE(off);
    else if (t === 0xc6 || t === 0xdb) off += 4 + b.readUInt32BE(off);
    else if (t === 0xca || t === 0xce || t === 0xd2) off += 4;
    else if (t === 0xcb || t === 0xcf || t === 0xd3) off += 8;
    else if (t === 0xcc || t === 0xd0) off += 1;
    else if (t === 0xcd || t === 0xd1) off += 2;
    else if (t === 0xdc) { remaining += b.readUInt16BE(off); off += 2; }
    else if (t === 0xdd) { remaining += b.readUInt32BE(off); off += 4; }
    else if (t === 0xde) { remaining += 2 * b.readUInt16BE(off); off += 2; }
    else if (t === 0xdf) { remaining += 2 * b.readUInt32BE(off); off += 4; }
    else throw new Error(`MessagePack type 0x${t.toString(16)} not expected in a kvs frame`);
  }
  return off;
}

/** §11.8: the K ‖ V byte range of every entry of a plain `kvs` frame, in order. */
function entryRanges(frame: Buffer): Array<[number, number]> {
  let off = 0;
  const head = frame[off++] as number;
  const fields = head >= 0x80 && head <= 0x8f ? head & 0xf : head === 0xde ? frame.readUInt16BE((off += 2) - 2) : frame.readUInt32BE((off += 4) - 4);
  for (let f = 0; f < fields; f++) {
    const nameStart = off;
    off = skip(frame, off);
    const name = frame.subarray(nameStart, off);
    if (!name.equals(Buffer.from([0xa3, 0x6b, 0x76, 0x73]))) { // not "kvs"
      off = skip(frame, off);
      continue;
    }
    const a = frame[off++] as number;
    const n = a >= 0x90 && a <= 0x9f ? a & 0xf : a === 0xdc ? frame.readUInt16BE((off += 2) - 2) : frame.readUInt32BE((off += 4) - 4);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const e = frame[off++] as number;
      const elems = e >= 0x90 && e <= 0x9f ? e & 0xf : e === 0xdc ? frame.readUInt16BE((off += 2) - 2) : frame.readUInt32BE((off += 4) - 4);
      const start = off;
      off = skip(frame, skip(frame, off)); // key, value
      out.push([start, off]);
      for (let k = 2; k < elems; k++) off = skip(frame, off);
    }
    return out;
  }
  return [];
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
/** §11.8: the level-16 bucket: the first 2 bytes of SHA-256 of the key's UTF-8. */
const bucket16 = (key: string): number => sha256(Buffer.from(key, 'utf8')).readUInt16BE(0);

export class CatchUpDocClient {
  readonly map = new Map<string, unknown>();
  /** §11.8: for each held key, its level-16 bucket and its KV hash. */
  readonly hashes = new Map<string, { b16: number; hash: bigint }>();
  /** §10 step 7. */
  pending: Set<string> | undefined;
  /** §11.2: (serverInstanceId, seq), or undefined when cleared. */
  position: { serverInstanceId: string; seq: number } | undefined;
  status = 'wait-for-datastore';
  readonly records: ConnectionRecord[] = [];
  readonly #packr = new Packr({ useRecords: false, mapsAsObjects: true });
  #ws: WebSocket | undefined;
  #first = true;

  get record(): ConnectionRecord {
    return this.records[this.records.length - 1] as ConnectionRecord;
  }

  /** §11.8: the digests at `level`, 8 bytes big-endian per bucket. */
  digests(level: number): Buffer {
    const xor = new Array<bigint>(2 ** level).fill(0n);
    for (const { b16, hash } of this.hashes.values()) {
      const b = level === 0 ? 0 : b16 >>> (16 - level);
      xor[b] = (xor[b] as bigint) ^ hash;
    }
    const out = Buffer.alloc(8 * xor.length);
    xor.forEach((d, i) => out.writeBigUInt64BE(d, 8 * i));
    return out;
  }

  /** Resolves once `hello` is sent (for a probe: once the server has closed). */
  async connect(url: string, offer: CatchUpOffer = {}): Promise<void> {
    // §10 step 4: assume wait-for-datastore at the start of every connection.
    this.status = 'wait-for-datastore';
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 2_162_705 });
    this.#ws = ws;
    const rec: ConnectionRecord = { entriesBeforeSnapshotEnd: 0, digestMessages: 0, deletedAtInSync: 0, types: [] };
    this.records.push(rec);
    const level = offer.digestLevel === 'default' ? Math.min(16, Math.max(4, Math.ceil(Math.log2(Math.max(1, this.map.size))))) : offer.digestLevel;
    let afterSnapshotEnd = false;
    const closed = new Promise<void>((resolve) => ws.on('close', (code, reason) => {
      rec.closeCode = code;
      rec.closeReason = reason.toString();
      resolve();
    }));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const frame = data as Buffer;
      const msg = this.#packr.unpack(frame) as Msg;
      rec.types.push(msg.type);
      switch (msg.type) {
        case 'serverHello': {
          rec.serverInstanceId = msg.serverInstanceId as string;
          rec.catchUp = (msg.catchUp as string | undefined) ?? null;
          rec.catchUpReason = (msg.catchUpReason as string | undefined) ?? null;
          rec.serverStatus = msg.status as string;
          this.status = 'wait-for-datastore';
          if (offer.probe === true) break;
          if (rec.catchUp === 'resume') {
            // §10 step 7.7: a resumed connection starts no new pending set.
          } else {
            // §11.2: cleared by any serverHello that does not say resume.
            this.position = undefined;
            // §10 step 7.2, applied (equivalently, 7.7) at the serverHello of a connection that is not resumed.
            if (!this.#first) this.pending = new Set(this.map.keys());
          }
          this.#first = false;
          if (rec.catchUp === 'digest') {
            // §11.6 step 2: every digests message at once, in order.
            const all = this.digests(level as number);
            for (let offset = 0; offset < 2 ** (level as number); offset += 4096) {
              const n = Math.min(4096, 2 ** (level as number) - offset);
              ws.send(this.#packr.pack({ type: 'digests', level, offset, digests: all.subarray(8 * offset, 8 * (offset + n)) }));
              rec.digestMessages++;
            }
          }
          break;
        }
        case 'buckets': {
          const replaced = Buffer.from(msg.replaced as Uint8Array);
          rec.buckets = { level: msg.level as number, replaced };
          // §10 step 7.8: the pending set becomes every held key whose bucket is set.
          const l = msg.level as number;
          const isSet = (i: number) => ((replaced[i >> 3] as number) >> (7 - (i & 7)) & 1) === 1;
          this.pending = new Set([...this.hashes].filter(([, h]) => isSet(l === 0 ? 0 : h.b16 >>> (16 - l))).map(([k]) => k));
          rec.pendingAfterBuckets = this.pending.size;
          break;
        }
        case 'kvs': {
          const ranges = entryRanges(frame);
          (msg.kvs as Array<[string, unknown, string, number]>).forEach(([key, value, , updateType], i) => {
            if (!afterSnapshotEnd) rec.entriesBeforeSnapshotEnd++;
            if (updateType === 3) {
              this.map.delete(key);
              this.hashes.delete(key);
            } else {
              this.map.set(key, value);
              const [s, e] = ranges[i] as [number, number];
              this.hashes.set(key, { b16: bucket16(key), hash: sha256(frame.subarray(s, e)).readBigUInt64BE(0) });
            }
            this.pending?.delete(key); // §10 step 7.3
          });
          // §11.2: a mark moves the position once its frame is applied.
          if (typeof msg.seq === 'number' && this.position !== undefined) this.position = { ...this.position, seq: msg.seq };
          break;
        }
        case 'snapshotEnd':
          rec.snapshotEnd = { seq: msg.seq as number, keys: msg.keys as number };
          afterSnapshotEnd = true;
          // §11.2: set at snapshotEnd, on every path.
          this.position = { serverInstanceId: rec.serverInstanceId as string, seq: msg.seq as number };
          ws.send(this.#packr.pack({ type: 'ack' }));
          break;
        case 'status':
          this.status = msg.status as string;
          if (this.status === 'in-sync' && this.pending !== undefined) {
            for (const key of this.pending) {
              this.map.delete(key);
              this.hashes.delete(key);
            }
            rec.deletedAtInSync += this.pending.size;
            this.pending = undefined;
          }
          break;
        case 'ping':
          ws.send(this.#packr.pack({ type: 'pong', pingTimestamp: msg.timestamp }));
          break;
        default:
          break;
      }
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const capabilities: Record<string, unknown> = {};
    if (offer.probe === true) capabilities.probe = true;
    if (offer.resume === true && this.position !== undefined) capabilities.resume = this.position;
    if (level !== undefined) capabilities.digest = { level };
    ws.send(this.#packr.pack({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'doc-catch-up', capabilities }));
    if (offer.probe === true) await closed;
  }

  /** Closes the connection and waits until it is closed. */
  async close(code = 1000): Promise<void> {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close(code);
    await done;
  }

  get closed(): boolean {
    return this.#ws === undefined || this.#ws.readyState === WebSocket.CLOSED;
  }
}
