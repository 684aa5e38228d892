/**
 * One Redis pub/sub subscriber over a raw socket: SUBSCRIBE to a channel, then count `message`
 * pushes (payloads are not decoded, as a Cattail counting client does not decode values).
 */
import net from 'node:net';
import { encodeCommand, RespReader, type RespValue } from './resp.ts';

export class RedisSubscriber {
  messages = 0;
  bytes = 0;
  readonly #socket: net.Socket;
  readonly #onMessage: (sub: RedisSubscriber) => void;

  private constructor(socket: net.Socket, onMessage: (sub: RedisSubscriber) => void) {
    this.#socket = socket;
    this.#onMessage = onMessage;
  }

  static connect(port: number, channel: string, onMessage: (sub: RedisSubscriber) => void): Promise<RedisSubscriber> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const sub = new RedisSubscriber(socket, onMessage);
      let subscribed = false;
      const reader = new RespReader((v: RespValue) => {
        if (!Array.isArray(v)) return;
        const kind = v[0] instanceof Buffer ? v[0].toString() : String(v[0]);
        if (kind === 'subscribe' && !subscribed) {
          subscribed = true;
          resolve(sub);
        } else if (kind === 'message') {
          sub.messages++;
          sub.#onMessage(sub);
        }
      });
      socket.on('data', (chunk: Buffer) => {
        sub.bytes += chunk.length;
        reader.feed(chunk);
      });
      socket.once('error', reject);
      socket.write(encodeCommand(['SUBSCRIBE', channel]));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
