import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Metrics } from '../metrics.ts';
import { IntervalCache } from './opsCache.ts';
import { parsePageRequest, StatusPages, type StatusReport } from './statusPages.ts';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, one line per reason (empty when ready). */
  readonly reasons: readonly string[];
}

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly readiness: () => Readiness;
  readonly status: () => StatusReport;
  /** `/status` and `/metrics` are computed at most once per this many ms (0: per request). */
  readonly cacheMs: number;
  /** `loopback`: `/status` answers only peers on the loopback interface. */
  readonly statusAccess: 'loopback' | 'any';
  /** A connection that sends nothing for this long is closed (default {@link OPS_IDLE_TIMEOUT_MS}). */
  readonly idleTimeoutMs?: number;
}

/**
 * Node closes a connection whose request headers take over 60 s, but not one that sends nothing
 * at all: 2,000 such sockets from one peer were all still open after 167 s. The ops port is on
 * every node address, so without this any peer could hold file descriptors until probes fail.
 * Probes and scrapes send their request at once; an idle keep-alive socket is simply reopened.
 */
export const OPS_IDLE_TIMEOUT_MS = 30_000;

/**
 * The ops HTTP listener: probes, Prometheus metrics and a JSON status page. Plain HTTP on its
 * own port, because kubelet probes and Prometheus cannot present client certificates. Liveness
 * never depends on the datastore: a pod restarted for an API-server outage would only add load.
 *
 * `/status` and `/metrics` cost work proportional to the sessions and series, so each is
 * computed at most once per `cacheMs` and the bytes are shared by every poller in that interval
 * (see IntervalCache); the probes are answered live because they are constant-time and a stale
 * readiness would keep a replica in the endpoints after it stopped being in sync.
 */
export class OpsServer {
  readonly #app: FastifyInstance;
  readonly #opts: OpsServerOptions;

  constructor(opts: OpsServerOptions) {
    this.#opts = opts;
    const renders = opts.metrics.opsRenders;
    for (const endpoint of ['status', 'metrics']) renders.inc({ endpoint }, 0);
    const metricsText = new IntervalCache(opts.cacheMs, opts.clock, () => opts.registry.metrics(), () => renders.inc({ endpoint: 'metrics' }));
    const statusPages = new IntervalCache(opts.cacheMs, opts.clock, () => new StatusPages(opts.status(), opts.clock.now()), () => renders.inc({ endpoint: 'status' }));

    this.#app = Fastify({ logger: false, connectionTimeout: opts.idleTimeoutMs ?? OPS_IDLE_TIMEOUT_MS });
    this.#app.get('/liveness', async () => ({ live: true }));
    this.#app.get('/readiness', async (_req, reply) => {
      const r = opts.readiness();
      return reply.code(r.ready ? 200 : 503).send(r);
    });
    this.#app.get('/metrics', async (_req, reply) => {
      const body = await metricsText.get();
      return reply.header('content-type', opts.registry.contentType).send(body);
    });
    this.#app.get('/status', async (req, reply) => {
      if (opts.statusAccess === 'loopback' && !isLoopbackAddress(req.socket.remoteAddress)) {
        return reply.code(403).send({ error: '/status lists client hostnames and answers only loopback peers; use kubectl exec or port-forward, or set --status-access any' });
      }
      const page = parsePageRequest(req.query as Record<string, unknown>);
      if ('error' in page) return reply.code(400).send({ error: page.error });
      return reply.header('content-type', 'application/json; charset=utf-8').send(statusPages.get().page(page));
    });
  }

  async start(): Promise<AddressInfo> {
    await this.#app.listen({ host: this.#opts.host, port: this.#opts.port });
    return this.#app.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await this.#app.close();
  }
}

/** 127.0.0.0/8, ::1, and IPv4 loopback as a dual-stack socket reports it (::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
