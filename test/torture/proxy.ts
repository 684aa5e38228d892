/**
 * A TCP proxy in front of the sync server, one per torture client, so the test can do to a
 * client's network what real networks do: cut its connection, refuse new ones for a while
 * (partition), stop reading (a slow reader the server sees as backpressure), and follow the
 * server to a new port after a restart. It also taps the server → client WebSocket stream and
 * hands every decoded frame to `onServerMessage`, in wire order, for ordering checks (and the
 * server's close frames to `onServerClose`).
 */
import net from 'node:net';
import { Codec, decompressFrame, isCompressedFrame, type ServerMessage } from '../../src/protocol/index.ts';
import { afterHttpHead, takeFrame } from '../support/wsFrames.ts';

interface Pair {
  readonly client: net.Socket;
  readonly server: net.Socket;
}

/** Generous: the tap only observes; the client under test enforces its own limit. */
const TAP_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class TortureProxy {
  readonly #pairs = new Set<Pair>();
  readonly #listener: net.Server;
  readonly #codec = new Codec();
  #targetPort: number;
  /** Why new connections are refused now (a partition, a killed replica, a switch); none: let through. */
  readonly #blockedFor = new Set<string>();
  #paused = false;
  /** Called for every server → client message of every connection, in order. */
  onServerMessage: (msg: ServerMessage) => void = () => {};
  /** A server frame the tap could not decode: the ordering checks would silently miss it. */
  onUndecodable: (reason: string) => void = () => {};
  /** The server's close frame on any connection (code and reason). */
  onServerClose: (code: number, reason: string) => void = () => {};

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#listener = net.createServer((client) => this.#accept(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#listener.listen(0, '127.0.0.1', resolve));
    return (this.#listener.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#listener.address() as net.AddressInfo).port}/sync`;
  }

  /** New connections go to this port (existing ones are left alone). */
  retarget(port: number): void {
    this.#targetPort = port;
  }

  /** Destroys every proxied connection at once (the client sees 1006). */
  cut(): void {
    for (const p of this.#pairs) {
      p.client.destroy();
      p.server.destroy();
    }
    this.#pairs.clear();
  }

  /**
   * While blocked for any reason, new connections are accepted and immediately destroyed. Each
   * reason is set and cleared on its own, so a partition ending does not reopen a killed replica.
   */
  block(on: boolean, reason = 'partition'): void {
    if (on) this.#blockedFor.add(reason);
    else this.#blockedFor.delete(reason);
  }

  /** Connections open through this proxy now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** While paused, neither direction is read, so both peers' send buffers fill. */
  pause(on: boolean): void {
    this.#paused = on;
    for (const p of this.#pairs) {
      if (on) {
        p.client.pause();
        p.server.pause();
      } else {
        p.client.resume();
        p.server.resume();
      }
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    if (this.#blockedFor.size > 0) {
      client.destroy();
      return;
    }
    const server = net.connect(this.#targetPort, '127.0.0.1');
    const pair: Pair = { client, server };
    this.#pairs.add(pair);
    const end = (): void => {
      client.destroy();
      server.destroy();
      this.#pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    forward(client, server, () => this.#paused);
    const tap = new FrameTap((payload) => {
      let msg: ServerMessage;
      try {
        // Negotiated zstd frames are decompressed as a client would (PROTOCOL.md §7.1).
        const decoded = this.#codec.decodeServer(isCompressedFrame(payload) ? decompressFrame(payload, TAP_MAX_FRAME_BYTES) : payload);
        if (decoded.type === 'unknown') throw new Error(`unknown message type ${JSON.stringify(decoded.name)}`);
        msg = decoded;
      } catch (err) {
        this.onUndecodable((err as Error).message);
        return;
      }
      this.onServerMessage(msg);
    }, (code, reason) => this.onServerClose(code, reason));
    forward(server, client, () => this.#paused, (chunk) => tap.push(chunk));
    if (this.#paused) {
      client.pause();
      server.pause();
    }
  }
}

function forward(from: net.Socket, to: net.Socket, paused: () => boolean, tap?: (chunk: Buffer) => void): void {
  from.on('data', (chunk: Buffer) => {
    tap?.(chunk);
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => {
    if (!paused()) from.resume();
  });
}

/**
 * Parses the server → client direction: the HTTP 101 response, then unmasked WebSocket frames.
 * Binary data frames (fragmented or not) become payloads; control frames are skipped.
 */
class FrameTap {
  #buf: Buffer = Buffer.alloc(0);
  #headerDone = false;
  #fragments: Buffer[] = [];
  readonly #onPayload: (payload: Buffer) => void;
  readonly #onClose: (code: number, reason: string) => void;

  constructor(onPayload: (payload: Buffer) => void, onClose: (code: number, reason: string) => void) {
    this.#onPayload = onPayload;
    this.#onClose = onClose;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (!this.#headerDone) {
      const rest = afterHttpHead(this.#buf);
      if (rest === undefined) return;
      this.#headerDone = true;
      this.#buf = rest;
    }
    for (;;) {
      const next = takeFrame(this.#buf);
      if (next === undefined) return;
      const { fin, opcode, payload } = next.frame;
      this.#buf = next.rest;
      if (opcode === 0x8) this.#onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005, payload.subarray(2).toString('utf8'));
      if (opcode >= 0x8) continue;
      this.#fragments.push(payload);
      if (fin) {
        const whole = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments);
        this.#fragments = [];
        if (opcode === 0x2 || opcode === 0x0) this.#onPayload(whole);
      }
    }
  }
}
