/**
 * A Kubernetes API server emulator for tests: a real HTTP server on 127.0.0.1:<random port>
 * that speaks the list/watch protocol @kubernetes/client-node and Cattail's own client use,
 * for any resource path, with fault injection.
 *
 * ## Use
 *   const api = new K8sEmulator();            // options: see K8sEmulatorOptions
 *   await api.start();
 *   const kc = api.kubeConfig();              // KubeConfig (bearer token, http) pointing at it
 *   api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: {} });
 *   ...
 *   await api.stop();
 *
 * ## Protocol served (GET only)
 * - Paths: `/api/v1[/namespaces/<ns>]/<plural>[/<name>]`, `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]`.
 *   Any plural works (an unknown collection is simply empty); kinds come from Cattail's KINDS
 *   table plus Service, Endpoints, ConfigMap, Secret, Deployment (`registerKind()` for more).
 *   `projectcalico.org/v3` objects are stored as their `crd.projectcalico.org/v1` CRD form.
 * - List: `limit` + `continue` (tokens pin the list's revision; they expire with `compact()`),
 *   `resourceVersion` (`0`/unset = now; newer than now → 504 "Too large resource version";
 *   `resourceVersionMatch=Exact` older than the compaction point → 410), `labelSelector`
 *   (`k=v`, `k!=v`, `k`, `!k`, `k in (..)`, `k notin (..)`), `fieldSelector` (any dotted field).
 *   Items are served without apiVersion/kind, as the real server does.
 * - Watch (`watch=true`): NDJSON events after `resourceVersion` (unset/`0`: synthetic ADDED for
 *   every current object first), selectors applied (an object leaving the selector is DELETED),
 *   BOOKMARKs when `allowWatchBookmarks=true`, a clean end after `timeoutSeconds` (capped by
 *   `maxWatchMs`). A revision older than the compaction point answers 410, as an ERROR event
 *   inside a 200 stream (`watchGone: 'event'`, the default, what the watch cache does) or as an
 *   HTTP 410 (`'status'`). Switch at runtime with `api.watchGone = ...`.
 * - Auth: `Authorization: Bearer <token>` is required (401 otherwise) unless `token: ''`.
 *
 * ## State (god mode; every write takes the next global revision, like etcd)
 * - `create(obj)`, `update(obj)`, `apply(obj)` → stored copy; `delete(objOrRef)`; `get(ref)`;
 *   `objects(kind)` where kind is a Kind (`'Pod'`), an id (`'ippools.crd.projectcalico.org'`) or a KindInfo.
 * - `revision` (number), `compact(rev?)`: forget history so older revisions and continue tokens get 410.
 *
 * ## Faults
 * - `dropWatches({ abrupt? })`: end every open watch cleanly (or destroy the sockets).
 * - `expireWatches()`: send ERROR 410 (Expired) into every open watch and end it.
 * - `bookmark()`: send a BOOKMARK at the current revision to every watch that allows them.
 * - `stallWatches(on)`: while on, new and current watches get nothing, not even their timeout's
 *   end (a half-open connection); they stay dead after `stallWatches(false)`.
 * - `failNext(n, status, filter?)`: the next n matching requests answer `status` with a Status
 *   body (filter: `verb` list|watch|get, `path` string or RegExp, `continued` for continue pages).
 * - `outage(true, mode?)`: `'refuse'` (default) closes the listener and every connection
 *   (ECONNREFUSED); `'reset'` accepts and immediately destroys connections (ECONNRESET).
 *   `outage(false)` recovers on the same port.
 *
 * ## Observation
 * - `requests`: every request in arrival order ({ method, path, verb, query, status }).
 * - `onRequest(hook)`: called as each request arrives, before it is answered.
 * - `count(filter?)`: how many requests matched (`{ verb: 'watch', path: '/api/v1/pods' }`).
 * - `openWatches(path?)`: watches currently open; `clearRequests()`.
 * - `connectionsAccepted`: TCP connections accepted (keep-alive reuse keeps it low).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ALL_KINDS, kindById, type KindInfo } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { K8sStore, resourceKey, type ObjectRef, type ResourceType, type StoredEvent } from './k8sStore.ts';
import { statusBody, WatchHub, watchLine } from './k8sWatches.ts';
import { type Matcher, parseFieldSelector, parseLabelSelector, parseResourcePath, type ResourcePath } from './k8sSelectors.ts';

export type Verb = 'list' | 'watch' | 'get' | 'other';

export interface K8sEmulatorOptions {
  /** Bearer token required on every request; '' disables the check. */
  token?: string;
  /** Periodic bookmarks to every watch that allows them; 0 (default) = only via bookmark(). */
  bookmarkIntervalMs?: number;
  /** Ends every watch after this long at the latest, whatever its timeoutSeconds. */
  maxWatchMs?: number;
  /** How a watch from a compacted revision is refused. Default 'event'. */
  watchGone?: 'event' | 'status';
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly verb: Verb;
  readonly query: Readonly<Record<string, string>>;
  status: number;
}

export interface RequestFilter {
  verb?: Verb;
  /** Exact path or a pattern. */
  path?: string | RegExp;
  /** Only list requests that carry (true) or lack (false) a continue token. */
  continued?: boolean;
}

interface FailureRule {
  remaining: number;
  readonly status: number;
  readonly filter: RequestFilter;
}

interface ListSnapshot {
  readonly revision: number;
  readonly items: RawObject[];
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

export class K8sEmulator {
  readonly requests: RequestRecord[] = [];
  /** TCP connections accepted so far; shows whether a client reuses keep-alive connections. */
  connectionsAccepted = 0;
  watchGone: 'event' | 'status';
  private readonly store = new K8sStore();
  private readonly token: string;
  private readonly options: K8sEmulatorOptions;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new WatchHub();
  private readonly snapshots = new Map<string, ListSnapshot>();
  private failures: FailureRule[] = [];
  private readonly requestHooks = new Set<(record: RequestRecord) => void>();
  private outageMode: 'refuse' | 'reset' | undefined;
  private port = 0;
  private bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(options: K8sEmulatorOptions = {}) {
    this.options = options;
    this.token = options.token ?? 'cattail-emulator-token';
    this.watchGone = options.watchGone ?? 'event';
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket: Socket) => {
      if (this.outageMode === 'reset') {
        socket.destroy();
        return;
      }
      this.connectionsAccepted += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.store.onEvent((event) => this.watches.fanOut(event));
  }

  /** `http://127.0.0.1:<port>`; valid after start(). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get revision(): number {
    return this.store.currentRevision;
  }

  async start(): Promise<void> {
    await this.listen(0);
    const every = this.options.bookmarkIntervalMs ?? 0;
    if (every > 0) {
      this.bookmarkTimer = setInterval(() => this.bookmark(), every);
      this.bookmarkTimer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    this.watches.forgetAll();
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A KubeConfig for this server, as `loadFromOptions` builds it. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // skipTLSVerify: the library refuses plain http otherwise; the emulator has no TLS.
      clusters: [{ name: 'emulator', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'emulator', ...(this.token ? { token: this.token } : {}) }],
      contexts: [{ name: 'emulator', cluster: 'emulator', user: 'emulator' }],
      currentContext: 'emulator',
    });
    return kc;
  }

  /** The same configuration as a kubeconfig file's text, for tests of file loading. */
  kubeConfigYaml(): string {
    return [
      'apiVersion: v1', 'kind: Config', 'current-context: emulator',
      'clusters:', `- name: emulator`, '  cluster:', `    server: ${this.url}`, '    insecure-skip-tls-verify: true',
      'users:', '- name: emulator', '  user:', `    token: ${this.token}`,
      'contexts:', '- name: emulator', '  context:', '    cluster: emulator', '    user: emulator', '',
    ].join('\n');
  }

  registerKind(type: ResourceType): void {
    this.store.registerKind(type);
  }

  create(obj: RawObject): RawObject {
    return this.store.create(obj);
  }

  update(obj: RawObject): RawObject {
    return this.store.update(obj);
  }

  apply(obj: RawObject): RawObject {
    return this.store.apply(obj);
  }

  delete(ref: ObjectRef | RawObject): RawObject | undefined {
    return this.store.delete(ref as ObjectRef);
  }

  get(ref: ObjectRef): RawObject | undefined {
    const o = this.store.get(ref);
    return o && structuredClone(o);
  }

  /** Current objects of a kind: a Kind name (`Pod`), a kind id or a KindInfo. */
  objects(kind: string | KindInfo): RawObject[] {
    const info = typeof kind === 'string' ? (kindById(kind) ?? ALL_KINDS.find((k) => k.kind === kind)) : kind;
    if (!info) throw new Error(`unknown kind ${String(kind)}; use registerKind or a KindInfo`);
    return this.store.list(info.group, info.plural).map((o) => structuredClone(o));
  }

  compact(revision?: number): void {
    this.store.compact(revision);
    for (const [id, snap] of this.snapshots) if (snap.revision < this.store.compactedRevision) this.snapshots.delete(id);
  }

  dropWatches(options: { abrupt?: boolean } = {}): void {
    this.watches.dropAll(options.abrupt ?? false);
  }

  expireWatches(): void {
    this.watches.expireAll();
  }

  bookmark(): void {
    this.watches.bookmarkAll(this.store.currentRevision);
  }

  stallWatches(on: boolean): void {
    this.watches.stall(on);
  }

  failNext(n: number, status: number, filter: RequestFilter = {}): void {
    this.failures.push({ remaining: n, status, filter });
  }

  async outage(on: boolean, mode: 'refuse' | 'reset' = 'refuse'): Promise<void> {
    if (on) {
      if (this.outageMode) return;
      this.outageMode = mode;
      this.watches.forgetAll();
      const closed = mode === 'refuse' ? new Promise<void>((resolve) => this.server.close(() => resolve())) : undefined;
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
      await closed;
    } else {
      const was = this.outageMode;
      this.outageMode = undefined;
      if (was === 'refuse') await this.listen(this.port);
    }
  }

  /**
   * Calls `hook` for every request as it arrives, before it is answered (so a hook can change
   * state "between" two requests, e.g. compact between list pages). Returns an unsubscribe.
   */
  onRequest(hook: (record: RequestRecord) => void): () => void {
    this.requestHooks.add(hook);
    return () => this.requestHooks.delete(hook);
  }

  count(filter: RequestFilter = {}): number {
    return this.requests.filter((r) => matches(filter, r)).length;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  openWatches(path?: string): number {
    return this.watches.count(path);
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const query = Object.fromEntries(url.searchParams);
    const rp = parseResourcePath(url.pathname);
    const watch = query.watch === 'true' || query.watch === '1';
    const verb: Verb = !rp || req.method !== 'GET' ? 'other' : watch ? 'watch' : rp.name ? 'get' : 'list';
    const record: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, verb, query, status: 0 };
    this.requests.push(record);
    for (const hook of this.requestHooks) hook(record);
    const fail = (status: number, message: string, reason?: string): void => {
      record.status = status;
      sendStatus(res, status, message, reason);
    };

    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) return fail(401, 'Unauthorized');
    const rule = this.failures.find((f) => f.remaining > 0 && matches(f.filter, record));
    if (rule) {
      rule.remaining -= 1;
      this.failures = this.failures.filter((f) => f.remaining > 0);
      return fail(rule.status, `injected failure (${rule.status})`);
    }
    if (!rp) return fail(404, `the server could not find the requested resource (${url.pathname})`, 'NotFound');
    if (verb === 'other') return fail(405, `the emulator serves GET only`, 'MethodNotAllowed');

    let match: Matcher;
    try {
      const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
      const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
      const ns = rp.namespace;
      const name = verb === 'watch' ? rp.name : undefined;
      match = (o) => (ns === undefined || o.metadata.namespace === ns) && (name === undefined || o.metadata.name === name) && labels(o) && fields(o);
    } catch (err) {
      return fail(400, (err as Error).message, 'BadRequest');
    }
    record.status = 200;
    if (verb === 'get') return this.serveGet(rp, res, fail);
    if (verb === 'list') return this.serveList(rp, query, match, res, fail);
    return this.serveWatch(rp, url.pathname, query, match, res, fail);
  }

  private serveGet(rp: ResourcePath, res: http.ServerResponse, fail: (s: number, m: string, r?: string) => void): void {
    const o = this.store.getByPath(rp.group, rp.plural, rp.namespace, rp.name!);
    if (!o) return fail(404, `${rp.plural} "${rp.name}" not found`, 'NotFound');
    sendJson(res, 200, o);
  }

  private serveList(
    rp: ResourcePath, query: Record<string, string>, match: Matcher, res: http.ServerResponse,
    fail: (s: number, m: string, r?: string) => void,
  ): void {
    const limit = Number(query.limit ?? 0) > 0 ? Math.floor(Number(query.limit)) : 0;
    const current = this.store.currentRevision;
    let snapshot: ListSnapshot;
    let offset = 0;
    let id: string;
    if (query.continue) {
      const token = decodeToken(query.continue);
      const found = token && this.snapshots.get(token.id);
      if (!token || !found || found.revision < this.store.compactedRevision) {
        return fail(410, 'The provided continue parameter is too old to display a consistent list result. ' +
          'You can start a new list without the continue parameter.', 'Expired');
      }
      snapshot = found;
      offset = token.offset;
      id = token.id;
    } else {
      const rv = query.resourceVersion;
      if (rv && rv !== '0') {
        const n = Number(rv);
        if (!Number.isInteger(n)) return fail(400, `invalid resourceVersion ${rv}`, 'BadRequest');
        if (n > current) return fail(504, `Too large resource version: ${n}, current: ${current}`, 'Timeout');
        if (query.resourceVersionMatch === 'Exact' && n < this.store.compactedRevision) {
          return fail(410, `too old resource version: ${n} (${this.store.compactedRevision})`, 'Expired');
        }
      }
      snapshot = { revision: current, items: this.store.list(rp.group, rp.plural, rp.namespace).filter(match) };
      id = randomUUID();
    }
    const end = limit > 0 ? Math.min(offset + limit, snapshot.items.length) : snapshot.items.length;
    const more = end < snapshot.items.length;
    if (more) this.snapshots.set(id, snapshot);
    else this.snapshots.delete(id);
    const kind = ALL_KINDS.find((k) => k.group === rp.group && k.plural === rp.plural)?.kind;
    sendJson(res, 200, {
      kind: kind ? `${kind}List` : 'List',
      apiVersion: rp.group ? `${rp.group}/${rp.version}` : rp.version,
      metadata: {
        resourceVersion: String(snapshot.revision),
        ...(more ? { continue: encodeToken({ id, offset: end }), remainingItemCount: snapshot.items.length - end } : {}),
      },
      items: snapshot.items.slice(offset, end).map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
    });
  }

  private serveWatch(
    rp: ResourcePath, path: string, query: Record<string, string>, match: Matcher, res: http.ServerResponse,
    fail: (s: number, m: string, r?: string) => void,
  ): void {
    const resource = resourceKey(rp.group, rp.plural);
    const rv = query.resourceVersion;
    let initial: RawObject[] = [];
    let replay: StoredEvent[] = [];
    if (!rv || rv === '0') {
      initial = this.store.list(rp.group, rp.plural, rp.namespace).filter(match);
    } else {
      const n = Number(rv);
      if (!Number.isInteger(n)) return fail(400, `invalid resourceVersion ${rv}`, 'BadRequest');
      const events = this.store.eventsAfter(n, resource);
      if (events === 'gone') {
        const message = `too old resource version: ${n} (${this.store.compactedRevision})`;
        if (this.watchGone === 'status') return fail(410, message, 'Expired');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(watchLine('ERROR', statusBody(410, message, 'Expired')));
        return;
      }
      replay = events;
    }
    const timeoutMs = Math.min(
      Number(query.timeoutSeconds) > 0 ? Number(query.timeoutSeconds) * 1000 : Number.POSITIVE_INFINITY,
      this.options.maxWatchMs ?? Number.POSITIVE_INFINITY,
    );
    this.watches.open(res, { path, resource, match, bookmarks: query.allowWatchBookmarks === 'true', initial, replay, timeoutMs });
  }
}

function matches(filter: RequestFilter, r: RequestRecord): boolean {
  if (filter.verb !== undefined && filter.verb !== r.verb) return false;
  if (typeof filter.path === 'string' && filter.path !== r.path) return false;
  if (filter.path instanceof RegExp && !filter.path.test(r.path)) return false;
  if (filter.continued !== undefined && filter.continued !== (r.query.continue !== undefined)) return false;
  return true;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendStatus(res: http.ServerResponse, code: number, message: string, reason?: string): void {
  if (code === 429) res.setHeader('retry-after', '1');
  sendJson(res, code, statusBody(code, message, reason ?? REASONS[code] ?? 'Unknown'));
}

function encodeToken(t: { id: string; offset: number }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(s: string): { id: string; offset: number } | undefined {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { id?: unknown; offset?: unknown };
    return typeof t.id === 'string' && typeof t.offset === 'number' ? { id: t.id, offset: t.offset } : undefined;
  } catch {
    return undefined;
  }
}
