import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  Codec, KVEncoder, assembleKvsFrame, type ClientMessage, type EncodedKV, type HelloMessage, type ServerHelloMessage,
  type ServerMessage, type WireUpdateType,
} from '../../../../src/protocol/index.ts';

/** Bound on any wait for the client: generous, the machine is shared. */
const WAIT_MS = 20_000;

/**
 * A server whose every connection is driven step by step by the test (catch-up tests need to
 * say exactly what arrives when: a serverHello choosing resume, a cut mid-snapshot, a buckets
 * bitmap). `next()` resolves with the next connection the client opens.
 */
export class ScriptedServer {
  readonly #wss: WebSocketServer;
  readonly url: string;
  readonly sessions: ScriptedSession[] = [];
  #waiters: ((s: ScriptedSession) => void)[] = [];
  #unclaimed: ScriptedSession[] = [];

  private constructor(wss: WebSocketServer, url: string) {
    this.#wss = wss;
    this.url = url;
    wss.on('connection', (ws) => {
      const session = new ScriptedSession(ws);
      this.sessions.push(session);
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(session);
      else this.#unclaimed.push(session);
    });
  }

  static async start(): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/sync', perMessageDeflate: false });
    await once(wss, 'listening');
    return new ScriptedServer(wss, `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/sync`);
  }

  /** The next connection (already open or still to come). */
  next(): Promise<ScriptedSession> {
    const ready = this.#unclaimed.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection from the client')), WAIT_MS);
      this.#waiters.push((s) => { clearTimeout(timer); resolve(s); });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

export class ScriptedSession {
  readonly ws: WebSocket;
  readonly received: ClientMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #codec = new Codec();
  readonly #encoder = new KVEncoder();
  #queue: ClientMessage[] = [];
  #wake: (() => void) | undefined;
  #revision = 0;
  bytesSent = 0;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const msg = this.#codec.decodeClient(data);
      this.received.push(msg);
      this.#queue.push(msg);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => { this.#wake?.(); resolve({ code, reason: reason.toString() }); }));
  }

  /** The next client message, which must be of `type`. */
  async recv<T extends ClientMessage['type']>(type: T): Promise<Extract<ClientMessage, { type: T }>> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const msg = this.#queue.shift();
      if (msg !== undefined) {
        if (msg.type !== type) throw new Error(`expected ${type} from the client, got ${msg.type}`);
        return msg as Extract<ClientMessage, { type: T }>;
      }
      if (this.ws.readyState !== this.ws.OPEN) throw new Error(`connection closed while waiting for ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} from the client`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#wake = () => { clearTimeout(t); resolve(); };
      });
      this.#wake = undefined;
    }
  }

  send(msg: ServerMessage): void {
    this.sendRaw(this.#codec.encode(msg));
  }

  sendRaw(bytes: Buffer): void {
    this.bytesSent += bytes.length;
    this.ws.send(bytes);
  }

  /** Awaits the hello and answers it; `extra` sets the serverHello's catch-up fields. */
  async handshake(instanceId: string, extra: Partial<ServerHelloMessage> = {}): Promise<HelloMessage> {
    const hello = await this.recv('hello');
    this.send({
      type: 'serverHello', protocolVersion: 1, syncerType: hello.syncerType, serverVersion: 'scripted',
      serverInstanceId: instanceId, connectionId: `c${Math.random()}`, compression: null, status: 'in-sync', ...extra,
    });
    return hello;
  }

  /** Encodes entries as the server does (KVEncoder); `null` values are deletions. */
  encode(entries: readonly (readonly [string, unknown])[]): EncodedKV[] {
    return entries.map(([k, v]) => this.#encoder.encode(k, v, String(++this.#revision)));
  }

  /** One `kvs` frame, optionally with a position mark (`seq`, written after the array as the server does). */
  sendKvs(entries: readonly (readonly [string, unknown])[], options: { seq?: number; type?: WireUpdateType } = {}): void {
    this.sendRaw(assembleKvsFrame(this.encode(entries).map((kv) => ({ kv, updateType: kv.isDeletion ? 'deleted' : options.type ?? 'new' })), options.seq));
  }

  /** snapshotEnd, then the client's ack. */
  async snapshotEnd(seq: number, keys: number): Promise<void> {
    this.send({ type: 'snapshotEnd', seq, keys });
    await this.recv('ack');
  }

  cut(): void {
    this.ws.terminate();
  }
}

