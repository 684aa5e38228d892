/**
 * Parsed `kvs` frames, shared by the agents of one process. Snapshot and delta frames are
 * shared by the server (the same bytes to every session that reads the same breadcrumbs), so
 * the agents of a process mostly receive frames byte-identical to one another's: each distinct
 * frame is parsed and hashed once (kvsMessage.ts, KeyTable) and every agent then applies the
 * parsed entries to its own map. A hit is confirmed by comparing the whole frame with the cached
 * one (a memcmp), so it yields exactly what parsing the frame again would.
 *
 * Why: the run's 300 agents share two cores with the three replicas; without it, the agents'
 * parsing alone (about 5 µs per entry) would take minutes of the CPU the measured servers need.
 */
import type { KeyTable } from './keyTable.ts';
import { scanKvs } from './kvsMessage.ts';

export interface ParsedKvs {
  readonly entries: number;
  readonly ids: Int32Array;
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly deleted: Uint8Array;
  readonly seq: number | undefined;
  /** Entries whose nil value and updateType 3 disagree. */
  readonly inconsistent: number;
}

interface Cached {
  readonly frame: Buffer;
  readonly parsed: ParsedKvs;
}

export class FrameCache {
  readonly #table: KeyTable;
  readonly #maxBytes: number;
  readonly #cache = new Map<string, Cached[]>();
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(table: KeyTable, maxBytes: number) {
    this.#table = table;
    this.#maxBytes = maxBytes;
  }

  parse(frame: Buffer): ParsedKvs {
    const fp = fingerprint(frame);
    const list = this.#cache.get(fp);
    if (list !== undefined) {
      for (const c of list) {
        if (c.frame.equals(frame)) {
          this.hits++;
          // Refresh its place in the eviction order.
          this.#cache.delete(fp);
          this.#cache.set(fp, list);
          return c.parsed;
        }
      }
    }
    this.misses++;
    const parsed = this.#parse(frame);
    const entry = { frame, parsed };
    if (list === undefined) this.#cache.set(fp, [entry]);
    else list.push(entry);
    this.#bytes += frame.length;
    this.#evict();
    return parsed;
  }

  #parse(frame: Buffer): ParsedKvs {
    const ids: number[] = [];
    const hi: number[] = [];
    const lo: number[] = [];
    const deleted: number[] = [];
    const out = new Uint32Array(2);
    const table = this.#table;
    let inconsistent = 0;
    const scan = scanKvs(frame, (e) => {
      const id = table.idOf(e.key, e.keyUtf8);
      ids.push(id);
      if (e.inconsistent) inconsistent++;
      if (e.deleted) {
        deleted.push(1);
        hi.push(0);
        lo.push(0);
      } else {
        table.kvHash(id, e.keyValueBytes, out);
        deleted.push(0);
        hi.push(out[0] as number);
        lo.push(out[1] as number);
      }
    });
    return {
      entries: scan.entries, ids: Int32Array.from(ids), hi: Uint32Array.from(hi), lo: Uint32Array.from(lo), deleted: Uint8Array.from(deleted),
      seq: scan.seq, inconsistent,
    };
  }

  #evict(): void {
    for (const [fp, list] of this.#cache) {
      if (this.#bytes <= this.#maxBytes) return;
      this.#cache.delete(fp);
      for (const c of list) this.#bytes -= c.frame.length;
    }
  }
}

/** Length and a few sampled words: cheap, and only narrows the candidates the memcmp confirms. */
function fingerprint(frame: Buffer): string {
  const n = frame.length;
  if (n < 64) return frame.toString('base64');
  const w = (at: number) => frame.readUInt32LE(Math.min(n - 4, Math.max(0, at)));
  return `${n}:${w(n >> 2)}:${w(n >> 1)}:${w((3 * n) >> 2)}:${w(n - 4)}:${w(n - 12)}:${w(24)}`;
}
