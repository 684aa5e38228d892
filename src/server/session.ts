import type { RawData, WebSocket } from 'ws';
import type { Clock, Timer } from '../clock.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import {
  chooseCompression, type Codec, CloseCode, type ClientMessage, compressFrame, type DigestsMessage, type HelloMessage, PROTOCOL_VERSION, ProtocolError,
} from '../protocol/index.ts';
import type { BreadcrumbWaiter } from '../snapshot/breadcrumb.ts';
import type { Breadcrumb, CatchUpBase, CatchUpComparison, CatchUpSource, SharedFrame, SnapshotCache, SnapshotSource } from '../snapshot/index.ts';
import type { SyncStatus } from '../syncer/types.ts';
import { type CatchUpChoice, chooseCatchUp, type CatchUpOutcome, type CatchUpPath } from './catchUpPlan.ts';
import { DeliveryTracker } from './deliveryTracker.ts';
import { DigestUpload } from './digestUpload.ts';
import { lingerForClose } from './closeLinger.ts';
import { peerText } from './connectionSources.ts';
import { InboundRate } from './inboundRate.ts';

/** `digests`: a digest catch-up waits for the client's bucket digests (PROTOCOL.md §11). */
export type SessionPhase = 'handshake' | 'digests' | 'snapshot' | 'awaiting-ack' | 'streaming' | 'closed';

/** What a session reads from: one syncer type's cache, its shared snapshots and its catch-up bases. */
export interface SyncerChannel {
  readonly cache: SnapshotCache;
  readonly snapshots: SnapshotSource;
  readonly catchUp: CatchUpSource;
}

export type SessionConfig = Pick<Config,
  'pingIntervalMs' | 'pongTimeoutMs' | 'handshakeTimeoutMs' | 'writeTimeoutMs' | 'sendHighWaterMarkBytes' |
  'maxFallBehindMs' | 'newClientGracePeriodMs' | 'maxBacklogBytes' | 'maxMessageKvs' | 'maxInboundFrameBytes' |
  'maxInboundFramesPerSecond' | 'inboundFrameBurst' | 'digestCatchup'>;

export interface SessionDeps {
  readonly config: SessionConfig;
  readonly channels: ReadonlyMap<string, SyncerChannel>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly serverInstanceId: string;
  readonly serverVersion: string;
  /**
   * One codec for every session: an encoder keeps a scratch buffer of several KiB, which per
   * session would be most of an idle connection's memory. Sharing is safe because encode and
   * decode finish synchronously and copy their results.
   */
  readonly codec: Codec;
  /** The three possible `status` frames, encoded once per server rather than per session. */
  readonly statusFrames: Readonly<Record<SyncStatus, Buffer>>;
  /** Told when a session's hello has been accepted (the server flags duplicate identities). */
  readonly onHello?: (session: Session) => void;
  /** Uniform in [0, 1): the ping interval's jitter (injected so tests can pin it). */
  readonly random: () => number;
  /**
   * Plain size of the last full snapshot a session of this server sent, per syncer type: what
   * a resume or digest catch-up is compared with for `cattail_catchup_bytes_saved_total`.
   */
  readonly snapshotBytes: Map<string, number>;
}

/** Bounded vocabulary for `cattail_connections_closed_total{reason}` and logs. */
export type CloseReason = 'client' | 'protocol' | 'rate-limit' | 'handshake-timeout' | 'fell-behind' | 'write-timeout' | 'pong-timeout' | 'rebalance' | 'shutdown' | 'error' | 'left-stale' | 'probe';

/**
 * One client connection: hello → serverHello → what brings the client up to date (the path
 * chosen at hello, catchUpPlan.ts: nothing on a resume, the replaced buckets after the client's
 * digests, or the shared snapshot frames) → snapshotEnd → ack → deltas following the breadcrumb
 * chain from that breadcrumb, with pings. A probe gets its serverHello and a close. Everything
 * the session sends is a Buffer built once and shared; the session only decides what to send
 * next and when (backpressure, fall-behind, timeouts). Any failure closes only this session.
 */
export class Session implements BreadcrumbWaiter {
  readonly connId: string;
  /** The peer's IP address (see connectionSources.ts). */
  readonly source: string;
  /** The peer's port; `peer` is built from it only when asked for (logs, /status). */
  readonly #port: number | undefined;
  #phase: SessionPhase = 'handshake';
  /** What the hello claimed (the rest of the hello is not kept). */
  #hostname: string | undefined;
  #syncerType: string | undefined;
  /** The last breadcrumb whose deltas this session has sent (or its snapshot's): all it may hold. */
  #crumb: Breadcrumb | undefined;
  /** The breadcrumb this session waits on as a BreadcrumbWaiter (see #follow); undefined when not waiting. */
  #followed: Breadcrumb | undefined;
  /** The delta loop is running (it stops whenever it is caught up; the waiter starts it again). */
  #looping = false;
  /** The status the delta loop last sent. */
  #sentStatus: SyncStatus = 'wait-for-datastore';
  #channel: SyncerChannel | undefined;
  /** The hello negotiated zstd: shared frames go out as their compressed bytes (SharedFrame). */
  #compressed = false;
  /** ws closed with 1002 and no reason: the close waits for the error that says why (see #closeMapped). */
  #framingClose = false;
  #lastPongAt = 0;
  #graceEndsAt = Infinity;
  #graceUsed = false;
  #wasBehind = false;
  /** The handshake budget until hello; on the digest path, then the budget for the digests. */
  #handshakeTimer: Timer | undefined;
  /** Only while the digest path waits for the client's digests (phase `digests`). */
  #upload: DigestUpload | undefined;
  #pingTimer: Timer | undefined;
  readonly #ws: WebSocket;
  readonly #deps: SessionDeps;
  readonly #delivery: DeliveryTracker;
  readonly #inbound: InboundRate;
  readonly #onEnd: (s: Session) => void;

  /**
   * An idle connection's memory is mostly what it holds per socket, so the socket's listeners
   * are functions shared by every session (each finds its session on the socket, `this` being
   * the socket), the timers are two fields, and the delta loop exists only while it has work.
   */
  constructor(ws: WebSocket, connId: string, deps: SessionDeps, onEnd: (s: Session) => void, acceptedAt = deps.clock.now(),
    peer: { readonly source: string; readonly port?: number | undefined } = { source: 'unknown' }) {
    this.#ws = ws;
    this.connId = connId;
    this.source = peer.source;
    this.#port = peer.port;
    this.#deps = deps;
    this.#onEnd = onEnd;
    this.#delivery = new DeliveryTracker(ws, deps.clock, deps.metrics, deps.config.writeTimeoutMs, this);
    this.#inbound = new InboundRate(deps.config.maxInboundFramesPerSecond, deps.config.inboundFrameBurst, deps.clock);
    (ws as TaggedSocket)[SESSION] = this;
    // ws enforces maxPayload and framing itself and then closes; #closeMapped maps those closes.
    ws.close = Session.#closeMapped;
    ws.on('message', Session.#onMessage);
    // WebSocket-level pings and pongs are frames the server handles too (ws answers each ping).
    ws.on('ping', Session.#onControlFrame);
    ws.on('pong', Session.#onControlFrame);
    ws.on('close', Session.#onClose);
    ws.on('error', Session.#onError);
    // The handshake budget runs from TCP accept, so a slow TLS or HTTP upgrade eats into it.
    this.#handshakeTimer = deps.clock.setTimeout(() => {
      this.#handshakeTimer = undefined;
      if (this.#phase === 'handshake') this.close(CloseCode.handshakeTimeout, 'no hello within the handshake timeout', 'handshake-timeout');
    }, Math.max(0, acceptedAt + deps.config.handshakeTimeoutMs - deps.clock.now()));
    this.#handshakeTimer.unref?.();
  }

  static #onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    (this as TaggedSocket)[SESSION].#onFrame(data as Buffer, isBinary);
  }

  static #onControlFrame(this: WebSocket): void {
    (this as TaggedSocket)[SESSION].#countInbound();
  }

  static #onClose(this: WebSocket, code: number, reason: Buffer): void {
    (this as TaggedSocket)[SESSION].#onSocketClosed(code, reason.toString());
  }

  static #onError(this: WebSocket, err: Error): void {
    const session = (this as TaggedSocket)[SESSION];
    session.#closeFraming(err.message.replace(/^Invalid WebSocket frame: /, ''));
    session.#log('debug', { err: err.message }, 'socket error');
  }

  /**
   * ws enforces maxPayload before buffering and then closes with 1009; we close with our own
   * documented code instead so every protocol violation carries a Cattail close code. For a
   * framing violation ws closes with 1002 and no reason, then emits the error that says what
   * was wrong: the close waits for that error (same tick) so the reason can carry it. Installed
   * as the socket's own `close`, so every close, ws's and ours, passes here.
   */
  static #closeMapped(this: WebSocket, code?: number, reason?: string | Buffer): void {
    const session = (this as TaggedSocket)[SESSION];
    if (code === 1009) {
      if (session.#phase !== 'closed') session.#end('protocol');
      session.#log('warn', {}, 'client frame exceeded the inbound limit');
      session.#closeSocket(CloseCode.frameTooLarge, `frame exceeds ${session.#deps.config.maxInboundFrameBytes} bytes`);
      return;
    }
    if (code === CloseCode.webSocketProtocolError && (reason === undefined || reason.length === 0)) {
      session.#framingClose = true;
      queueMicrotask(() => session.#closeFraming('invalid frame'));
      return;
    }
    session.#closeSocket(code, reason);
  }

  /** ws's own close, under the mapping installed as the socket's `close`. */
  #closeSocket(code?: number, reason?: string | Buffer): void {
    (Object.getPrototypeOf(this.#ws) as WebSocket).close.call(this.#ws, code, reason);
  }

  #closeFraming(detail: string): void {
    if (!this.#framingClose) return;
    this.#framingClose = false;
    if (this.#phase !== 'closed') this.#end('protocol');
    this.#log('warn', { detail }, 'client broke WebSocket framing');
    this.#closeSocket(CloseCode.webSocketProtocolError, truncateReason(`WebSocket protocol error: ${detail}`));
  }

  /** The peer, `address:port`, as logged on hello and close. */
  get peer(): string {
    return this.source === 'unknown' && this.#port === undefined ? 'unknown' : peerText(this.source, this.#port);
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  get hostname(): string | undefined {
    return this.#hostname;
  }

  get syncerType(): string | undefined {
    return this.#syncerType;
  }

  /** Newest breadcrumb timestamp minus that of the breadcrumb this session sends next, ms. */
  lagMs(): number {
    if (this.#crumb === undefined || this.#channel === undefined) return 0;
    return this.#channel.cache.current().timestamp - (this.#crumb.next ?? this.#crumb).timestamp;
  }

  /** Starts a graceful close with a code and reason; the socket is cut if the peer does not answer. */
  close(code: number, reason: string, why: CloseReason, hostile = false): void {
    if (this.#phase === 'closed') return;
    this.#end(why);
    this.#log('info', { code, reason, why }, 'closing connection');
    try {
      this.#ws.close(code, reason);
    } catch {
      this.#ws.terminate();
    }
    lingerForClose(this.#ws, hostile);
  }

  /** Cuts the connection at once (the socket cannot even take a close frame). */
  terminate(why: CloseReason, detail: string): void {
    if (this.#phase === 'closed') return;
    this.#end(why);
    this.#log('warn', { why, detail }, 'terminating connection');
    this.#ws.terminate();
  }

  #end(why: CloseReason): void {
    if (this.#phase === 'streaming' && this.#syncerType !== undefined) this.#deps.metrics.connectionsStreaming.dec({ syncer: this.#syncerType });
    this.#phase = 'closed';
    this.#deps.metrics.connectionsClosed.inc({ reason: why });
    this.#clearHandshakeTimer();
    if (this.#pingTimer !== undefined) this.#deps.clock.clearTimeout(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#delivery.stop();
    // Let go of the chain at once: nothing that outlives the session may pin history.
    this.#followed?.unwait(this);
    this.#followed = undefined;
    this.#crumb = undefined;
    this.#onEnd(this);
  }

  #onSocketClosed(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    if (code === CloseCode.leavingStaleReplica) {
      this.#log('info', { code, reason }, 'client left this replica as stale (it had not been in sync for too long and another replica is)');
      this.#end('left-stale');
      return;
    }
    this.#log('info', { code, reason }, 'client closed connection');
    this.#end('client');
  }

  /**
   * Spends one inbound token; false (and the session closed with 4008) when the client is over
   * its rate. Checked before a frame is decoded, so a flood costs O(1) per frame until it trips
   * the limit and after it: the frames of a closed session are dropped undecoded, and its
   * socket is cut 2 s after the close frame has left (closeLinger.ts). (Reading is not paused, so a
   * client that answers the close frame is closed cleanly at once.)
   */
  #countInbound(): boolean {
    if (this.#phase === 'closed') return false;
    if (this.#inbound.take()) return true;
    const { maxInboundFramesPerSecond: rate, inboundFrameBurst: burst } = this.#deps.config;
    this.close(CloseCode.inboundRateExceeded, `more than ${rate} frames/s (burst ${burst}) from the client`, 'rate-limit', true);
    return false;
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (!this.#countInbound()) return;
    try {
      if (!isBinary) throw new ProtocolError(CloseCode.badFrame, 'text frames are not allowed; send binary MessagePack');
      this.#dispatch(this.#deps.codec.decodeClient(data));
    } catch (err) {
      if (err instanceof ProtocolError) this.close(err.closeCode, truncateReason(err.message), 'protocol');
      else {
        this.#log('error', { err }, 'unexpected error handling a client frame');
        this.close(CloseCode.protocolError, 'internal error', 'error');
      }
    }
  }

  /**
   * Shape is judged before place: a frame reaches here only once it decoded into a valid
   * message (else 4001), and only then is its place in the sequence checked (else 4000). The
   * ack is judged against what this server has sent: before snapshotEnd has been handed to the
   * socket the phase is 'snapshot' and the ack is refused, whatever the snapshot's progress.
   */
  #dispatch(msg: ClientMessage): void {
    if (this.#phase === 'handshake' && msg.type !== 'hello') throw new ProtocolError(CloseCode.protocolError, `the first message must be hello, not ${msg.type}`);
    if (msg.type === 'pong') {
      this.#lastPongAt = this.#deps.clock.now();
      this.#deps.metrics.pingLatency.observe(Math.max(0, this.#lastPongAt - msg.pingTimestamp) / 1000);
      return;
    }
    if (msg.type === 'hello') {
      if (this.#phase !== 'handshake') throw new ProtocolError(CloseCode.protocolError, 'hello sent twice');
      this.#onHello(msg);
      return;
    }
    if (msg.type === 'digests') {
      this.#onDigests(msg);
      return;
    }
    if (this.#phase === 'snapshot' || this.#phase === 'digests') throw new ProtocolError(CloseCode.protocolError, 'ack before snapshotEnd; send ack only after receiving snapshotEnd');
    if (this.#phase !== 'awaiting-ack') throw new ProtocolError(CloseCode.protocolError, 'ack sent twice');
    this.#startStreaming();
  }

  #onHello(hello: HelloMessage): void {
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw new ProtocolError(CloseCode.unsupportedVersion, `protocol version ${hello.protocolVersion} is not supported; this server speaks ${PROTOCOL_VERSION}`);
    }
    const channel = this.#deps.channels.get(hello.syncerType);
    if (channel === undefined) {
      throw new ProtocolError(CloseCode.unknownSyncerType, `syncer type ${JSON.stringify(hello.syncerType)} is not served; served: ${[...this.#deps.channels.keys()].join(', ')}`);
    }
    this.#clearHandshakeTimer();
    this.#hostname = hello.hostname;
    this.#syncerType = hello.syncerType;
    this.#channel = channel;
    const caps = hello.capabilities;
    const status = channel.cache.current().status;
    if (caps.probe === true) return this.#answerProbe(hello, status);
    const { config, serverInstanceId, codec } = this.#deps;
    const choice = chooseCatchUp(caps, channel.cache, { serverInstanceId, digestEnabled: config.digestCatchup, maxBacklogBytes: config.maxBacklogBytes });
    const offered = caps.resume !== undefined || caps.digest !== undefined;
    const reason = choice.path === 'resume' ? undefined : choice.reason;
    this.#log('info', {
      hostname: hello.hostname, syncer: hello.syncerType, clientVersion: hello.clientVersion, clientConnId: hello.clientConnId,
      catchUp: choice.path, catchUpReason: reason ?? (choice.path === 'resume' ? 'ok' : 'not-offered'),
      ...(caps.resume !== undefined ? { resumeFrom: caps.resume.seq } : {}), ...(caps.digest !== undefined ? { digestLevel: caps.digest.level } : {}),
    }, 'client hello');
    this.#deps.onHello?.(this);
    const compression = chooseCompression(caps.compression);
    this.#compressed = compression !== null;
    const serverHello = codec.encode({
      type: 'serverHello', protocolVersion: PROTOCOL_VERSION, syncerType: hello.syncerType, serverVersion: this.#deps.serverVersion,
      serverInstanceId, connectionId: this.connId, compression, status,
      ...(offered ? { catchUp: choice.path } : {}), ...(offered && reason !== undefined ? { catchUpReason: reason } : {}),
    });
    this.#send(serverHello);
    this.#startCatchUp(channel, choice, serverHello.length);
    this.#follow(channel);
  }

  /** Sends what the chosen path sends before snapshotEnd (the digest path first waits for the client's digests). */
  #startCatchUp(channel: SyncerChannel, choice: CatchUpChoice, sentBytes: number): void {
    const started = performance.now();
    if (choice.path === 'resume') {
      // Nothing before snapshotEnd: the client holds the state of this breadcrumb already.
      this.#crumb = choice.crumb;
      this.#phase = 'snapshot';
      this.#endCatchUp(channel, choice.crumb, choice.crumb.keyCount, 'resume', 'ok', sentBytes, started);
      return;
    }
    if (choice.path === 'digest') {
      this.#phase = 'digests';
      this.#upload = new DigestUpload(choice.level, choice.reason);
      // The handshake budget again, from serverHello: a client that never sends its digests
      // holds a slot no longer than one that never says hello.
      this.#handshakeTimer = this.#deps.clock.setTimeout(() => {
        this.#handshakeTimer = undefined;
        if (this.#phase === 'digests') this.close(CloseCode.handshakeTimeout, 'no digests within the handshake timeout', 'handshake-timeout');
      }, this.#deps.config.handshakeTimeoutMs);
      this.#handshakeTimer.unref?.();
      return;
    }
    this.#phase = 'snapshot';
    void this.#sendSnapshot(channel, choice.reason ?? 'not-offered', sentBytes, started).catch((err: unknown) => this.#fail(err));
  }

  /**
   * The digest path: compares the client's digests, message by message, with a catch-up base
   * (shared by every session joining within the reuse window; see DigestUpload) and, after the
   * last, sends the replaced buckets' bitmap, then their keys, or every bit and the shared full
   * snapshot when the differing buckets hold more than half the keys.
   */
  #onDigests(msg: DigestsMessage): void {
    const upload = this.#upload;
    if (this.#phase !== 'digests' || upload === undefined) {
      throw new ProtocolError(CloseCode.protocolError, 'digests sent when none are expected (only after a serverHello with catchUp digest, until the last)');
    }
    const channel = this.#channel as SyncerChannel;
    const verdict = upload.accept(msg, () => channel.catchUp.acquire());
    // From the first message the upload holds its base: the backlog rule bounds what that keeps alive.
    this.#crumb ??= upload.base?.crumb;
    if (verdict === undefined) return;
    this.#upload = undefined;
    this.#clearHandshakeTimer();
    const started = performance.now();
    const level = upload.level;
    const { base, diff } = verdict;
    this.#log('debug', { level, baseSeq: base.crumb.seq, replacedBuckets: diff.replacedBuckets, replacedKeys: diff.replacedKeys, keys: base.keys, fullSnapshot: diff.fullSnapshot }, 'digests compared');
    this.#phase = 'snapshot';
    // With every bit set (the differing buckets held over half the keys) the shared full
    // snapshot follows: the same bytes for the client, encoded once for everyone.
    const buckets = this.#deps.codec.encode({ type: 'buckets', level, replaced: diff.bitmap });
    this.#send(buckets);
    if (diff.fullSnapshot) {
      void this.#sendSnapshot(channel, verdict.clientEmpty ? 'client-empty' : 'too-many-differ', buckets.length, started).catch((err: unknown) => this.#fail(err));
      return;
    }
    this.#crumb = base.crumb;
    void this.#sendBuckets(channel, base, diff, level, upload.reason, buckets.length, started).catch((err: unknown) => this.#fail(err));
  }

  /** The keys of the replaced buckets at the base (frames built once per base and bitmap by the base), then snapshotEnd. */
  async #sendBuckets(channel: SyncerChannel, base: CatchUpBase, diff: CatchUpComparison, level: number, reason: CatchUpOutcome, sentBytes: number, started: number): Promise<void> {
    let sent = sentBytes;
    // Assembled one at a time as this loop reaches them (a generator): these frames are this
    // client's alone, so a large diff holds one frame per session, not the whole diff.
    for (const plain of base.frames(diff.bitmap, level)) {
      if (!(await this.#writable()) || this.#phase !== 'snapshot') return;
      // Per client, so compressed per client (the shared frames are compressed once instead).
      const frame = this.#compressed ? smaller(compressFrame(plain), plain) : plain;
      this.#send(frame);
      sent += frame.length;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#phase !== 'snapshot') return;
    this.#endCatchUp(channel, base.crumb, base.keys, 'digest', reason, sent, started);
  }

  /** Sends a per-session snapshotEnd (resume and digest paths) and counts the catch-up. */
  #endCatchUp(channel: SyncerChannel, crumb: Breadcrumb, keys: number, path: CatchUpPath, reason: CatchUpOutcome, sentBytes: number, started: number): void {
    const end = this.#deps.codec.encode({ type: 'snapshotEnd', seq: crumb.seq, keys });
    this.#send(end);
    this.#phase = 'awaiting-ack';
    const syncer = channel.cache.syncerType;
    const { metrics, snapshotBytes } = this.#deps;
    const sent = sentBytes + end.length;
    metrics.catchUps.inc({ syncer, path, reason });
    metrics.catchUpBytes.inc({ syncer, path }, sent);
    const full = snapshotBytes.get(syncer);
    if (full !== undefined && full > sent) metrics.catchUpBytesSaved.inc({ syncer }, full - sent);
    if (path === 'digest') metrics.snapshotSendSeconds.observe({ syncer }, (performance.now() - started) / 1000);
    this.#startPings();
  }

  /** A probe (§11.7): the serverHello with the status, then close 1000; no snapshot, no duplicate-hello check. */
  #answerProbe(hello: HelloMessage, status: SyncStatus): void {
    const { codec, metrics, serverInstanceId, serverVersion } = this.#deps;
    this.#send(codec.encode({
      type: 'serverHello', protocolVersion: PROTOCOL_VERSION, syncerType: hello.syncerType, serverVersion, serverInstanceId, connectionId: this.connId,
      compression: null, status,
    }));
    metrics.probes.inc({ syncer: hello.syncerType, status });
    this.#end('probe');
    this.#log('debug', { syncer: hello.syncerType, status, clientConnId: hello.clientConnId }, 'probe answered');
    this.#ws.close(CloseCode.normal, 'probe answered');
    lingerForClose(this.#ws, false);
  }

  /**
   * From hello to close, whatever the session is doing (streaming its snapshot, waiting for the
   * ack, blocked on a full socket, caught up), it waits on the newest breadcrumb (as itself, a
   * BreadcrumbWaiter: no closure per session): at each mint it applies the backlog rule, or starts
   * the delta loop again if that had stopped caught up. The wait is withdrawn at close, so a
   * closed session is not kept reachable by a quiet datastore.
   */
  #follow(channel: SyncerChannel): void {
    const newest = channel.cache.current();
    this.#followed = newest;
    newest.wait(this);
  }

  /** BreadcrumbWaiter: called by the breadcrumb this session waits on, inside the cache's publish. Not for other callers. */
  breadcrumbMinted(): void {
    // Either way the session looks once the whole flush has been minted, so a 100-breadcrumb
    // flush costs it one wake, not a hundred.
    this.#followed = undefined;
    queueMicrotask(() => this.#onMinted());
  }

  #onMinted(): void {
    const channel = this.#channel;
    if (this.#phase === 'closed' || channel === undefined) return;
    // The delta loop had stopped caught up (no backlog to judge): it starts again and follows
    // again itself, which spares a caught-up session a second wake per breadcrumb.
    if (this.#phase === 'streaming' && !this.#looping) return this.#runDeltas(channel);
    if (!this.#withinBacklog(channel)) return;
    if (this.#followed === undefined) this.#follow(channel);
  }

  /**
   * The backlog rule: the deltas minted after this session's breadcrumb stay alive for it, so
   * their encoded size is capped in every phase, grace period included (the time-based
   * fall-behind rule cannot bound memory: under heavy churn 300 s is gigabytes, and before the
   * ack it does not apply). False when the session was closed.
   */
  #withinBacklog(channel: SyncerChannel): boolean {
    const crumb = this.#crumb;
    if (crumb === undefined) return true;
    const { config, metrics } = this.#deps;
    const behind = channel.cache.current().deltaBytesThrough - crumb.deltaBytesThrough;
    if (behind <= config.maxBacklogBytes) return true;
    metrics.backlogExceeded.inc({ syncer: channel.cache.syncerType });
    this.close(CloseCode.fellBehind, `${mib(behind)} MiB of deltas waiting (limit ${mib(config.maxBacklogBytes)} MiB)`, 'fell-behind');
    return false;
  }

  async #sendSnapshot(channel: SyncerChannel, reason: CatchUpOutcome, sentBytes: number, started: number): Promise<void> {
    const snap = channel.snapshots.acquire();
    this.#crumb = snap.crumb;
    let sent = sentBytes;
    for (let i = 0; ; i++) {
      await snap.waitFor(i);
      if (this.#phase !== 'snapshot') return;
      const frame = snap.frames[i];
      if (frame === undefined) break;
      if (!(await this.#writable())) return;
      sent += this.#sendShared(frame);
      if (snap.done && i === snap.frames.length - 1) {
        // That was snapshotEnd: the ack may arrive before this function runs again.
        this.#phase = 'awaiting-ack';
        break;
      }
      // One frame per session per turn of the event loop: in a reconnect storm hundreds of
      // sessions stream a finished snapshot at once, and without yielding each would push
      // megabytes into its socket inside one turn, starving pings and health checks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#phase !== 'awaiting-ack') return;
    const syncer = channel.cache.syncerType;
    const { metrics, snapshotBytes } = this.#deps;
    metrics.snapshotSendSeconds.observe({ syncer }, (performance.now() - started) / 1000);
    metrics.catchUps.inc({ syncer, path: 'snapshot', reason });
    metrics.catchUpBytes.inc({ syncer, path: 'snapshot' }, sent);
    snapshotBytes.set(syncer, snap.bytes);
    this.#startPings();
  }

  #startStreaming(): void {
    const channel = this.#channel as SyncerChannel;
    const syncer = channel.cache.syncerType;
    this.#phase = 'streaming';
    this.#deps.metrics.connectionsStreaming.inc({ syncer });
    this.#graceEndsAt = this.#deps.clock.now() + this.#deps.config.newClientGracePeriodMs;
    this.#runDeltas(channel);
  }

  /** Starts the delta loop (it is not running: see #looping). */
  #runDeltas(channel: SyncerChannel): void {
    this.#looping = true;
    void this.#streamDeltas(channel);
  }

  /**
   * Sends what follows this session's breadcrumb until it is caught up, then stops: an idle
   * session keeps no suspended loop, only its wait on the newest breadcrumb (#follow), whose
   * next mint starts the loop again.
   */
  async #streamDeltas(channel: SyncerChannel): Promise<void> {
    const { config, metrics } = this.#deps;
    const syncer = channel.cache.syncerType;
    try {
      for (;;) {
        const crumb = this.#crumb;
        if (this.#phase !== 'streaming' || crumb === undefined) return;
        if (crumb.status !== this.#sentStatus) {
          this.#send(this.#deps.statusFrames[crumb.status]);
          this.#sentStatus = crumb.status;
        }
        const next = crumb.next;
        if (next === undefined) {
          // Caught up: the loop stops, leaving a wait on the newest breadcrumb (this one) that
          // starts it again. A wake queued before this iteration caught up may already have been
          // spent on a loop with nothing to send, so the wait must be in place here, always.
          if (this.#followed === undefined) this.#follow(channel);
          return;
        }
        if (this.#followed === undefined) this.#follow(channel);
        if (!(await this.#writable())) return;
        if (!this.#checkFallBehind(channel, next)) return;
        // The deltas of this breadcrumb and of any already minted after it, in frames shared
        // with every other session at the same point: a caught-up session gets one breadcrumb's
        // frame, a lagging one catches up in fewer, larger frames, and nothing is per client.
        const c = next.coalescedFrames(config.maxMessageKvs);
        for (const frame of c.frames) this.#sendShared(frame);
        if (c.kvs > 0) metrics.kvsPerMessage.observe({ syncer }, Math.min(c.kvs, config.maxMessageKvs));
        this.#crumb = c.last;
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#looping = false;
    }
  }

  /** Applies the fall-behind rule to the breadcrumb about to be sent; false when the session was closed. */
  #checkFallBehind(channel: SyncerChannel, next: Breadcrumb): boolean {
    const { config, metrics, clock } = this.#deps;
    const syncer = channel.cache.syncerType;
    const ageMs = channel.cache.current().timestamp - next.timestamp;
    metrics.clientLatency.observe({ syncer }, ageMs / 1000);
    if (ageMs <= config.maxFallBehindMs) {
      if (this.#wasBehind && clock.now() > this.#graceEndsAt) {
        this.#log('info', { ageMs }, 'client was behind and has now caught up');
        this.#wasBehind = false;
      }
      return true;
    }
    this.#wasBehind = true;
    if (clock.now() > this.#graceEndsAt) {
      this.close(CloseCode.fellBehind, `fell ${Math.round(ageMs / 1000)}s behind (limit ${config.maxFallBehindMs / 1000}s)`, 'fell-behind');
      return false;
    }
    if (!this.#graceUsed) {
      this.#graceUsed = true;
      metrics.graceUsed.inc({ syncer });
      this.#log('warn', { ageMs, graceLeftMs: this.#graceEndsAt - clock.now() }, 'client is behind but within its new-client grace period; keeping it');
    }
    return true;
  }

  /**
   * One timer per session for both directions: each tick first checks that a pong arrived
   * within the pong timeout, then sends the next ping. The pong clock starts here, when
   * snapshotEnd has been sent (pongs before that do not count). Each interval is the configured
   * one ± 10 %, uniformly: the mean stays the configured interval (so pong timeout ÷ interval
   * is the number of pings a client may miss), while sessions that started together drift apart.
   */
  #startPings(): void {
    this.#lastPongAt = this.#deps.clock.now();
    this.#schedulePing();
  }

  #schedulePing(): void {
    const { config, clock, random } = this.#deps;
    this.#pingTimer = clock.setTimeout(() => this.#pingTick(), config.pingIntervalMs * (0.9 + 0.2 * random()));
    this.#pingTimer.unref?.();
  }

  #pingTick(): void {
    this.#pingTimer = undefined;
    if (this.#phase === 'closed') return;
    const { config, clock } = this.#deps;
    if (clock.now() - this.#lastPongAt > config.pongTimeoutMs) {
      this.close(CloseCode.pongTimeout, `no pong for ${config.pongTimeoutMs / 1000}s`, 'pong-timeout');
      return;
    }
    this.#send(this.#deps.codec.encode({ type: 'ping', timestamp: clock.now() }));
    this.#schedulePing();
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) this.#deps.clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  /** Waits until the socket has room below the high-water mark; false if the session ended meanwhile. */
  async #writable(): Promise<boolean> {
    const hwm = this.#deps.config.sendHighWaterMarkBytes;
    while (this.#phase !== 'closed' && this.#ws.bufferedAmount > hwm) await this.#delivery.progress();
    return this.#phase !== 'closed';
  }

  #send(frame: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#delivery.send(frame);
  }

  /** A shared frame as this session negotiated it: the same bytes for every session that did. Returns their length. */
  #sendShared(frame: SharedFrame): number {
    const bytes = this.#compressed ? frame.compressed : frame.plain;
    this.#send(bytes);
    return bytes.length;
  }

  /**
   * Logs with this connection's id and hostname. Not a pino child logger: a child per session
   * would cost every idle connection its own bindings object.
   */
  #log(level: 'debug' | 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    this.#deps.logger[level]({ connId: this.connId, peer: this.peer, hostname: this.hostname, ...fields }, msg);
  }

  #fail(err: unknown): void {
    this.#log('error', { err }, 'session failed');
    this.close(CloseCode.protocolError, 'internal error', 'error');
  }
}

/** The zstd frame when it is smaller, else the plain frame (clients take either, PROTOCOL.md §7.1). */
const smaller = (packed: Buffer, plain: Buffer): Buffer => (packed.length < plain.length ? packed : plain);

/** Where a socket's shared listeners find their session. */
const SESSION = Symbol('cattail.session');
type TaggedSocket = WebSocket & { [SESSION]: Session };

const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

function truncateReason(reason: string): string {
  // A close reason must fit in a control frame (123 bytes of UTF-8). Cut between code points:
  // a byte cut inside a multi-byte character would decode to U+FFFD (3 bytes), push the reason
  // over 123 bytes and make ws refuse the close (the client then saw 1006 and no reason).
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = '';
  let bytes = 0;
  for (const ch of reason) {
    bytes += Buffer.byteLength(ch);
    if (bytes > 120) break;
    cut += ch;
  }
  return cut + '...';
}
