import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../clock.ts';
import { apiErrorFromStatus, KubeBadResponseError, KubeConfigError, RequestTimeoutError } from './errors.ts';

/** Query parameters; `undefined` values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  clock?: Clock;
  /** Upper bound for a non-streaming request (one list page, one GET). Default 60 s. */
  requestTimeoutMs?: number;
  /** Sent as User-Agent so API server audit logs name us. */
  userAgent?: string;
}

/** Error bodies are Status objects of a few hundred bytes; never buffer more than this. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * HTTP access to the API server with the KubeConfig's credentials: one keep-alive connection
 * pool for every list page, GET and watch of the process.
 *
 * Implementation / why not the library's `Watch` or generated clients: 2.0.1's `Watch` runs on
 * fetch with its own 30 s inactivity abort (which would fight our bookmark-aware watchdog) and
 * swallows exceptions thrown by the event callback; the generated clients deserialize list
 * items into model classes, so listed and watched objects would have different shapes. Plain
 * `node:http(s)` gives us raw JSON, our own timeouts and one `Agent` with keep-alive (the
 * library's agent has keep-alive off, so every list page would pay a TLS handshake). We still
 * let the library do everything auth-related: `applyToHTTPSOptions` runs per request, so
 * rotating service-account tokens and exec/OIDC plugins keep working.
 */
export class KubeClient {
  private readonly kc: KubeConfig;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;
  private readonly base: URL;
  private agent: http.Agent | undefined;
  private closed = false;

  constructor(options: KubeClientOptions) {
    this.kc = options.kubeConfig;
    this.clock = options.clock ?? systemClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.userAgent = options.userAgent ?? 'cattail';
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeConfigError('kubeconfig has no current cluster');
    this.base = new URL(cluster.server);
  }

  /** The API server URL requests go to, for logs. */
  get server(): string {
    return this.base.origin;
  }

  /** GETs `path` (e.g. `/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices`) as JSON. */
  async getJson<T = unknown>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
    const timeout = new AbortController();
    const timer = this.clock.setTimeout(() => timeout.abort(new RequestTimeoutError(path, this.requestTimeoutMs)), this.requestTimeoutMs);
    timer.unref?.();
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      const body = await this.open(path, query, combined, true);
      const text = await readAll(body, Number.POSITIVE_INFINITY);
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new KubeBadResponseError(`${path}: response is not JSON`, { cause: err });
      }
    } catch (err) {
      // Report our own timeout as itself rather than as a generic AbortError.
      if (timeout.signal.aborted && !signal?.aborted) throw timeout.signal.reason as Error;
      throw err;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /**
   * Sends a GET and resolves with the (decompressed) body stream once a 2xx status arrived;
   * a non-2xx status rejects with a KubeApiError built from the Status body. The caller owns the
   * stream: read it to the end or abort `signal`.
   */
  async open(path: string, query: Query, signal: AbortSignal, compressed = false): Promise<Readable> {
    if (this.closed) throw new Error('KubeClient is closed');
    signal.throwIfAborted();
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    signal.throwIfAborted();
    const agent = this.agentFor(opts);

    const url = new URL(joinPath(this.base.pathname, path), this.base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: http.OutgoingHttpHeaders = {
      ...(opts.headers as http.OutgoingHttpHeaders | undefined),
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    // Large lists compress well (API server JSON is ~10:1); watches are left plain so every
    // event is readable the moment it is flushed.
    if (compressed) headers['accept-encoding'] = 'gzip';

    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Readable>((resolve, reject) => {
      const req = transport.request(url, { method: 'GET', headers, agent, auth: opts.auth, signal }, (res) => {
        const status = res.statusCode ?? 0;
        // The request's own signal handling stops once the request is sent; keep aborting
        // effective for the whole life of the response body (a watch lasts minutes).
        const onAbort = (): void => {
          res.destroy(Object.assign(new Error('request aborted', { cause: signal.reason }), { name: 'AbortError' }));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        res.once('close', () => signal.removeEventListener('abort', onAbort));
        const body = decoded(res);
        if (status >= 200 && status < 300) {
          resolve(body);
          return;
        }
        readAll(body, MAX_ERROR_BODY_BYTES).then(
          (text) => reject(apiErrorFromStatus(status, path, safeParse(text))),
          (err: unknown) => reject(err),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Releases pooled connections. In-flight requests are ended by their own signals. */
  close(): void {
    this.closed = true;
    this.agent?.destroy();
  }

  /**
   * One agent for the life of the client, built from the TLS material of the first request.
   * (A client certificate rotated on disk is therefore picked up on restart; bearer tokens are
   * per request and rotate live.) Proxied clusters keep the library's proxy agent, which it
   * caches per cluster and user, so that is one pool too.
   */
  private agentFor(opts: https.RequestOptions): http.Agent {
    const cluster = this.kc.getCurrentCluster();
    if (cluster?.proxyUrl && opts.agent) return opts.agent as http.Agent;
    if (this.agent) return this.agent;
    // keepAliveMsecs mirrors client-go's 30 s TCP keep-alive so dead peers are noticed.
    const common = { keepAlive: true, keepAliveMsecs: 30_000 };
    this.agent = this.base.protocol === 'https:'
      ? new https.Agent({
          ...common,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          pfx: opts.pfx,
          passphrase: opts.passphrase,
          servername: opts.servername,
          ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        })
      : new http.Agent(common);
    return this.agent;
  }
}

function joinPath(prefix: string, path: string): string {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return `${p}${path.startsWith('/') ? path : `/${path}`}`;
}

function decoded(res: http.IncomingMessage): Readable {
  if (res.headers['content-encoding'] !== 'gzip') return res;
  // pipeline forwards an error or abort of the response into the gunzip stream.
  return pipeline(res, createGunzip(), () => {});
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

async function readAll(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      break;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
