import { bitmapHas, CloseCode } from '../../../src/protocol/index.ts';
import { AttemptTracker } from './attemptTracker.ts';
import { Backoff } from './backoff.ts';
import { Connection, type CatchUpOffer, type SessionListener } from './connection.ts';
import { CattailClientError, asClientError } from './errors.ts';
import { TypedEvents } from './events.ts';
import { resolveOptions, type ResolvedOptions, type SyncClientOptions } from './options.ts';
import { Probe, type ProbeResult } from './probe.ts';
import { ResumePosition } from './resumePosition.ts';
import { ResyncBuffer } from './resyncBuffer.ts';
import { StaleWatch } from './staleWatch.ts';
import { loadTls, type SocketTlsOptions } from './tls.ts';
import type { CatchUpPath, ClientEvents, ClientStats, ConnectionInfo, StopInfo, SyncStatus } from './types.ts';

/** The close code and reason a client sends when it leaves a stale replica (§11). */
export const LEAVE_STALE_CLOSE = Object.freeze({ code: CloseCode.leavingStaleReplica, reason: 'leaving a stale replica' });

const perPath = (): Record<CatchUpPath, number> => ({ resume: 0, digest: 0, snapshot: 0 });

/** Close codes that are routine (the server moving clients around), reported as `disconnected` only. */
const ROUTINE_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 4020, 4021]);

/**
 * A long-lived sync client for a node agent: discovery → connect → snapshot → deltas, and on any
 * loss a reconnect (to another replica when possible) with jittered exponential backoff, while the
 * host keeps one consistent stream through the resync buffer and is never asked to restart.
 *
 * Two loops run side by side and meet only in the buffer: the connection loop reads the wire as
 * fast as it arrives, the delivery loop awaits the host's handler batch by batch. That split is
 * what lets a slow host coalesce instead of blocking the reader or growing memory.
 *
 * Nothing here throws to the host after construction: failures become `error` events, and the
 * client stops for good only on `close()` or when the servers refuse its hello (REFUSED).
 */
export class SyncClient {
  readonly #options: ResolvedOptions;
  readonly #buffer = new ResyncBuffer();
  readonly #events: TypedEvents<ClientEvents>;
  readonly #tracker: AttemptTracker;
  readonly #backoff: Backoff;
  readonly #connIdPrefix: string;
  #connCounter = 0;
  #started = false;
  #closing = false;
  #connection: Connection | undefined;
  #info: ConnectionInfo | undefined;
  #wakeSleep: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #hasStopped = false;
  #connections = 0;
  #disconnects = 0;
  readonly #position = new ResumePosition();
  readonly #stale: StaleWatch;
  /** TLS of the current attempt, reused by probes. */
  #tls: SocketTlsOptions | undefined;
  /** The probe in flight, if any (closed with the client). */
  #probeInFlight: Probe | undefined;
  readonly #catchUps = perPath();
  readonly #catchUpBytes = perPath();
  #bytesReceived = 0;
  #probes = 0;
  #probesInSync = 0;
  #leftStale = 0;
  readonly #stopped: Promise<StopInfo>;
  #resolveStopped!: (info: StopInfo) => void;

  /** Throws CattailClientError('INVALID_OPTIONS') for bad options; the only exception the library raises. */
  constructor(options: SyncClientOptions) {
    this.#options = resolveOptions(options);
    this.#events = new TypedEvents<ClientEvents>((event, err) => {
      // A throwing `error` listener is not reported again, or it would loop.
      if (event !== 'error') this.#emitError(asClientError(err, 'HOST_HANDLER'));
    });
    this.#tracker = new AttemptTracker(this.#options.discovery);
    this.#backoff = new Backoff(this.#options.backoff, this.#options.random);
    this.#connIdPrefix = Math.floor(this.#options.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
    this.#stopped = new Promise((resolve) => { this.#resolveStopped = resolve; });
    this.#stale = new StaleWatch({
      leaveStaleAfterMs: this.#options.leaveStaleAfterMs, clock: this.#options.clock, random: this.#options.random,
      probe: (notInSyncForMs, nextProbeInMs) => this.#probeAnother(notInSyncForMs, nextProbeInMs),
    });
  }

  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  once<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    this.#events.once(event, listener);
    return this;
  }

  /** Starts connecting in the background. Idempotent; returns at once. */
  start(): void {
    if (this.#started || this.#closing) return;
    this.#started = true;
    void this.#deliver();
    this.#loop = this.#connectLoop();
  }

  /**
   * Closes the connection and stops reconnecting. Resolves when the socket is closed; does not
   * wait for a handler call in progress (so the host may call it from inside its handler).
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#wakeSleep?.();
      this.#stale.disconnected();
      this.#probeInFlight?.close();
      this.#connection?.close();
      this.#buffer.interrupt();
      if (this.#loop === undefined) this.#stop({ reason: 'closed', error: undefined });
    }
    await this.#loop;
  }

  /** Resolves once the client has stopped for good (after `close()`, or refused by the servers). */
  get stopped(): Promise<StopInfo> {
    return this.#stopped;
  }

  /** key → value as delivered to the host so far (what the host holds). A live read-only view. */
  get state(): ReadonlyMap<string, unknown> {
    return this.#buffer.state;
  }

  /** The last status delivered to the host. */
  get status(): SyncStatus | undefined {
    return this.#buffer.status;
  }

  /** The current connection, once its server has answered; undefined between connections. */
  get connection(): ConnectionInfo | undefined {
    return this.#info;
  }

  get stats(): ClientStats {
    const b = this.#buffer.stats;
    return {
      updatesReceived: b.received, updatesDelivered: b.delivered, updatesCoalesced: b.coalesced,
      deletionsSynthesised: b.synthesised, queued: b.queued, maxQueued: b.maxQueued,
      connections: this.#connections, disconnects: this.#disconnects,
      catchUps: { ...this.#catchUps }, catchUpBytes: { ...this.#catchUpBytes }, bytesReceived: this.#bytesReceived,
      probes: this.#probes, probesInSync: this.#probesInSync, leftStale: this.#leftStale,
    };
  }

  async #connectLoop(): Promise<void> {
    let refusals = 0;
    while (!this.#closing) {
      let url: string;
      try {
        const next = await this.#tracker.next();
        if (next.discoveryError !== undefined) this.#emitError(next.discoveryError);
        url = next.address.url;
      } catch (err) {
        const error = asClientError(err, 'DISCOVERY_FAILED');
        this.#emitError(error);
        if (error.code === 'DEPENDENCY_UNAVAILABLE') {
          this.#closing = true;
          this.#buffer.interrupt();
          this.#stop({ reason: 'misconfigured', error });
          return;
        }
        await this.#attemptFailed();
        continue;
      }
      if (this.#closing) break;

      let tls: SocketTlsOptions | undefined;
      if (this.#options.tls !== undefined) {
        try {
          tls = await loadTls(this.#options.tls);
        } catch (err) {
          this.#emitError(asClientError(err, 'TLS_CONFIG', url));
          await this.#attemptFailed();
          continue;
        }
      }
      if (this.#closing) break;

      this.#tls = tls;
      const outcome = await this.#session(url, tls);
      if (this.#closing) break;
      this.#disconnects++;
      this.#events.emit('disconnected', outcome);
      const routine = outcome.error?.code === 'SERVER_CLOSED' && ROUTINE_CLOSE_CODES.has(outcome.code);
      if (outcome.error !== undefined && !routine) this.#emitError(outcome.error);

      if (outcome.fatal) {
        // Another replica may still accept this hello (e.g. mid-upgrade), so only give up once
        // as many consecutive attempts as there are known servers were all refused.
        refusals++;
        if (refusals >= Math.max(1, this.#tracker.listSize)) {
          this.#closing = true;
          this.#buffer.interrupt();
          this.#stop({ reason: 'refused', error: outcome.error });
          return;
        }
      } else {
        refusals = 0;
      }
      if (outcome.streamed) {
        this.#tracker.succeeded();
        this.#backoff.reset();
        await this.#sleep(this.#backoff.next());
      } else {
        await this.#attemptFailed();
      }
    }
    this.#stop({ reason: 'closed', error: undefined });
  }

  /**
   * What the next hello offers (§11), with catch-up on: the resume position if there is one,
   * and digests once the host holds keys that all have a hash (a first connection offers
   * nothing, so it is a plain full snapshot).
   */
  #catchUpOffer(): CatchUpOffer | undefined {
    if (!this.#options.catchUp) return undefined;
    const digests = this.#buffer.digests;
    const digestLevel = digests.size > 0 && digests.complete ? digests.level() : undefined;
    return { resume: this.#position.offer, digestLevel };
  }

  /** Runs one connection to `url`; the resync buffer hears about its start and its loss. */
  async #session(url: string, tls: SocketTlsOptions | undefined): ReturnType<Connection['run']> {
    const o = this.#options;
    let started = false;
    // This connection's catch-up, from its serverHello to its snapshotEnd.
    let lastFrameBytes = 0;
    let catchUp: { path: CatchUpPath; info: ConnectionInfo; at: number; bytes: number; entries: number; level?: number; replaced?: number; pending?: number } | undefined;
    const listener: SessionListener = {
      onBytes: (bytes) => {
        this.#bytesReceived += bytes;
        lastFrameBytes = bytes;
        if (catchUp !== undefined) catchUp.bytes += bytes;
      },
      onServerHello: (info) => {
        started = true;
        this.#info = info;
        const path = info.catchUp ?? 'snapshot';
        catchUp = { path, info, at: o.clock.now(), bytes: lastFrameBytes, entries: 0 };
        this.#position.serverHello(info.serverInstanceId, info.catchUp);
        this.#buffer.connectionStarted(path);
        this.#stale.connected();
        this.#events.emit('connected', info);
      },
      digests: (level) => this.#buffer.digests.fold(level),
      onHashFailure: (error) => this.#emitError(error),
      onBuckets: (level, replaced) => {
        let buckets = 0;
        for (let i = 0; i < 2 ** level; i++) if (bitmapHas(replaced, i)) buckets++;
        const pending = this.#buffer.bucketsReplaced(level, (i) => bitmapHas(replaced, i));
        if (catchUp !== undefined) Object.assign(catchUp, { level, replaced: buckets, pending });
      },
      onKvs: (kvs, hashes, seq) => {
        this.#buffer.applyKvs(kvs, hashes);
        if (seq !== undefined) this.#position.deltaSeq(seq);
        if (catchUp !== undefined) catchUp.entries += kvs.length;
      },
      onSnapshotEnd: (seq) => {
        this.#connections++;
        this.#position.snapshotEnd(seq);
        if (catchUp === undefined) return;
        const c = catchUp;
        catchUp = undefined;
        this.#catchUps[c.path]++;
        this.#catchUpBytes[c.path] += c.bytes;
        this.#events.emit('caughtUp', {
          url, serverInstanceId: c.info.serverInstanceId, path: c.path, reason: c.info.catchUpReason, bytes: c.bytes, entries: c.entries,
          level: c.level, replacedBuckets: c.replaced, pendingKeys: c.pending, durationMs: o.clock.now() - c.at,
        });
      },
      onStatus: (status) => {
        this.#buffer.applyStatus(status);
        this.#stale.status(status);
      },
    };
    const connection = new Connection({
      url, syncerType: o.syncerType, hostname: o.hostname, clientVersion: o.clientVersion, clientInfo: o.clientInfo,
      clientConnId: `${this.#connIdPrefix}-${++this.#connCounter}`,
      connectTimeoutMs: o.connectTimeoutMs, handshakeTimeoutMs: o.handshakeTimeoutMs, readTimeoutMs: o.readTimeoutMs,
      writeTimeoutMs: o.writeTimeoutMs, maxFrameBytes: o.maxFrameBytes, compression: o.compression, tls,
      catchUp: this.#catchUpOffer(), hashKvs: o.catchUp,
    }, listener);
    this.#connection = connection;
    const outcome = await connection.run();
    this.#connection = undefined;
    this.#info = undefined;
    this.#stale.disconnected();
    this.#position.connectionEnded();
    // PROTOCOL.md §10 step 7.2: only a connection that received its serverHello starts a resync.
    if (started) this.#buffer.connectionLost();
    return outcome;
  }

  /**
   * The stale watch fired (§11): probe one other listed replica, chosen at random; if it is in
   * sync, close the current connection with 4030 and connect to it next. Never throws.
   */
  async #probeAnother(notInSyncForMs: number, nextProbeInMs: number): Promise<boolean> {
    const current = this.#connection;
    const from = this.#info?.url;
    if (current === undefined || from === undefined || this.#closing) return false;
    let others;
    try {
      others = (await this.#options.discovery.load()).filter((a) => a.url !== from);
    } catch (err) {
      this.#events.emit('probed', { url: '', status: undefined, error: asClientError(err, 'DISCOVERY_FAILED'), nextProbeInMs });
      return false;
    }
    if (others.length === 0 || this.#closing) return false;
    const target = others[Math.min(others.length - 1, Math.floor(this.#options.random() * others.length))]!;
    this.#probes++;
    const { status, error } = await this.#probe(target.url);
    const moving = status === 'in-sync' && this.#connection === current && this.#info?.url === from && !this.#closing
      && this.#stale.notInSyncForMs !== undefined;
    this.#events.emit('probed', { url: target.url, status, error, nextProbeInMs: moving ? undefined : nextProbeInMs });
    if (status === 'in-sync') this.#probesInSync++;
    if (!moving) return false;
    this.#leftStale++;
    this.#events.emit('leavingReplica', { from, to: target.url, status: this.#buffer.status, notInSyncForMs: this.#stale.notInSyncForMs ?? notInSyncForMs });
    this.#tracker.preferNext(target.url);
    current.close(LEAVE_STALE_CLOSE.code, LEAVE_STALE_CLOSE.reason);
    return true;
  }

  /** One probe connection (§11): the probed server's status from its serverHello, or why it failed. */
  async #probe(url: string): Promise<ProbeResult> {
    const o = this.#options;
    const probe = new Probe({
      url, syncerType: o.syncerType, hostname: o.hostname, clientVersion: o.clientVersion, clientInfo: o.clientInfo,
      clientConnId: `${this.#connIdPrefix}-probe-${++this.#connCounter}`,
      connectTimeoutMs: o.connectTimeoutMs, handshakeTimeoutMs: o.handshakeTimeoutMs, readTimeoutMs: o.readTimeoutMs,
      writeTimeoutMs: o.writeTimeoutMs, maxFrameBytes: o.maxFrameBytes, tls: this.#tls,
    });
    this.#probeInFlight = probe;
    try {
      return await probe.run();
    } finally {
      this.#probeInFlight = undefined;
    }
  }

  async #attemptFailed(): Promise<void> {
    if (this.#tracker.failed()) {
      this.#emitError(new CattailClientError('NO_SERVER_REACHABLE',
        `no server reachable via ${this.#options.discovery.description} after ${this.#tracker.roundSize} attempts; still retrying`));
    }
    await this.#sleep(this.#backoff.next());
  }

  /** Hands queued deliveries to the host one at a time, awaiting each. */
  async #deliver(): Promise<void> {
    const { handler, maxBatchSize } = this.#options;
    while (!this.#closing) {
      const delivery = this.#buffer.take(maxBatchSize);
      if (delivery === undefined) {
        await this.#buffer.whenReady();
        continue;
      }
      try {
        if (delivery.kind === 'updates') await handler.onUpdates(delivery.updates);
        else await handler.onStatus(delivery.status);
      } catch (err) {
        this.#emitError(asClientError(err, 'HOST_HANDLER'));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    });
  }

  #emitError(error: CattailClientError): void {
    this.#events.emit('error', error);
  }

  #stop(info: StopInfo): void {
    if (this.#hasStopped) return;
    this.#hasStopped = true;
    this.#events.emit('stopped', info);
    this.#resolveStopped(info);
  }
}
