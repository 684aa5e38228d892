/**
 * etcd watch fan-out as a peer: `etcd` from Debian's etcd-server, a single member on 127.0.0.1
 * with its data on /dev/shm, driven through the v3 HTTP/JSON gateway (`/v3/kv/put`, `/v3/watch`).
 */
import http from 'node:http';
import type { PeerSpec } from './peerProcess.ts';
import { b64 } from './etcdWatcher.ts';

export const ETCD: PeerSpec = {
  name: 'etcd',
  binary: '/usr/bin/etcd',
  aptPackage: 'etcd-server',
  args: (dataDir, port, peerPort) => [
    '--name', 'bench', '--data-dir', dataDir,
    '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `bench=http://127.0.0.1:${peerPort}`, '--log-level', 'error', '--quota-backend-bytes', String(4 * 1024 ** 3),
  ],
  ready: async (port) => {
    const client = new EtcdClient(port);
    try {
      return (await client.post('/v3/kv/range', { key: b64('ready') })).status === 200;
    } finally {
      client.close();
    }
  },
};

/** A keep-alive JSON client of the gateway; `close()` releases its sockets. */
export class EtcdClient {
  readonly #port: number;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  constructor(port: number) {
    this.#port = port;
  }

  post(path: string, body: unknown): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.#port, path, method: 'POST', agent: this.#agent, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  /**
   * Puts every (key, value) with `concurrency` requests in flight, issuing no more after
   * `deadline` (performance.now() ms); resolves with the number acknowledged.
   */
  async putAll(entries: Iterable<readonly [string, Buffer]>, concurrency = 32, deadline = Infinity): Promise<number> {
    const it = entries[Symbol.iterator]();
    let acknowledged = 0;
    const worker = async () => {
      for (let e = it.next(); !e.done && performance.now() < deadline; e = it.next()) {
        const [key, value] = e.value;
        const r = await this.post('/v3/kv/put', { key: b64(key), value: value.toString('base64') });
        if (r.status !== 200) throw new Error(`etcd put answered ${r.status}: ${r.body}`);
        acknowledged++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return acknowledged;
  }

  close(): void {
    this.#agent.destroy();
  }
}
