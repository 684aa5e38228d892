/**
 * A catch-up-capable protocol client for server tests, written from spec §A (PROTOCOL.md §11),
 * a transport over `ws` around the client rules of test/support/catchUpClient.ts: it keeps,
 * across connections, the map (with each held key's bucket and KV hash computed from the raw
 * frame bytes), its resume position and its pending set, and follows the client rules
 * literally: the position is cleared by a serverHello that does not resume and set at
 * snapshotEnd; a full snapshot makes every held key pending, `buckets` makes the held keys of
 * the replaced buckets pending, a resume keeps the pending set as it was; at in-sync whatever
 * is still pending is deleted. Each connection records what it saw for assertions.
 */
import WebSocket from 'ws';
import {
  clientDigestLevel, Codec, DEFAULT_MAX_VALUE_BYTES, decompressFrame, isCompressedFrame, largestServerFrameBytes, type ServerMessage,
} from '../../src/protocol/index.ts';
import {
  applyKvs, deletePending, type HeldKV, heldDigests, ownDigests, pendingAfterBuckets, pendingAfterServerHello, type Position,
} from '../support/catchUpClient.ts';

export interface ConnectOptions {
  readonly syncerType?: string;
  readonly hostname?: string;
  /** Offer the resume position if there is one (default true). */
  readonly resume?: boolean;
  /** Offer digest catch-up (default true). */
  readonly digest?: boolean;
  readonly probe?: boolean;
  readonly compression?: readonly string[];
  /** Replaces the capabilities entirely (hostile tests). */
  readonly capabilities?: Record<string, unknown>;
  /** Do not send digests on a digest serverHello (the test sends its own). */
  readonly manualDigests?: boolean;
  /** Do not ack snapshotEnd. */
  readonly noAck?: boolean;
}

/** One WebSocket connection of a CatchUpClient. */
export class CatchUpConnection {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  readonly opened: Promise<void>;
  readonly ended: Promise<{ code: number; reason: string }>;
  closed: { code: number; reason: string } | undefined;
  /** Bytes as received from the socket, in total and until snapshotEnd (inclusive). */
  wireBytes = 0;
  bytesUntilSnapshotEnd = 0;
  /** Frames that arrived zstd-compressed. */
  compressedFrames = 0;
  snapshotEnded = false;
  /** KV entries received in kvs frames before snapshotEnd, and after. */
  snapshotEntries = 0;
  deltaEntries = 0;
  status: string | undefined;
  readonly #client: CatchUpClient;
  readonly #options: ConnectOptions;
  #serverInstanceId = '';
  /** The position this connection may move (set at its snapshotEnd). */
  #positioned = false;

  constructor(client: CatchUpClient, url: string, options: ConnectOptions) {
    this.#client = client;
    this.#options = options;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ended = new Promise((resolve) => this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      resolve(this.closed);
    }));
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => this.#onFrame(data as Buffer));
  }

  get serverHello(): Extract<ServerMessage, { type: 'serverHello' }> | undefined {
    return this.messages.find((m) => m.type === 'serverHello') as never;
  }

  get inSync(): boolean {
    return this.snapshotEnded && this.status === 'in-sync';
  }

  send(message: object): void {
    this.ws.send(this.#client.codec.encode(message as never));
  }

  hello(): void {
    const o = this.#options;
    const caps: Record<string, unknown> = o.capabilities !== undefined ? { ...o.capabilities } : {};
    if (o.capabilities === undefined) {
      if (o.compression !== undefined) caps.compression = o.compression;
      if (o.resume !== false && this.#client.position !== undefined) caps.resume = this.#client.position;
      if (o.digest !== false) caps.digest = { level: this.#client.digestLevel() };
      if (o.probe === true) caps.probe = true;
    }
    this.send({
      type: 'hello', protocolVersion: 1, syncerType: o.syncerType ?? 'felix', hostname: o.hostname ?? 'catch-up-node', clientVersion: 'test',
      clientInfo: 'catch-up test', clientConnId: 'c', capabilities: caps,
    });
  }

  /** Sends this client's digests at `level` as the spec says (used automatically unless manualDigests). */
  sendDigests(level: number): void {
    for (const m of ownDigests(this.#client.state, level)) this.send(m);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  #onFrame(data: Buffer): void {
    this.wireBytes += data.length;
    if (!this.snapshotEnded) this.bytesUntilSnapshotEnd += data.length;
    const compressed = isCompressedFrame(data);
    if (compressed) this.compressedFrames++;
    const plain = compressed ? decompressFrame(data, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES)) : data;
    const msg = this.#client.codec.decodeServer(plain);
    if (msg.type === 'unknown') return;
    this.messages.push(msg);
    const c = this.#client;
    switch (msg.type) {
      case 'serverHello': {
        this.#serverInstanceId = msg.serverInstanceId;
        // §A.2: anything but resume clears the position until this connection's snapshotEnd.
        if (msg.catchUp !== 'resume') c.position = undefined;
        c.pending = pendingAfterServerHello(c.state, c.pending, msg.catchUp);
        if (msg.catchUp === 'digest' && this.#options.manualDigests !== true) this.sendDigests(this.#client.digestLevel());
        break;
      }
      case 'buckets':
        c.pending = pendingAfterBuckets(c.state, msg.level, msg.replaced);
        break;
      case 'kvs': {
        applyKvs(c.state, c.pending, plain, msg.kvs);
        if (this.snapshotEnded) this.deltaEntries += msg.kvs.length;
        else this.snapshotEntries += msg.kvs.length;
        if (msg.seq !== undefined && this.#positioned) c.position = { serverInstanceId: this.#serverInstanceId, seq: msg.seq };
        break;
      }
      case 'snapshotEnd':
        this.snapshotEnded = true;
        c.position = { serverInstanceId: this.#serverInstanceId, seq: msg.seq };
        this.#positioned = true;
        if (this.#options.noAck !== true) this.send({ type: 'ack' });
        break;
      case 'status':
        this.status = msg.status;
        if (msg.status === 'in-sync' && c.pending !== undefined) {
          deletePending(c.state, c.pending);
          c.pending = undefined;
        }
        break;
      case 'ping':
        this.send({ type: 'pong', pingTimestamp: msg.timestamp });
        break;
      default:
        break;
    }
  }
}

/** An agent's view that outlives its connections. */
export class CatchUpClient {
  readonly codec = new Codec();
  readonly state = new Map<string, HeldKV>();
  position: Position | undefined;
  pending: Set<string> | undefined;

  digestLevel(): number {
    return clientDigestLevel(this.state.size);
  }

  /** Bucket digests of the held map at `level`, as DigestTable.fold returns them. */
  digests(level: number): Uint32Array {
    return heldDigests(this.state, level);
  }

  /** Opens a connection and sends the hello. */
  async connect(url: string, options: ConnectOptions = {}): Promise<CatchUpConnection> {
    const c = new CatchUpConnection(this, url, options);
    await c.opened;
    c.hello();
    return c;
  }

  /** The held map as key → value, to compare with the server's model. */
  values(): Map<string, unknown> {
    return new Map([...this.state].map(([k, v]) => [k, v.value]));
  }
}
