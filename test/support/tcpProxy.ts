/**
 * A TCP proxy on 127.0.0.1 that a test can cut: `block()` destroys every connection through it
 * and refuses new ones (accepted, then closed at once, as a firewall reset would), `open()`
 * lets connections through again. Stands between Cattail and a real server (etcd) so the test
 * decides when Cattail can see it while the server itself keeps running.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #blocked = false;
  connections = 0;

  constructor(upstreamPort: number) {
    this.#server = net.createServer((client) => {
      if (this.#blocked) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = (): void => {
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

  block(): void {
    this.#blocked = true;
    for (const s of this.#sockets) s.destroy();
  }

  open(): void {
    this.#blocked = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
