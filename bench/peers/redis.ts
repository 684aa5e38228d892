/**
 * Redis pub/sub as a fan-out peer: `redis-server` from Debian, no persistence, and no output
 * buffer limit for pub/sub clients (Redis's default 32 MB hard limit would disconnect a lagging
 * subscriber; Cattail never drops a client for lag within its fall-behind bound either).
 */
import net from 'node:net';
import type { PeerSpec } from './peerProcess.ts';
import { encodeCommand, RespReader, type RespValue } from './resp.ts';

export const REDIS: PeerSpec = {
  name: 'redis',
  binary: '/usr/bin/redis-server',
  aptPackage: 'redis-server',
  args: (dataDir, port) => [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dataDir,
    '--client-output-buffer-limit', 'pubsub 0 0 0', '--maxclients', '10000', '--protected-mode', 'no', '--loglevel', 'warning',
  ],
  ready: async (port) => (await RedisPublisher.connect(port).then((p) => p.close(), () => false)) !== false,
};

/** A publishing connection: pipelines PUBLISH commands and waits for their replies. */
export class RedisPublisher {
  readonly #socket: net.Socket;
  #outstanding = 0;
  #drained: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const reader = new RespReader((_v: RespValue) => {
      if (--this.#outstanding === 0) this.#drained?.();
    });
    socket.on('data', (chunk: Buffer) => reader.feed(chunk));
  }

  static connect(port: number): Promise<RedisPublisher> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RedisPublisher(socket)));
      socket.once('error', reject);
    });
  }

  /** Publishes every payload, keeping at most `window` commands unanswered; resolves when all are answered. */
  async publishAll(channel: string, payloads: Iterable<Buffer>, window = 256): Promise<void> {
    for (const p of payloads) {
      if (this.#outstanding >= window) await this.#waitBelow(window / 2);
      this.#outstanding++;
      this.#socket.write(encodeCommand(['PUBLISH', channel, p]));
    }
    await this.#waitBelow(1);
  }

  close(): void {
    this.#socket.destroy();
  }

  async #waitBelow(n: number): Promise<void> {
    while (this.#outstanding >= n) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, 1);
      });
    }
  }
}
