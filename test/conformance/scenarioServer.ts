/**
 * Plays a conformance scenario over real WebSockets on 127.0.0.1: each connection the client
 * opens runs the next connection script of the scenario, step by step. What the client sends
 * is checked as it arrives; a step that cannot complete is recorded as a failure, never
 * skipped.
 */
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { Packr } from 'msgpackr';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Scenario, Step } from './scenario.ts';

const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Bound on any one wait for the client (a hello, a pong, its close): generous for a busy machine. */
const CLIENT_WAIT_MS = 60_000;

export class ScenarioServer {
  readonly #scenario: Scenario;
  readonly #http: http.Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<WebSocket>();
  connections = 0;
  /** Scripts that ran to their end. */
  scriptsDone = 0;
  readonly failures: string[] = [];

  constructor(scenario: Scenario) {
    this.#scenario = scenario;
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
    this.#http = http.createServer((_req, res) => { res.writeHead(426).end('open a WebSocket on /sync\n'); });
    this.#http.on('upgrade', (req, socket, head) => {
      const index = this.connections++;
      const script = this.#scenario.connections[index];
      if (script?.httpRefusal !== undefined) {
        const [status, body] = script.httpRefusal;
        socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        this.scriptsDone++;
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.#sockets.add(ws);
        ws.on('close', () => this.#sockets.delete(ws));
        if (script === undefined) return; // more connections than scripted: no answer, counted
        void this.#play(ws, index, script.instanceId, script.steps);
      });
    });
    this.#http.listen(0, '127.0.0.1');
  }

  async listening(): Promise<string> {
    if (!this.#http.listening) await new Promise((r) => this.#http.once('listening', r));
    return `ws://127.0.0.1:${(this.#http.address() as AddressInfo).port}/sync`;
  }

  get allScriptsDone(): boolean {
    return this.scriptsDone === this.#scenario.connections.length;
  }

  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    await new Promise((r) => this.#wss.close(r));
    this.#http.closeAllConnections();
    await new Promise((r) => this.#http.close(r));
  }

  async #play(ws: WebSocket, index: number, instanceId: string, steps: readonly Step[]): Promise<void> {
    const inbox: { data: RawData; binary: boolean }[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    ws.on('message', (data, binary) => { inbox.push({ data, binary }); wake?.(); });
    ws.on('close', () => { closed = true; wake?.(); });
    const waitFor = async (what: string, ready: () => boolean): Promise<void> => {
      const deadline = Date.now() + CLIENT_WAIT_MS;
      while (!ready()) {
        if (closed || Date.now() > deadline) throw new Error(`${closed ? 'connection closed' : 'timed out'} waiting for ${what}`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
      }
    };
    let syncerType = 'felix';
    let lastPing: number | undefined;
    try {
      for (const [n, step] of steps.entries()) {
        const where = `connection ${index + 1} step ${n + 1}`;
        if ('recv' in step) {
          await waitFor(step.recv, () => inbox.length > 0);
          const { data, binary } = inbox.shift()!;
          if (!binary) throw new Error(`${where}: the client sent a text frame`);
          const msg = packr.unpack(data as Buffer) as Record<string, unknown>;
          if (msg?.type !== step.recv) throw new Error(`${where}: expected ${step.recv}, got ${JSON.stringify(msg)}`);
          if (step.recv === 'hello') syncerType = String(msg.syncerType);
          if (step.recv === 'pong' && msg.pingTimestamp !== lastPing) throw new Error(`${where}: pong carries ${String(msg.pingTimestamp)}, the ping ${String(lastPing)}`);
        } else if ('serverHello' in step) {
          this.#send(ws, { type: 'serverHello', protocolVersion: 1, syncerType, serverVersion: 'conformance', serverInstanceId: instanceId, connectionId: `c${index + 1}`, compression: null, ...step.serverHello });
        } else if ('kvs' in step) {
          this.#send(ws, { type: 'kvs', kvs: step.kvs });
        } else if ('hugeSnapshot' in step) {
          const { keys, valueBytes, prefix } = step.hugeSnapshot;
          const value = 'v'.repeat(valueBytes);
          for (let i = 0; i < keys; i += 1000) {
            const kvs = [];
            for (let j = i; j < Math.min(keys, i + 1000); j++) kvs.push([`${prefix}${String(j).padStart(8, '0')}`, value, '1', 1]);
            this.#send(ws, { type: 'kvs', kvs });
          }
        } else if ('snapshotEnd' in step) {
          this.#send(ws, { type: 'snapshotEnd', ...step.snapshotEnd });
        } else if ('status' in step) {
          this.#send(ws, { type: 'status', status: step.status });
        } else if ('ping' in step) {
          lastPing = step.ping;
          this.#send(ws, { type: 'ping', timestamp: step.ping });
        } else if ('send' in step) {
          if (step.send.type === 'ping') lastPing = step.send.timestamp as number;
          this.#send(ws, step.send);
        } else if ('sendHex' in step) {
          ws.send(Buffer.from(step.sendHex, 'hex'), { binary: true });
        } else if ('sendText' in step) {
          ws.send(step.sendText, { binary: false });
        } else if ('sendFrameBytes' in step) {
          const bare = packr.pack({ type: 'kvs', kvs: [['/big', '', '1', 1]] }).length;
          // A str32 header (5 bytes) replaces the 1-byte empty-string one.
          const frame = packr.pack({ type: 'kvs', kvs: [['/big', 'x'.repeat(step.sendFrameBytes - bare - 4), '1', 1]] });
          if (frame.length !== step.sendFrameBytes) throw new Error(`${where}: built a ${frame.length}-byte frame, not ${step.sendFrameBytes}`);
          ws.send(frame, { binary: true });
        } else if ('pauseMs' in step) {
          await new Promise((r) => setTimeout(r, step.pauseMs));
        } else if ('close' in step) {
          ws.close(step.close[0], step.close[1]);
        } else if ('awaitClientClose' in step) {
          await waitFor('the client to close', () => closed);
        }
      }
      this.scriptsDone++;
      const every = this.#scenario.server?.keepAlivePingMs;
      if (every !== undefined && !closed) {
        const timer = setInterval(() => this.#send(ws, { type: 'ping', timestamp: Date.now() }), every);
        ws.on('close', () => clearInterval(timer));
      }
    } catch (err) {
      this.failures.push(`connection ${index + 1}: ${(err as Error).message}`);
    }
  }

  #send(ws: WebSocket, msg: unknown): void {
    ws.send(packr.pack(msg), { binary: true });
  }
}
