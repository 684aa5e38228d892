/**
 * A TCP proxy on 127.0.0.1 in front of the Kubernetes API emulator that counts the bytes the
 * emulator serves (upstream → client) and the connections made, so every datastore client —
 * Cattail or agents going direct — is measured at the same point.
 */
import net from 'node:net';

export class ByteCountingProxy {
  bytesServed = 0;
  connections = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(upstreamPort: number) {
    this.#server = net.createServer((client) => {
      this.connections++;
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      upstream.on('data', (chunk: Buffer) => {
        this.bytesServed += chunk.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as net.AddressInfo).port)));
  }

  reset(): void {
    this.bytesServed = 0;
    this.connections = 0;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
