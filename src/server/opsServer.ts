import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, one line per reason (empty when ready). */
  readonly reasons: readonly string[];
}

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: () => Readiness;
  readonly status: () => unknown;
}

/**
 * The ops HTTP listener: probes, Prometheus metrics and a JSON status page. Plain HTTP on its
 * own port, because kubelet probes and Prometheus cannot present client certificates. Liveness
 * never depends on the datastore: a pod restarted for an API-server outage would only add load.
 */
export class OpsServer {
  readonly #app: FastifyInstance;
  readonly #opts: OpsServerOptions;

  constructor(opts: OpsServerOptions) {
    this.#opts = opts;
    this.#app = Fastify({ logger: false });
    this.#app.get('/liveness', async () => ({ live: true }));
    this.#app.get('/readiness', async (_req, reply) => {
      const r = opts.readiness();
      return reply.code(r.ready ? 200 : 503).send(r);
    });
    this.#app.get('/metrics', async (_req, reply) => {
      const body = await opts.registry.metrics();
      return reply.header('content-type', opts.registry.contentType).send(body);
    });
    this.#app.get('/status', async () => opts.status());
  }

  async start(): Promise<AddressInfo> {
    await this.#app.listen({ host: this.#opts.host, port: this.#opts.port });
    return this.#app.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await this.#app.close();
  }
}
