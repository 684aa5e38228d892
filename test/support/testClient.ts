/**
 * A minimal protocol client for server tests, written from docs/PROTOCOL.md: it keeps a key →
 * value map, acks the snapshot, answers pings, and records everything it saw so tests can
 * assert on order and close codes. (The agent-facing library lives in clients/typescript.)
 */
import WebSocket from 'ws';
import {
  Codec, DEFAULT_MAX_VALUE_BYTES, decompressFrame, isCompressedFrame, largestServerFrameBytes, type ServerMessage, type WireSyncStatus,
} from '../../src/protocol/index.ts';

export interface TestClientOptions {
  readonly syncerType?: string;
  readonly hostname?: string;
  /** Do not answer pings (to test pong timeouts). */
  readonly mute?: boolean;
  /** Do not ack snapshotEnd. */
  readonly noAck?: boolean;
  /** Local address to connect from, e.g. `127.0.0.2`: another source to the server (all of 127/8 is loopback). */
  readonly localAddress?: string;
  /** Offered in hello.capabilities.compression (PROTOCOL.md §7.1); compressed frames are decoded. */
  readonly compression?: readonly string[];
}

export class TestClient {
  readonly state = new Map<string, unknown>();
  readonly messages: ServerMessage[] = [];
  status: WireSyncStatus | undefined;
  snapshotDone = false;
  closed: { code: number; reason: string } | undefined;
  /** Frames that arrived compressed, and the bytes of every frame as received. */
  compressedFrames = 0;
  wireBytes = 0;
  readonly ws: WebSocket;
  readonly #codec = new Codec();
  readonly opened: Promise<void>;

  readonly options: TestClientOptions;

  constructor(url: string, options: TestClientOptions = {}) {
    this.options = options;
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}) });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => this.#onMessage(data as Buffer));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  static async connect(url: string, options: TestClientOptions = {}): Promise<TestClient> {
    const c = new TestClient(url, options);
    await c.opened;
    c.hello();
    return c;
  }

  hello(): void {
    this.send({ type: 'hello', protocolVersion: 1, syncerType: this.options.syncerType ?? 'felix', hostname: this.options.hostname ?? 'test-node', clientVersion: 'test', clientInfo: 'integration test', clientConnId: 'x',
      capabilities: this.options.compression === undefined ? {} : { compression: this.options.compression } });
  }

  send(message: object): void {
    this.ws.send(this.#codec.encode(message as never));
  }

  get inSync(): boolean {
    return this.snapshotDone && this.status === 'in-sync';
  }

  close(): void {
    this.ws.close();
  }

  #onMessage(data: Buffer): void {
    this.wireBytes += data.length;
    const compressed = isCompressedFrame(data);
    if (compressed) this.compressedFrames++;
    const msg = this.#codec.decodeServer(compressed ? decompressFrame(data, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES)) : data);
    if (msg.type === 'unknown') return; // ignored, as PROTOCOL.md §7 tells clients
    this.messages.push(msg);
    switch (msg.type) {
      case 'kvs':
        for (const [key, value, , type] of msg.kvs) {
          if (type === 3) this.state.delete(key);
          else this.state.set(key, value);
        }
        break;
      case 'snapshotEnd':
        this.snapshotDone = true;
        if (this.options.noAck !== true) this.send({ type: 'ack' });
        break;
      case 'status':
        this.status = msg.status;
        break;
      case 'ping':
        if (this.options.mute !== true) this.send({ type: 'pong', pingTimestamp: msg.timestamp });
        break;
      default:
        break;
    }
  }
}
