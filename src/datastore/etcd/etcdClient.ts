/**
 * A client of etcd's v3 API through the HTTP/JSON gateway every etcd 3.4 member serves on its
 * client URL (`/v3/kv/range`, `/v3/watch`, ...), over HTTP or HTTPS with client certificates.
 *
 * Why the gateway and not an npm gRPC client: the gateway needs nothing but `node:http`, so
 * Cattail gains no dependency (grpc-js, protobufjs), and every behaviour that matters here (which
 * revision a watch resumes from, what a compaction does, when a dead member is given up) is our
 * code, tested against a real etcd, not a library's policy. The price: the gateway reads a
 * watch request's body to its end before answering, so a client cannot send progress requests
 * on an open watch; the idle watchdog in `prefixWatch.ts` probes the member instead.
 *
 * Several endpoints: requests go to the current endpoint; a request that fails at the network
 * level (refused, reset, timed out) moves the client to the next one, so the next attempt of
 * any loop tries another member. Nothing is retried here: the loops own retries and backoff.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { EtcdError, classifyGatewayError } from './errors.ts';

export interface EtcdClientOptions {
  /** Client URLs, `http://host:port` or `https://host:port`. */
  readonly endpoints: readonly string[];
  /** PEM files: the CA etcd's server certificate chains to, and our client certificate and key. */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /**
   * etcd user and password (etcd's own auth, `etcdctl auth enable`): a token is fetched from
   * `/v3/auth/authenticate` and sent with every request. The gateway ignores a client
   * certificate's CN as the user name, so with the gateway this is the only way to be a user.
   */
  readonly username?: string;
  readonly password?: string;
  /** One unary request (a page of a range, a put) may take this long. */
  readonly requestTimeoutMs: number;
}

export interface EtcdKV {
  readonly key: string;
  readonly value: Buffer;
  readonly modRevision: string;
}

export interface RangeResult {
  readonly kvs: readonly EtcdKV[];
  /** The store revision the range was read at. */
  readonly revision: string;
  readonly more: boolean;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: EtcdKV;
  readonly prevKv?: EtcdKV;
}

export interface WatchHandlers {
  /** etcd confirmed the watch (`created`). */
  onCreated(): void;
  /** One watch response: its events (possibly none: a progress notification) and header revision. */
  onResponse(events: readonly WatchEvent[], revision: string): void;
}

export interface OpenWatch {
  /** Rejects with an {@link EtcdError} when the stream ends, for whatever reason (it never resolves). */
  readonly done: Promise<void>;
  /** Characters received so far on the stream (the idle watchdog compares successive reads). */
  readonly bytesReceived: () => number;
  /** Ends the stream; `done` rejects with `reason`. */
  cancel(reason: EtcdError): void;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The end of the range holding every key that starts with `prefix`. */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      bytes[i] = (bytes[i] as number) + 1;
      return bytes.subarray(0, i + 1).toString('base64');
    }
  }
  // All 0xff: every key from the prefix on ("\0" means "to the end of the keyspace").
  return b64('\0');
}

export class EtcdClient {
  readonly endpoints: readonly URL[];
  readonly #tls: https.AgentOptions;
  readonly #agents: http.Agent[];
  readonly #requestTimeoutMs: number;
  readonly #credentials: { readonly name: string; readonly password: string } | undefined;
  #token: Promise<string> | undefined;
  #current = 0;
  #closed = false;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: at least one endpoint is needed');
    this.endpoints = options.endpoints.map((e) => {
      const url = new URL(e);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`etcd endpoint ${e} must be http:// or https://`);
      return url;
    });
    const tls: https.AgentOptions = {};
    if (options.caFile) tls.ca = readPem(options.caFile, '--etcd-ca-file');
    if (options.certFile) tls.cert = readPem(options.certFile, '--etcd-cert-file');
    if (options.keyFile) tls.key = readPem(options.keyFile, '--etcd-key-file');
    this.#tls = tls;
    this.#agents = this.endpoints.map((u) => (u.protocol === 'https:' ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true })));
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#credentials = options.username ? { name: options.username, password: options.password ?? '' } : undefined;
  }

  /** The endpoint requests currently go to. */
  get endpoint(): string {
    return this.endpoints[this.#current]!.origin;
  }

  /** Moves to the next endpoint (after a failure on the current one). */
  failover(): void {
    this.#current = (this.#current + 1) % this.endpoints.length;
  }

  /** One page of keys under `prefix` from `fromKey` on, at `revision` (latest when omitted). */
  async range(prefix: string, options: { revision?: string; limit?: number; fromKey?: string; countOnly?: boolean; signal?: AbortSignal }): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: b64(options.fromKey ?? prefix), range_end: prefixRangeEnd(prefix) };
    if (options.revision !== undefined) body.revision = options.revision;
    if (options.limit !== undefined) body.limit = String(options.limit);
    if (options.countOnly) body.count_only = true;
    const r = await this.#unary('/v3/kv/range', body, options.signal) as { header?: { revision?: string }; kvs?: unknown[]; more?: boolean };
    const revision = r.header?.revision;
    if (typeof revision !== 'string') throw new EtcdError('bad-response', 'etcd range answer has no header revision');
    return { kvs: (r.kvs ?? []).map(parseKV), revision, more: r.more === true };
  }

  async put(key: string, value: string | Buffer): Promise<string> {
    const r = await this.#unary('/v3/kv/put', { key: b64(key), value: Buffer.from(value).toString('base64') }) as { header?: { revision?: string } };
    return r.header?.revision ?? '';
  }

  async delete(key: string): Promise<string> {
    const r = await this.#unary('/v3/kv/deleterange', { key: b64(key) }) as { header?: { revision?: string } };
    return r.header?.revision ?? '';
  }

  /** Deletes every key under `prefix`. */
  async deletePrefix(prefix: string): Promise<void> {
    await this.#unary('/v3/kv/deleterange', { key: b64(prefix), range_end: prefixRangeEnd(prefix) });
  }

  /** Discards history before `revision` (watches from older revisions then fail as compacted). */
  async compact(revision: string): Promise<void> {
    await this.#unary('/v3/kv/compaction', { revision, physical: true });
  }

  /**
   * Watches every key under `prefix` from `startRevision`, with previous values. The stream
   * asks etcd for progress notifications and to refuse it on a member without a leader
   * (`hasleader`, as etcd's Go client's `WithRequireLeader`), so a partitioned member ends it.
   */
  watch(prefix: string, startRevision: string, handlers: WatchHandlers): OpenWatch {
    const url = this.endpoints[this.#current]!;
    const body = JSON.stringify({
      create_request: { key: b64(prefix), range_end: prefixRangeEnd(prefix), start_revision: startRevision, prev_kv: true, progress_notify: true },
    });
    let received = 0;
    let cancelReason: EtcdError | undefined;
    let req: http.ClientRequest | undefined;
    const done = new Promise<void>((_resolve, reject) => {
      let settled = false;
      const fail = (err: EtcdError): void => {
        if (settled) return;
        settled = true;
        if (err.code === 'unavailable' || err.code === 'timeout') this.#failoverFrom(url);
        this.#forgetExpiredToken(err);
        reject(err);
        req?.destroy();
      };
      const open = (auth: Record<string, string>): void => {
        req = this.#request(url, '/v3/watch', { agent: false, headers: { 'grpc-metadata-hasleader': 'true', ...auth } });
        req.on('error', (err) => fail(cancelReason ?? EtcdError.network(url, err)));
        req.on('response', (res) => {
          if (res.statusCode !== 200) {
            readAll(res).then((text) => fail(classifyGatewayError(res.statusCode ?? 0, text)), (err: Error) => fail(EtcdError.network(url, err)));
            return;
          }
          let rest = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            received += chunk.length;
            rest += chunk;
            for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
              const line = rest.slice(0, nl).trim();
              rest = rest.slice(nl + 1);
              if (line === '') continue;
              try {
                handleWatchLine(line, handlers);
              } catch (err) {
                fail(err instanceof EtcdError ? err : new EtcdError('bad-response', `etcd watch: ${(err as Error).message}`));
                return;
              }
            }
          });
          // etcd ends a watch only when its member shuts down or loses its leader (the stream
          // requires one): a failure of this member, so the next attempt goes to the next one.
          res.on('end', () => fail(cancelReason ?? new EtcdError('unavailable', `etcd ${url.origin} ended the watch stream (member stopping or without a leader)`)));
          res.on('error', (err) => fail(cancelReason ?? EtcdError.network(url, err)));
          res.on('aborted', () => fail(cancelReason ?? new EtcdError('unavailable', `etcd ${url.origin} ended the watch stream`)));
        });
        req.end(body);
      };
      // The token (when etcd auth is on) first; a cancel meanwhile wins.
      void this.#authHeaders().then((auth) => {
        if (cancelReason) {
          fail(cancelReason);
          return;
        }
        open(auth);
      }, (err: unknown) => fail(err instanceof EtcdError ? err : EtcdError.network(url, err as Error)));
    });
    return {
      done,
      bytesReceived: () => received,
      cancel: (reason) => {
        cancelReason ??= reason;
        req?.destroy(reason);
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const a of this.#agents) a.destroy();
  }

  #failoverFrom(url: URL): void {
    if (this.endpoints[this.#current] === url) this.failover();
  }

  #request(url: URL, path: string, extra: { agent: http.Agent | false; headers?: Record<string, string> }): http.ClientRequest {
    const options: https.RequestOptions = {
      protocol: url.protocol, hostname: url.hostname, port: url.port, path, method: 'POST',
      agent: extra.agent, headers: { 'content-type': 'application/json', ...extra.headers },
    };
    if (url.protocol === 'https:') {
      Object.assign(options, this.#tls);
      return https.request(options);
    }
    return http.request(options);
  }

  /** The Authorization header when etcd auth is configured (a token, fetched once and on expiry). */
  async #authHeaders(): Promise<Record<string, string>> {
    if (this.#credentials === undefined) return {};
    this.#token ??= this.#send('/v3/auth/authenticate', this.#credentials, undefined, {}).then((r) => {
      const token = (r as { token?: unknown }).token;
      if (typeof token !== 'string' || token === '') throw new EtcdError('denied', 'etcd authenticate answered without a token');
      return token;
    });
    try {
      return { authorization: await this.#token };
    } catch (err) {
      this.#token = undefined;
      throw err;
    }
  }

  async #unary(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const auth = await this.#authHeaders();
    try {
      return await this.#send(path, body, signal, auth);
    } catch (err) {
      this.#forgetExpiredToken(err);
      throw err;
    }
  }

  /** An expired token (simple tokens live 5 min idle): the next request or watch authenticates again. */
  #forgetExpiredToken(err: unknown): void {
    if (err instanceof EtcdError && /auth token/i.test(err.message)) this.#token = undefined;
  }

  #send(path: string, body: unknown, signal: AbortSignal | undefined, auth: Record<string, string>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new EtcdError('canceled', 'etcd client closed'));
    const index = this.#current;
    const url = this.endpoints[index]!;
    return new Promise((resolve, reject) => {
      const req = this.#request(url, path, { agent: this.#agents[index]!, headers: auth });
      const timer = setTimeout(() => req.destroy(new EtcdError('timeout', `etcd ${url.origin}${path} did not answer within ${this.#requestTimeoutMs} ms`)), this.#requestTimeoutMs);
      const onAbort = (): void => {
        req.destroy(new EtcdError('canceled', 'request aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      req.on('error', (err) => {
        finish();
        const e = err instanceof EtcdError ? err : EtcdError.network(url, err);
        if (e.code === 'unavailable' || e.code === 'timeout') this.#failoverFrom(url);
        reject(e);
      });
      req.on('response', (res) => {
        readAll(res).then((text) => {
          finish();
          if (res.statusCode !== 200) {
            const e = classifyGatewayError(res.statusCode ?? 0, text);
            if (e.code === 'unavailable') this.#failoverFrom(url);
            reject(e);
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new EtcdError('bad-response', `etcd ${path} answered with invalid JSON`));
          }
        }, (err: Error) => {
          finish();
          this.#failoverFrom(url);
          reject(EtcdError.network(url, err));
        });
      });
      req.end(JSON.stringify(body));
    });
  }
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new EtcdError('denied', `${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function handleWatchLine(line: string, handlers: WatchHandlers): void {
  const msg = JSON.parse(line) as { result?: Record<string, unknown>; error?: { http_code?: number; message?: string } };
  if (msg.error) throw classifyGatewayError(msg.error.http_code ?? 0, JSON.stringify(msg.error));
  const r = msg.result;
  if (!r) throw new EtcdError('bad-response', 'watch response without result');
  const compactRevision = r.compact_revision;
  if (typeof compactRevision === 'string' && compactRevision !== '0') {
    throw new EtcdError('compacted', `etcd watch start revision was compacted (compact revision ${compactRevision})`);
  }
  if (r.canceled === true) {
    const reason = typeof r.cancel_reason === 'string' ? r.cancel_reason : 'no reason given';
    const code = /leader/i.test(reason) ? 'unavailable' : /auth|permission/i.test(reason) ? 'denied' : 'canceled';
    throw new EtcdError(code, `etcd canceled the watch: ${reason}`);
  }
  if (r.created === true) handlers.onCreated();
  const header = r.header as { revision?: string } | undefined;
  const events: WatchEvent[] = [];
  for (const e of (Array.isArray(r.events) ? r.events : []) as Record<string, unknown>[]) {
    const kv = parseKV(e.kv);
    events.push({ type: e.type === 'DELETE' ? 'delete' : 'put', kv, ...(e.prev_kv !== undefined ? { prevKv: parseKV(e.prev_kv) } : {}) });
  }
  if (r.created !== true || events.length > 0) handlers.onResponse(events, header?.revision ?? '');
}

function parseKV(raw: unknown): EtcdKV {
  const kv = raw as { key?: string; value?: string; mod_revision?: string };
  if (typeof kv?.key !== 'string') throw new EtcdError('bad-response', 'etcd key-value without a key');
  return {
    key: Buffer.from(kv.key, 'base64').toString('utf8'),
    value: Buffer.from(kv.value ?? '', 'base64'),
    modRevision: kv.mod_revision ?? '0',
  };
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
