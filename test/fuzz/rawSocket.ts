/**
 * A WebSocket client at the byte level, for fuzzing: it performs the HTTP upgrade by hand, then
 * writes whatever bytes it is told (well-formed masked frames via `frame()`, or garbage), and
 * reports the server's close code and reason (or 1006 when the TCP connection just ended).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Codec, type ServerMessage } from '../../src/protocol/index.ts';
import { afterHttpHead, takeFrame } from '../support/wsFrames.ts';

export interface CloseResult {
  readonly code: number;
  readonly reason: string;
  /** Milliseconds from `markSent()` (or the upgrade) to the close. */
  readonly afterMs: number;
}

export class RawSocket {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<CloseResult>;
  readonly #socket: net.Socket;
  readonly #codec = new Codec();
  #buf: Buffer = Buffer.alloc(0);
  #upgraded = false;
  #sentAt = performance.now();
  #closeCode: number | undefined;
  #closeReason = '';
  #onUpgrade: (() => void) | undefined;
  /** Every binary server payload as received (plain MessagePack, or a zstd frame), before decoding. */
  onPayload: ((payload: Buffer) => void) | undefined;

  private constructor(port: number) {
    this.#socket = net.connect(port, '127.0.0.1');
    this.#socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      this.#socket.on('close', () => resolve({ code: this.#closeCode ?? 1006, reason: this.#closeReason, afterMs: performance.now() - this.#sentAt }));
    });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  /** Connects and upgrades on `/sync`; resolves once the 101 arrived. */
  static async open(port: number, timeoutMs = 5000): Promise<RawSocket> {
    const s = new RawSocket(port);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('upgrade timed out')), timeoutMs);
      s.#onUpgrade = () => {
        clearTimeout(t);
        resolve();
      };
      s.#socket.once('connect', () => s.#socket.write(
        `GET /sync HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
      void s.closed.then(() => reject(new Error('closed before the upgrade')));
    });
    s.#sentAt = performance.now();
    return s;
  }

  /** Starts the clock for `closed.afterMs`. */
  markSent(): void {
    this.#sentAt = performance.now();
  }

  write(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  /** Encodes `value` as MessagePack and sends it in one binary frame. */
  sendValue(value: unknown): void {
    this.write(frame(2, this.#codec.encodeValue(value)));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (!this.#upgraded) {
      const rest = afterHttpHead(this.#buf);
      if (rest === undefined) return;
      this.#upgraded = true;
      this.#buf = rest;
      this.#onUpgrade?.();
    }
    for (;;) {
      const next = takeFrame(this.#buf);
      if (next === undefined) return;
      const { opcode, payload } = next.frame;
      this.#buf = next.rest;
      if (opcode === 0x8) {
        this.#closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.#closeReason = payload.subarray(2).toString('utf8');
        this.#socket.end();
      } else if (opcode === 0x2) {
        this.onPayload?.(payload);
        try {
          const msg = this.#codec.decodeServer(payload);
          if (msg.type !== 'unknown') this.messages.push(msg);
        } catch {
          // Not our concern here.
        }
      }
    }
  }
}

/** One masked client frame (RFC 6455 §5.2). `fin: false` starts a fragmented message. */
export function frame(opcode: number, payload: Buffer, options: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const l = Buffer.alloc(8);
    l.writeBigUInt64BE(BigInt(len));
    head.push(...l);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}
