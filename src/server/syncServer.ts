import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Clock, jitter, type Timer } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { CloseCode, Codec, DEFAULT_SYNC_PATH } from '../protocol/index.ts';
import { ConnectionSources, peerText, sourceOf } from './connectionSources.ts';
import { DuplicateHellos } from './duplicateHellos.ts';
import { HandshakeBudget } from './handshakeBudget.ts';
import { RejectionLog } from './rejectionLog.ts';
import { Session, type SessionConfig, type SessionDeps, type SyncerChannel } from './session.ts';
import type { TlsSettings } from './tls.ts';

export type SyncServerConfig = SessionConfig & {
  readonly syncHost: string;
  readonly syncPort: number;
  readonly connectionDropIntervalMs: number;
  readonly maxConnectionsUpperLimit: number;
  readonly maxConnectionsPerSource: number;
  readonly handshakeFailureLogIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly shutdownMaxDropIntervalMs: number;
};

export interface SyncServerDeps {
  readonly config: SyncServerConfig;
  readonly channels: ReadonlyMap<string, SyncerChannel>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly serverVersion: string;
  readonly tls?: TlsSettings;
  readonly random?: () => number;
}

/** Public view of a session for /status. */
export interface SessionInfo {
  readonly connId: string;
  /** The peer, `address:port`. */
  readonly peer: string;
  readonly hostname: string | undefined;
  readonly syncerType: string | undefined;
  readonly phase: string;
  readonly lagMs: number;
}

/**
 * The sync listener: accepts WebSocket upgrades on `/sync`, runs one Session per socket, keeps
 * the connection count under a limit that can change at run time by shedding one session per
 * (jittered) drop interval (from the sources over their share first), caps the connections of
 * each source, and shuts down with paced disconnections.
 */
export class SyncServer {
  readonly serverInstanceId = randomBytes(8).toString('hex');
  readonly #deps: SyncServerDeps;
  readonly #sessions = new Set<Session>();
  readonly #wss: WebSocketServer;
  readonly #http: http.Server;
  readonly #sessionDeps: SessionDeps;
  readonly #random: () => number;
  readonly #sources = new ConnectionSources<Session>();
  /** Every upgraded socket until it has closed, including those of sessions already closed and draining. */
  readonly #sockets = new Set<WebSocket>();
  readonly #hellos = new DuplicateHellos<Session>();
  readonly #budget: HandshakeBudget;
  readonly #rejections: RejectionLog;
  #maxConnections: number;
  #connSeq: number;
  #governor: Timer | undefined;
  #shuttingDown = false;
  #closed = false;
  /**
   * Per-socket callbacks made once per server rather than once per connection (an idle
   * connection's memory is mostly what is held per socket). Socket listeners are called with
   * the socket as `this`.
   */
  readonly #sessionEnded: (s: Session) => void;
  readonly #socketClosed: (this: WebSocket) => void;
  readonly #upgradeSocketError: (err: Error) => void;

  constructor(deps: SyncServerDeps) {
    this.#deps = deps;
    this.#random = deps.random ?? Math.random;
    this.#maxConnections = deps.config.maxConnectionsUpperLimit;
    deps.metrics.maxConnections.set(this.#maxConnections);
    for (const reason of REFUSAL_REASONS) deps.metrics.connectionsRefused.inc({ reason }, 0);
    for (const reason of TLS_FAILURE_REASONS) deps.metrics.tlsHandshakeFailures.inc({ reason }, 0);
    this.#budget = new HandshakeBudget(deps.config.handshakeTimeoutMs, deps.clock);
    this.#rejections = new RejectionLog(deps.logger, deps.clock, deps.config.handshakeFailureLogIntervalMs);
    // Connection ids start at a random point so ids from different replicas and restarts differ.
    this.#connSeq = Math.floor(this.#random() * 0xffffff) * 1000;
    const codec = new Codec();
    const statusFrames = {
      'wait-for-datastore': codec.encode({ type: 'status', status: 'wait-for-datastore' }),
      'resync-in-progress': codec.encode({ type: 'status', status: 'resync-in-progress' }),
      'in-sync': codec.encode({ type: 'status', status: 'in-sync' }),
    };
    const sessions = this.#sessions;
    const sources = this.#sources;
    const hellos = this.#hellos;
    const sockets = this.#sockets;
    const metrics = deps.metrics;
    this.#sessionEnded = (s) => {
      sources.remove(s);
      hellos.release(s);
      if (sessions.delete(s)) metrics.connectionsActive.set(sessions.size);
    };
    this.#socketClosed = function (this: WebSocket) {
      sockets.delete(this);
    };
    this.#upgradeSocketError = (err) => deps.logger.debug({ err: err.message }, 'sync socket error');
    this.#sessionDeps = {
      config: deps.config, channels: deps.channels, clock: deps.clock, logger: deps.logger, metrics: deps.metrics,
      serverInstanceId: this.serverInstanceId, serverVersion: deps.serverVersion, codec, statusFrames, random: this.#random, snapshotBytes: new Map(),
      onHello: (s) => this.#onHello(s),
    };
    // ws cuts a socket (1006, no reason) once 60 of its automatic pongs are unwritten, which a
    // burst of WebSocket pings reaches before the inbound rate bound (burst 100) can close it
    // with 4008. One more than the burst lets the bound decide; past it nothing more is read.
    // (A ws 8.18 option that @types/ws does not declare yet, hence the spread.)
    const autoPongs = { maxPendingAutoPongs: Math.max(60, deps.config.inboundFrameBurst + 1) };
    this.#wss = new WebSocketServer({
      noServer: true,
      // Compression, if any, is done once per shared frame by the application, never per client.
      perMessageDeflate: false,
      maxPayload: deps.config.maxInboundFrameBytes,
      // Any text frame is refused with 4001 whatever its bytes; validating its UTF-8 first would
      // turn some of them into ws's reason-less 1007 instead.
      skipUTF8Validation: true,
      ...autoPongs,
      clientTracking: false,
    });
    this.#http = deps.tls !== undefined ? deps.tls.createServer(deps.config.handshakeTimeoutMs) : http.createServer();
    this.#http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end(`Cattail sync: open a WebSocket on ${DEFAULT_SYNC_PATH}\n`);
    });
    this.#http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    // 'connection' is the TCP accept, before any TLS: the handshake budget starts there.
    this.#http.on('connection', (socket: Socket) => this.#budget.accepted(socket));
    if (deps.tls !== undefined) this.#http.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => this.#onTlsFailure(err, socket));
    this.#http.on('clientError', (err, socket) => {
      deps.logger.debug({ err: err.message }, 'sync listener client error');
      socket.destroy();
    });
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#deps.config.syncPort, this.#deps.config.syncHost, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    this.#scheduleGovernor();
    return this.address();
  }

  address(): AddressInfo {
    return this.#http.address() as AddressInfo;
  }

  get maxConnections(): number {
    return this.#maxConnections;
  }

  /** Changes the connection limit; excess sessions are shed gradually, never at once. */
  setMaxConnections(limit: number): void {
    if (limit === this.#maxConnections) return;
    this.#deps.logger.info({ from: this.#maxConnections, to: limit }, 'connection limit changed');
    this.#maxConnections = limit;
    this.#deps.metrics.maxConnections.set(limit);
  }

  sessionCount(): number {
    return this.#sessions.size;
  }

  sessions(): SessionInfo[] {
    return [...this.#sessions].map((s) => ({ connId: s.connId, peer: s.peer, hostname: s.hostname, syncerType: s.syncerType, phase: s.phase, lagMs: s.lagMs() }));
  }

  #onTlsFailure(err: Error & { code?: string }, socket: Socket): void {
    const reason = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'timeout' : err.code === 'ECONNRESET' ? 'reset' : err.code?.startsWith('ERR_SSL_') === true ? 'protocol' : 'other';
    this.#deps.metrics.tlsHandshakeFailures.inc({ reason });
    this.#rejections.record({ kind: 'tls-handshake', peer: peerText(sourceOf(socket.remoteAddress), socket.remotePort), detail: err.message });
  }

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server drops its own error listener on upgrade; without ours, a client that
    // resets the connection after a refused upgrade would be an unhandled 'error' event.
    socket.on('error', this.#upgradeSocketError);
    const path = (req.url ?? '').split('?')[0];
    const source = sourceOf(req.socket.remoteAddress);
    const peer = peerText(source, req.socket.remotePort);
    if (this.#shuttingDown || this.#closed) return this.#refuse(socket, 503, 'Service Unavailable', 'server shutting down; connect to another replica', 'shutting-down');
    if (path !== DEFAULT_SYNC_PATH) return this.#refuse(socket, 404, 'Not Found', `the sync endpoint is ${DEFAULT_SYNC_PATH}`, 'not-found');
    const rejected = this.#deps.tls?.rejectReason(socket);
    if (rejected !== undefined) {
      this.#rejections.record({ kind: 'certificate', peer, detail: rejected });
      return this.#refuse(socket, 403, 'Forbidden', rejected, 'certificate');
    }
    const cap = this.#deps.config.maxConnectionsPerSource;
    const held = this.#sources.count(source);
    if (cap > 0 && held >= cap) {
      const reason = `${held} connections from ${source} already; at most ${cap} per source`;
      this.#rejections.record({ kind: 'per-source-limit', peer, detail: reason });
      return this.#refuse(socket, 429, 'Too Many Requests', reason, 'per-source-limit');
    }
    const acceptedAt = this.#budget.upgraded(req.socket);
    const port = req.socket.remotePort;
    this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => this.#onSocket(ws, acceptedAt, source, port));
  }

  /** Answers an upgrade with an HTTP error whose body is the reason, and counts it. */
  #refuse(socket: Duplex, status: number, text: string, reason: string, why: RefusalReason): void {
    this.#deps.metrics.connectionsRefused.inc({ reason: why });
    const body = `${reason}\n`;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  #onSocket(ws: WebSocket, acceptedAt: number, source: string, port: number | undefined): void {
    const { metrics } = this.#deps;
    const connId = (this.#connSeq++).toString(16);
    metrics.connectionsAccepted.inc();
    // Connections are always accepted, even over the limit; the governor sheds them gradually.
    const session = new Session(ws, connId, this.#sessionDeps, this.#sessionEnded, acceptedAt, { source, port });
    this.#sessions.add(session);
    this.#sources.add(session);
    this.#sockets.add(ws);
    // 'close' is emitted once; a plain listener spares the wrapper `once` makes per socket.
    ws.on('close', this.#socketClosed);
    metrics.connectionsActive.set(this.#sessions.size);
  }

  /** Flags a hello whose hostname and syncer type a live session already claims. */
  #onHello(session: Session): void {
    const others = this.#hellos.claim(session);
    if (others.length === 0) return;
    this.#deps.metrics.duplicateHellos.inc({ syncer: session.syncerType as string });
    this.#deps.logger.warn({
      connId: session.connId, peer: session.peer, hostname: session.hostname, syncer: session.syncerType,
      others: others.map((o) => ({ connId: o.connId, peer: o.peer, phase: o.phase })),
    }, 'two live sessions claim the same hostname and syncer type (a reconnect not yet detected, or two agents sharing a hostname)');
  }

  #scheduleGovernor(): void {
    const { config, clock } = this.#deps;
    this.#governor = clock.setTimeout(() => {
      this.#governor = undefined;
      if (this.#closed || this.#shuttingDown) return;
      if (this.#sessions.size > this.#maxConnections) this.#dropRandom();
      this.#scheduleGovernor();
    }, jitter(config.connectionDropIntervalMs, 0.1, this.#random));
    this.#governor.unref?.();
  }

  #dropRandom(): void {
    // A node needs one connection per syncer type served: sources holding more are shed first.
    const share = this.#deps.channels.size;
    const victim = this.#sources.pickVictim(this.#sessions, share, this.#random);
    if (victim === undefined) return;
    this.#deps.metrics.connectionsDropped.inc();
    this.#deps.logger.info({
      connId: victim.connId, peer: victim.peer, hostname: victim.hostname, sourceConnections: this.#sources.count(victim.source),
      share, active: this.#sessions.size, limit: this.#maxConnections,
    }, 'over the connection limit; shedding one connection');
    victim.close(CloseCode.rebalance, 'server over its connection limit; connect to another replica', 'rebalance');
  }

  /**
   * Graceful shutdown: stop accepting, then close sessions one at a time spread evenly over 95%
   * of the shutdown timeout (interval capped), then cut whatever is left. Resolves when done.
   */
  async shutdownGracefully(): Promise<void> {
    if (this.#shuttingDown || this.#closed) return;
    this.#shuttingDown = true;
    const { config, logger } = this.#deps;
    this.#stopListening();
    const n = this.#sessions.size;
    const interval = n === 0 ? 0 : Math.min(config.shutdownMaxDropIntervalMs, (config.shutdownTimeoutMs * 0.95) / n);
    logger.info({ sessions: n, intervalMs: interval }, 'shutting down: dropping sessions gradually');
    const deadline = performance.now() + config.shutdownTimeoutMs * 0.95;
    while (this.#sessions.size > 0 && performance.now() < deadline) {
      const victim = this.#sessions.values().next().value as Session;
      victim.close(CloseCode.shuttingDown, 'server shutting down; connect to another replica', 'shutdown');
      if (this.#sessions.size > 0) await new Promise((resolve) => setTimeout(resolve, interval));
    }
    await this.close();
  }

  /** Stops at once: closes the listener and cuts every session. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#governor !== undefined) this.#deps.clock.clearTimeout(this.#governor);
    for (const s of [...this.#sessions]) s.close(CloseCode.shuttingDown, 'server shutting down', 'shutdown');
    this.#sessions.clear();
    this.#deps.metrics.connectionsActive.set(0);
    // A closed session keeps its socket while a slow reader drains (up to 30 s, see Session);
    // stopping at once gives every socket, those included, 2 s for its close frame.
    const cut = setTimeout(() => { for (const ws of this.#sockets) ws.terminate(); }, STOP_CLOSE_GRACE_MS);
    cut.unref();
    this.#rejections.close();
    this.#deps.tls?.close();
    await this.#stopListening();
  }

  #stopListening(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#http.listening) return resolve();
      this.#http.close(() => resolve());
      this.#http.closeIdleConnections();
    });
  }
}

/** On an immediate stop, sockets still open this long after their close frame are cut (as before draining closes existed). */
const STOP_CLOSE_GRACE_MS = 2000;

/** Bounded vocabulary of `cattail_connections_refused_total{reason}`. */
const REFUSAL_REASONS = ['shutting-down', 'not-found', 'certificate', 'per-source-limit'] as const;
type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Bounded vocabulary of `cattail_tls_handshake_failures_total{reason}`. */
const TLS_FAILURE_REASONS = ['timeout', 'reset', 'protocol', 'other'] as const;
