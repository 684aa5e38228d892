import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  Codec, KVEncoder, assembleKvsFrame, type ClientMessage, type FrameEntry, type HelloMessage, type WireSyncStatus, type WireUpdateType,
} from '../../../../src/protocol/index.ts';

/**
 * A small stand-in for the Cattail server, built from the protocol module, for client-side
 * behaviour tests (failover, resync, slow hosts, hostile frames). It holds a key → value map
 * and a status, sends each new session a snapshot of it, and broadcasts changes as deltas.
 * It is deliberately simple: no breadcrumbs, no fall-behind; everything is sent at once.
 */
export interface FakeServerOptions {
  readonly instanceId?: string;
  /** Called with each hello; return a close code and reason to refuse the session. */
  readonly onHello?: (hello: HelloMessage, session: FakeSession) => { code: number; reason: string } | undefined;
  /** KVs per snapshot frame. */
  readonly snapshotFrameSize?: number;
  /** Send pings every this many ms after the snapshot (0 = never). */
  readonly pingIntervalMs?: number;
  /** What serverHello.compression says (default nil); frames are still sent as given. */
  readonly compression?: string | null;
  /** Extra options for ws's server (e.g. an https server for TLS tests). */
  readonly server?: import('node:https').Server;
}

export class FakeSession {
  readonly ws: WebSocket;
  hello: HelloMessage | undefined;
  acked = false;
  streaming = false;
  /** Timestamps the client echoed back, with the time each pong arrived. */
  readonly pongs: { pingTimestamp: number; receivedAt: number }[] = [];
  /** When set, nothing more is sent to this client (a black hole). */
  silenced = false;

  constructor(ws: WebSocket) {
    this.ws = ws;
  }

  sendRaw(bytes: Buffer | string): void {
    if (!this.silenced && this.ws.readyState === this.ws.OPEN) this.ws.send(bytes);
  }
}

export class FakeServer {
  readonly state = new Map<string, unknown>();
  status: WireSyncStatus = 'in-sync';
  readonly sessions = new Set<FakeSession>();
  readonly hellos: HelloMessage[] = [];
  readonly #wss: WebSocketServer;
  readonly #codec = new Codec();
  readonly #encoder = new KVEncoder();
  readonly #options: FakeServerOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  #revision = 0;
  readonly url: string;

  private constructor(wss: WebSocketServer, url: string, options: FakeServerOptions) {
    this.#wss = wss;
    this.url = url;
    this.#options = options;
    wss.on('connection', (ws) => this.#onConnection(ws));
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    let wss: WebSocketServer;
    let port: number;
    let scheme = 'ws';
    if (options.server !== undefined) {
      wss = new WebSocketServer({ server: options.server, path: '/sync' });
      options.server.listen(0, '127.0.0.1');
      await once(options.server, 'listening');
      port = (options.server.address() as AddressInfo).port;
      scheme = 'wss';
    } else {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/sync' });
      await once(wss, 'listening');
      port = (wss.address() as AddressInfo).port;
    }
    return new FakeServer(wss, `${scheme}://127.0.0.1:${port}/sync`, options);
  }

  get instanceId(): string {
    return this.#options.instanceId ?? 'fake';
  }

  /** Sets a key (and tells streaming sessions). */
  set(key: string, value: unknown): void {
    const type: WireUpdateType = this.state.has(key) ? 'updated' : 'new';
    this.state.set(key, value);
    this.#broadcast([{ kv: this.#encoder.encode(key, value, String(++this.#revision)), updateType: type }]);
  }

  /** Sets many keys in one delta frame. */
  setMany(entries: readonly (readonly [string, unknown])[]): void {
    const frame: FrameEntry[] = [];
    for (const [key, value] of entries) {
      const type: WireUpdateType = this.state.has(key) ? 'updated' : 'new';
      this.state.set(key, value);
      frame.push({ kv: this.#encoder.encode(key, value, String(++this.#revision)), updateType: type });
    }
    this.#broadcast(frame);
  }

  delete(key: string): void {
    this.state.delete(key);
    this.#broadcast([{ kv: this.#encoder.encode(key, null, String(++this.#revision)), updateType: 'deleted' }]);
  }

  setStatus(status: WireSyncStatus): void {
    this.status = status;
    for (const s of this.sessions) if (s.streaming) s.sendRaw(this.#codec.encode({ type: 'status', status }));
  }

  ping(): void {
    for (const s of this.sessions) if (s.streaming) s.sendRaw(this.#codec.encode({ type: 'ping', timestamp: Date.now() }));
  }

  /** Closes every session with `code` (e.g. 4021 shutting down) but keeps listening. */
  dropAll(code: number, reason: string): void {
    for (const s of this.sessions) s.ws.close(code, reason);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    for (const s of this.sessions) s.ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    if (this.#options.server !== undefined) {
      this.#options.server.closeAllConnections?.();
      await new Promise<void>((resolve) => this.#options.server?.close(() => resolve()));
    }
  }

  #broadcast(entries: FrameEntry[]): void {
    const frame = assembleKvsFrame(entries);
    for (const s of this.sessions) if (s.streaming) s.sendRaw(frame);
  }

  #onConnection(ws: WebSocket): void {
    const session = new FakeSession(ws);
    this.sessions.add(session);
    ws.on('close', () => this.sessions.delete(session));
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      let msg: ClientMessage;
      try {
        msg = this.#codec.decodeClient(data);
      } catch {
        ws.close(4001, 'bad frame');
        return;
      }
      if (msg.type === 'hello') this.#onHello(session, msg);
      else if (msg.type === 'ack') session.acked = true;
      else if (msg.type === 'pong') session.pongs.push({ pingTimestamp: msg.pingTimestamp, receivedAt: Date.now() });
    });
  }

  #onHello(session: FakeSession, hello: HelloMessage): void {
    session.hello = hello;
    this.hellos.push(hello);
    const refusal = this.#options.onHello?.(hello, session);
    if (refusal !== undefined) {
      session.ws.close(refusal.code, refusal.reason);
      return;
    }
    session.sendRaw(this.#codec.encode({
      type: 'serverHello', protocolVersion: 1, syncerType: hello.syncerType, serverVersion: 'fake',
      serverInstanceId: this.instanceId, connectionId: `c${this.hellos.length}`, compression: this.#options.compression ?? null,
    }));
    const size = this.#options.snapshotFrameSize ?? 500;
    let frame: FrameEntry[] = [];
    let revision = 0;
    for (const [key, value] of [...this.state].sort(([a], [b]) => (a < b ? -1 : 1))) {
      frame.push({ kv: this.#encoder.encode(key, value, String(++revision)), updateType: 'new' });
      if (frame.length >= size) {
        session.sendRaw(assembleKvsFrame(frame));
        frame = [];
      }
    }
    if (frame.length > 0) session.sendRaw(assembleKvsFrame(frame));
    session.sendRaw(this.#codec.encode({ type: 'snapshotEnd', seq: 1, keys: this.state.size }));
    session.streaming = true;
    session.sendRaw(this.#codec.encode({ type: 'status', status: this.status }));
    const interval = this.#options.pingIntervalMs ?? 0;
    if (interval > 0) {
      const timer = setInterval(() => session.sendRaw(this.#codec.encode({ type: 'ping', timestamp: Date.now() })), interval);
      this.#timers.add(timer);
      session.ws.on('close', () => { clearInterval(timer); this.#timers.delete(timer); });
    }
  }
}
