/**
 * A client written from the sentences of docs/PROTOCOL.md §2, §3 and §10 alone, for the tests
 * that hold the document to the server: it imports neither our client library nor the server's
 * protocol module, only a WebSocket and a MessagePack library, as a client in another language
 * would. Each rule it applies is marked with the step of §10 it comes from.
 */
import { Packr } from 'msgpackr';
import WebSocket from 'ws';

type Msg = Record<string, unknown> & { type: string };

export interface DocClientRecord {
  /** `snapshotEnd` of each connection, with the pending set's size right after it. */
  readonly snapshotEnds: Array<{ seq: number; keys: number; pendingAfter: number | undefined }>;
  /** Keys removed from the pending set by a delta (after `snapshotEnd`), over all connections. */
  removedByDeltas: number;
  /** Keys deleted at `in-sync` by step 7.4. */
  deletedAtInSync: number;
  readonly statuses: string[];
}

export class DocClient {
  /** §10 step 3: a key → value map. */
  readonly map = new Map<string, unknown>();
  /** §10 step 7: the keys held that the current server has not yet mentioned. 7.1: none at first. */
  pending: Set<string> | undefined;
  /** §10 step 4: assume `wait-for-datastore` at the start of every connection. */
  status = 'wait-for-datastore';
  readonly record: DocClientRecord = { snapshotEnds: [], removedByDeltas: 0, deletedAtInSync: 0, statuses: [] };
  connected = false;
  closeCode: number | undefined;
  readonly #packr = new Packr({ useRecords: false, mapsAsObjects: true });
  readonly #syncerType: string;
  #ws: WebSocket | undefined;

  constructor(syncerType = 'felix') {
    this.#syncerType = syncerType;
  }

  get inSync(): boolean {
    return this.connected && this.status === 'in-sync';
  }

  /** §10 step 1. Resolves once the WebSocket is open and `hello` is sent. */
  async connect(url: string): Promise<void> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    this.#ws = ws;
    let gotServerHello = false;
    let afterSnapshotEnd = false;
    ws.on('message', (data) => {
      const msg = this.#packr.unpack(data as Buffer) as Msg;
      switch (msg.type) {
        case 'serverHello':
          // §10 step 2.
          if (msg.syncerType !== this.#syncerType) throw new Error(`server answered for ${String(msg.syncerType)}`);
          gotServerHello = true;
          this.connected = true;
          this.status = 'wait-for-datastore';
          break;
        case 'kvs':
          for (const [key, value, , updateType] of msg.kvs as Array<[string, unknown, string, number]>) {
            // §4: 3 → delete the key (if present); 1/2 → set key to value.
            if (updateType === 3) this.map.delete(key);
            else this.map.set(key, value);
            // §10 step 7.3: every kvs entry removes its key from the pending set.
            if (this.pending?.delete(key) === true && afterSnapshotEnd) this.record.removedByDeltas++;
          }
          break;
        case 'snapshotEnd':
          // §10 step 3; step 7.5: snapshotEnd does not touch the pending set.
          this.record.snapshotEnds.push({ seq: msg.seq as number, keys: msg.keys as number, pendingAfter: this.pending?.size });
          afterSnapshotEnd = true;
          ws.send(this.#packr.pack({ type: 'ack' }));
          break;
        case 'status':
          this.status = msg.status as string;
          this.record.statuses.push(this.status);
          // §10 step 7.4: at in-sync, delete every key still pending, then discard the set.
          if (this.status === 'in-sync' && this.pending !== undefined) {
            for (const key of this.pending) this.map.delete(key);
            this.record.deletedAtInSync += this.pending.size;
            this.pending = undefined;
          }
          break;
        case 'ping':
          // §10 step 5.
          ws.send(this.#packr.pack({ type: 'pong', pingTimestamp: msg.timestamp }));
          break;
        default:
          break;
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.connected = false;
      this.closeCode = code;
      // §10 step 7.2 (and 7.6): a connection that had a serverHello ended: pending := every key held.
      if (gotServerHello) this.pending = new Set(this.map.keys());
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(this.#packr.pack({ type: 'hello', protocolVersion: 1, syncerType: this.#syncerType, hostname: 'doc-client' }));
  }

  close(): void {
    this.#ws?.close();
  }
}
