import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import {
  Codec, CloseCode, decompressFrame, FATAL_CLOSE_CODES, isCompressedFrame, MOVE_ON_CLOSE_CODES, PROTOCOL_VERSION, ProtocolError, scanKvsFrame,
  SUPPORTED_COMPRESSION, type ClientCapabilities, type ClientMessage, type ScannedEntry, type ServerMessage, type UnknownServerMessage, type WireKV,
} from '../../../src/protocol/index.ts';
import { catchUpProblem, digestsMessages, hashesOf, helloCapabilities, type CatchUpOffer } from './catchUpWire.ts';
import { CattailClientError, asClientError } from './errors.ts';
import type { KvHash } from './heldDigests.ts';
import { classifyTlsError, type SocketTlsOptions } from './tls.ts';
import type { ConnectionInfo, DisconnectInfo, SyncStatus } from './types.ts';

/** What one session reports upward, in wire order. Called synchronously from the socket's reader. */
export interface SessionListener {
  onServerHello(info: ConnectionInfo): void;
  /**
   * One `kvs` frame: its entries, each entry's bucket and KV hash when `hashKvs` is on (from
   * the frame's plain bytes; undefined for deletions), and its `seq` mark when it carries one.
   */
  onKvs(kvs: readonly WireKV[], hashes: readonly (KvHash | undefined)[] | undefined, seq: number | undefined): void;
  onSnapshotEnd(seq: number, keys: number): void;
  onStatus(status: SyncStatus): void;
  /** Digest path: the bucket digests to upload at `level` (2 uint32 per bucket), asked for once, right after the serverHello. */
  digests?(level: number): Uint32Array;
  /** Digest path: the server's `buckets` bitmap (MSB first), already checked against the level. */
  onBuckets?(level: number, replaced: Uint8Array): void;
  /** Every frame read, with its size on the wire (compressed as sent). */
  onBytes?(bytes: number): void;
  /**
   * A `kvs` frame the decoder accepted could not be scanned for buckets and KV hashes (a bug on
   * one side): its entries are applied without hashes, which turns digest catch-up off until
   * those keys are replaced. Reported once per session.
   */
  onHashFailure?(error: CattailClientError): void;
}

export type { CatchUpOffer } from './catchUpWire.ts';

export interface ConnectionOptions {
  readonly url: string;
  readonly syncerType: string;
  readonly hostname: string;
  readonly clientVersion: string;
  readonly clientInfo: string;
  readonly clientConnId: string;
  /** TCP connect + TLS + HTTP upgrade. */
  readonly connectTimeoutMs: number;
  /** From the upgrade to the serverHello. */
  readonly handshakeTimeoutMs: number;
  /** Silence after which the path is presumed dead (the server pings every 10 s). */
  readonly readTimeoutMs: number;
  /** A send that has not reached the kernel after this long means a stuck socket. */
  readonly writeTimeoutMs: number;
  /** Largest server frame accepted, plain or once decompressed. */
  readonly maxFrameBytes: number;
  /** Offer zstd in the hello (see options.ts). */
  readonly compression: boolean;
  readonly tls: SocketTlsOptions | undefined;
  /** Catch-up capabilities to offer; undefined offers none (a full snapshot, as before §11). */
  readonly catchUp?: CatchUpOffer;
  /** Compute each received entry's bucket and KV hash (needed to offer digests later). */
  readonly hashKvs?: boolean;
  /** The frame scanner (default `protocol.scanKvsFrame`); injectable for tests. */
  readonly scanKvs?: (plain: Uint8Array) => readonly ScannedEntry[];
  /** Only ask for the server's status (§11 probe): the session ends right after its serverHello. */
  readonly probe?: boolean;
}

/** How a session ended, for the lifecycle to decide what to do next. */
export interface ConnectionOutcome extends DisconnectInfo {
  /** The server refused this hello; retrying it unchanged cannot help. */
  readonly fatal: boolean;
  /** The server asked the client to go elsewhere (rebalance, shutdown) or misbehaved. */
  readonly moveOn: boolean;
}

type Phase = 'connecting' | 'hello' | 'buckets' | 'snapshot' | 'streaming' | 'closed';

/** Give the server this long to answer our close frame before dropping the socket. */
const CLOSE_GRACE_MS = 1000;
/** Most of a refused upgrade's body kept as its reason. */
const MAX_REFUSAL_BYTES = 1024;
/** RFC 6455 limits a close reason to 123 bytes. */
const MAX_REASON_BYTES = 123;

/**
 * One WebSocket session: hello → serverHello → snapshot → ack → deltas, status and pings.
 *
 * It owns the socket and its timers and nothing else: decoded messages go to the listener,
 * the outcome comes back from `run()`. Any misbehaviour (bad frame, message in the wrong phase,
 * timeout) ends this session only, with a classified error; nothing here throws to the caller.
 *
 * Read timeout, implementation: one timer per session, re-armed lazily against the time of the
 * last read, rather than one timer reset per message, which would cost a timer per frame.
 */
export class Connection {
  readonly #options: ConnectionOptions;
  readonly #listener: SessionListener;
  readonly #codec = new Codec();
  readonly #writeTimers = new Set<NodeJS.Timeout>();
  #ws: WebSocket | undefined;
  #phase: Phase = 'connecting';
  #error: CattailClientError | undefined;
  #closedByUs = false;
  #lastReadAt = 0;
  #readTimer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #streamed = false;
  /** The serverHello chose zstd: frames that start with its magic number are decompressed. */
  #compressed = false;
  /** The serverHello chose resume: no `kvs` may precede the snapshotEnd. */
  #resumed = false;
  #hashFailureReported = false;

  constructor(options: ConnectionOptions, listener: SessionListener) {
    this.#options = options;
    this.#listener = listener;
  }

  get streamed(): boolean {
    return this.#streamed;
  }

  /** Opens the socket and resolves once it is closed, however that happened. Never rejects. */
  run(): Promise<ConnectionOutcome> {
    return new Promise((resolve) => {
      const o = this.#options;
      let ws: WebSocket;
      try {
        ws = new WebSocket(o.url, {
          perMessageDeflate: false,
          handshakeTimeout: o.connectTimeoutMs,
          maxPayload: o.maxFrameBytes,
          followRedirects: false,
          // ws's own typing of checkServerIdentity is not Node's; ws hands these to tls.connect as they are.
          ...(o.tls as unknown as WebSocket.ClientOptions | undefined),
        });
      } catch (err) {
        resolve(this.#outcome(1006, '', asClientError(err, 'CONNECT_FAILED', o.url)));
        return;
      }
      this.#ws = ws;
      ws.on('open', () => this.#onOpen());
      ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
      ws.on('ping', () => { this.#lastReadAt = Date.now(); });
      ws.on('unexpected-response', (_req, res) => this.#onRefusedUpgrade(ws, res));
      ws.on('error', (err) => this.#onSocketError(err));
      ws.on('close', (code, reason) => {
        this.#phase = 'closed';
        this.#clearTimers();
        resolve(this.#outcome(code, reason.toString('utf8'), this.#error));
      });
      if (this.#closedByUs) ws.terminate();
    });
  }

  /** Ends the session on purpose (client shutting down). Idempotent. */
  close(code: number = CloseCode.normal, reason = 'client closing'): void {
    this.#closedByUs = true;
    this.#shutdown(code, reason);
  }

  #onOpen(): void {
    const o = this.#options;
    this.#phase = 'hello';
    this.#lastReadAt = Date.now();
    this.#armReadTimer(o.readTimeoutMs);
    this.#handshakeTimer = setTimeout(() => {
      this.#fail(new CattailClientError('HANDSHAKE_TIMEOUT', `${o.url}: no serverHello within ${o.handshakeTimeoutMs} ms`, { address: o.url }));
    }, o.handshakeTimeoutMs);
    this.#send({
      type: 'hello', protocolVersion: PROTOCOL_VERSION, syncerType: o.syncerType, hostname: o.hostname,
      clientVersion: o.clientVersion, clientInfo: o.clientInfo, clientConnId: o.clientConnId,
      capabilities: this.#capabilities(),
    });
  }

  #capabilities(): ClientCapabilities {
    const o = this.#options;
    return helloCapabilities(o.compression ? SUPPORTED_COMPRESSION : undefined, o.probe === true ? 'probe' : o.catchUp);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.#phase === 'closed' || this.#error !== undefined || this.#closedByUs) return;
    this.#lastReadAt = Date.now();
    if (!isBinary) {
      this.#protocolError(CloseCode.badFrame, 'text frames are not part of the protocol');
      return;
    }
    let msg: ServerMessage | UnknownServerMessage;
    let hashes: readonly KvHash[] | undefined;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.#listener.onBytes?.(bytes.length);
      if (isCompressedFrame(bytes) && !this.#compressed) throw new ProtocolError(CloseCode.badFrame, 'compressed frame on a connection that did not negotiate compression');
      const plain = this.#compressed && isCompressedFrame(bytes) ? decompressFrame(bytes, this.#options.maxFrameBytes) : bytes;
      msg = this.#codec.decodeServer(plain);
      if (msg.type === 'kvs' && this.#options.hashKvs === true) hashes = this.#hashes(plain, msg.kvs);
    } catch (err) {
      const code = err instanceof ProtocolError ? err.closeCode : CloseCode.badFrame;
      this.#protocolError(code, (err as Error).message, err);
      return;
    }
    try {
      this.#dispatch(msg, hashes);
    } catch (err) {
      // A listener bug must not leave the session half-alive; end it and report.
      this.#fail(asClientError(err, 'PROTOCOL', this.#options.url), CloseCode.normal);
    }
  }

  #dispatch(msg: ServerMessage | UnknownServerMessage, hashes: readonly KvHash[] | undefined): void {
    const o = this.#options;
    switch (msg.type) {
      case 'unknown':
        // PROTOCOL.md §7: a message type this client never advertised is ignored.
        return;
      case 'serverHello': {
        if (this.#phase !== 'hello') return this.#protocolError(CloseCode.protocolError, 'second serverHello');
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          return this.#protocolError(CloseCode.protocolError, `server speaks protocol version ${msg.protocolVersion}, client speaks ${PROTOCOL_VERSION}`);
        }
        // Typha's rule: an empty echo means the server predates syncer types and serves felix.
        const served = msg.syncerType === '' ? 'felix' : msg.syncerType;
        if (served !== o.syncerType) {
          return this.#protocolError(CloseCode.protocolError, `server answered for syncer type ${JSON.stringify(served)}, client asked for ${JSON.stringify(o.syncerType)}`);
        }
        if (msg.compression !== null && !(o.compression && SUPPORTED_COMPRESSION.includes(msg.compression))) {
          return this.#protocolError(CloseCode.protocolError, `server chose compression ${JSON.stringify(msg.compression)}, which this client did not offer`);
        }
        const catchUp = msg.catchUp ?? null;
        const problem = catchUpProblem(this.#options.probe === true ? undefined : this.#options.catchUp, catchUp, msg.serverInstanceId);
        if (problem !== undefined) return this.#protocolError(CloseCode.protocolError, problem);
        clearTimeout(this.#handshakeTimer);
        this.#phase = catchUp === 'digest' ? 'buckets' : 'snapshot';
        this.#resumed = catchUp === 'resume';
        this.#compressed = msg.compression !== null;
        this.#listener.onServerHello({
          url: o.url, serverInstanceId: msg.serverInstanceId, serverVersion: msg.serverVersion,
          connectionId: msg.connectionId, clientConnId: o.clientConnId, syncerType: served, compression: msg.compression,
          catchUp, catchUpReason: msg.catchUpReason ?? undefined, serverStatus: msg.status ?? undefined,
        });
        if (o.probe === true) {
          this.close(CloseCode.normal, 'probe answered');
          return;
        }
        if (catchUp === 'digest') this.#sendDigests(o.catchUp?.digestLevel as number);
        return;
      }
      case 'buckets': {
        if (this.#phase !== 'buckets') return this.#protocolError(CloseCode.protocolError, `buckets in phase ${this.#phase}`);
        const level = o.catchUp?.digestLevel as number;
        if (msg.level !== level) return this.#protocolError(CloseCode.badFrame, `buckets.level ${msg.level} is not the level offered (${level})`);
        const expected = Math.ceil(2 ** level / 8);
        if (msg.replaced.length !== expected) return this.#protocolError(CloseCode.badFrame, `buckets.replaced has ${msg.replaced.length} bytes, level ${level} needs ${expected}`);
        this.#phase = 'snapshot';
        this.#listener.onBuckets?.(level, msg.replaced);
        return;
      }
      case 'kvs':
        if (this.#phase !== 'snapshot' && this.#phase !== 'streaming') return this.#protocolError(CloseCode.protocolError, `kvs in phase ${this.#phase}`);
        if (this.#resumed && this.#phase === 'snapshot') return this.#protocolError(CloseCode.protocolError, 'kvs before snapshotEnd on a resumed connection');
        this.#listener.onKvs(msg.kvs, hashes, msg.seq ?? undefined);
        return;
      case 'snapshotEnd':
        if (this.#phase !== 'snapshot') return this.#protocolError(CloseCode.protocolError, `snapshotEnd in phase ${this.#phase}`);
        this.#phase = 'streaming';
        this.#streamed = true;
        this.#send({ type: 'ack' });
        this.#listener.onSnapshotEnd(msg.seq, msg.keys);
        return;
      case 'status':
        // A status inside the snapshot could announce in-sync before the snapshot's own keys
        // arrived, which would make the resync buffer delete them: refuse it.
        if (this.#phase !== 'streaming') return this.#protocolError(CloseCode.protocolError, `status in phase ${this.#phase}`);
        this.#listener.onStatus(msg.status);
        return;
      case 'ping':
        this.#send({ type: 'pong', pingTimestamp: msg.timestamp });
        return;
    }
  }

  /**
   * The frame's buckets and KV hashes, or undefined when the scan fails: a frame the decoder
   * accepted is applied either way, so a scanner bug can cost digest catch-up, never the sync.
   */
  #hashes(plain: Uint8Array, kvs: readonly WireKV[]): readonly KvHash[] | undefined {
    try {
      return hashesOf(this.#options.scanKvs ?? scanKvsFrame, plain, kvs);
    } catch (err) {
      if (!this.#hashFailureReported) {
        this.#hashFailureReported = true;
        const url = this.#options.url;
        this.#listener.onHashFailure?.(new CattailClientError('PROTOCOL',
          `${url}: a kvs frame could not be scanned for digests (${(err as Error).message}); its keys are held without hashes and digest catch-up is off until they are replaced`,
          { address: url, cause: err }));
      }
      return undefined;
    }
  }

  /** §11 digest path: the bucket digests at `level`, in order. */
  #sendDigests(level: number): void {
    const digests = this.#listener.digests?.(level);
    if (digests === undefined || digests.length !== 2 * 2 ** level) {
      this.#fail(new CattailClientError('PROTOCOL', `${this.#options.url}: no digests at level ${level} to upload`, { address: this.#options.url }), CloseCode.normal);
      return;
    }
    for (const message of digestsMessages(digests, level)) this.#send(message);
  }

  #send(message: ClientMessage): void {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    const timer = setTimeout(() => {
      this.#writeTimers.delete(timer);
      this.#fail(new CattailClientError('WRITE_TIMEOUT', `${this.#options.url}: a write made no progress for ${this.#options.writeTimeoutMs} ms`, { address: this.#options.url }));
    }, this.#options.writeTimeoutMs);
    this.#writeTimers.add(timer);
    ws.send(this.#codec.encode(message), (err) => {
      clearTimeout(timer);
      this.#writeTimers.delete(timer);
      if (err && this.#phase !== 'closed') this.#fail(asClientError(err, 'CONNECT_FAILED', this.#options.url));
    });
  }

  #armReadTimer(delayMs: number): void {
    this.#readTimer = setTimeout(() => {
      const silentFor = Date.now() - this.#lastReadAt;
      const timeout = this.#options.readTimeoutMs;
      if (silentFor < timeout) {
        this.#armReadTimer(timeout - silentFor);
        return;
      }
      this.#fail(new CattailClientError('READ_TIMEOUT', `${this.#options.url}: nothing read for ${silentFor} ms (read timeout ${timeout} ms)`, { address: this.#options.url }));
    }, Math.max(1, delayMs));
  }

  /**
   * The server answered the upgrade with an HTTP error instead of 101: read its reason (the
   * body, bounded) so the refusal is reported as what it is, then drop the attempt. 401/403
   * (a client certificate the server does not accept) are refusals: retrying cannot help.
   */
  #onRefusedUpgrade(ws: WebSocket, res: IncomingMessage): void {
    const url = this.#options.url;
    const status = res.statusCode ?? 0;
    let body = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const reason = body.trim().slice(0, MAX_REFUSAL_BYTES) || res.statusMessage || 'no reason given';
      this.#error ??= status === 401 || status === 403
        ? new CattailClientError('REFUSED', `${url} refused the connection (HTTP ${status}): ${reason}`, { address: url, httpStatus: status })
        : new CattailClientError('CONNECT_FAILED', `${url}: upgrade refused with HTTP ${status}: ${reason}`, { address: url, httpStatus: status });
      ws.terminate();
    };
    // A server that never finishes its body must not hold the attempt open.
    const timer = setTimeout(finish, CLOSE_GRACE_MS);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => { if (body.length < MAX_REFUSAL_BYTES) body += chunk; });
    res.once('end', finish);
    res.once('error', finish);
    res.once('close', finish);
  }

  #onSocketError(err: Error): void {
    if (this.#error !== undefined || this.#closedByUs) return;
    const url = this.#options.url;
    this.#error = classifyTlsError(err, url)
      ?? new CattailClientError('CONNECT_FAILED', `${url}: ${err.message}`, { address: url, cause: err });
  }

  #protocolError(closeCode: number, message: string, cause?: unknown): void {
    const url = this.#options.url;
    this.#fail(new CattailClientError('PROTOCOL', `${url}: ${message}`, { address: url, closeCode, cause }), closeCode);
  }

  /** Ends the session because of `error`; with a close code the server is told why, else the socket is dropped. */
  #fail(error: CattailClientError, closeCode?: number): void {
    if (this.#error === undefined) this.#error = error;
    if (closeCode === undefined) this.#ws?.terminate();
    else this.#shutdown(closeCode, error.message);
  }

  #shutdown(code: number, reason: string): void {
    const ws = this.#ws;
    if (ws === undefined || this.#phase === 'closed') return;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    let bytes = Buffer.from(reason, 'utf8');
    if (bytes.length > MAX_REASON_BYTES) bytes = bytes.subarray(0, MAX_REASON_BYTES);
    try {
      ws.close(code, bytes.toString('utf8').replace(/\uFFFD$/, ''));
    } catch {
      ws.terminate();
      return;
    }
    // Hostile or dead peers never answer the close frame; do not wait ws's 30 s for them.
    this.#killTimer ??= setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  }

  #clearTimers(): void {
    clearTimeout(this.#readTimer);
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#killTimer);
    for (const t of this.#writeTimers) clearTimeout(t);
    this.#writeTimers.clear();
  }

  #outcome(code: number, reason: string, error: CattailClientError | undefined): ConnectionOutcome {
    const url = this.#options.url;
    let err = error;
    const serverClosed = err === undefined && !this.#closedByUs;
    if (serverClosed) {
      if (FATAL_CLOSE_CODES.has(code)) {
        err = new CattailClientError('REFUSED', `${url} refused the connection (close ${code}): ${reason || 'no reason given'}`, { address: url, closeCode: code });
      } else {
        const why = code === 1006 ? 'connection dropped without a close frame' : `server closed the connection (close ${code}${reason ? `: ${reason}` : ''})`;
        err = new CattailClientError('SERVER_CLOSED', `${url}: ${why}`, { address: url, closeCode: code });
      }
    }
    return {
      url, code, reason, error: err, streamed: this.#streamed,
      fatal: err?.code === 'REFUSED',
      // 429 (this source is at the server's per-source cap) and 503 (shutting down): try another replica.
      moveOn: MOVE_ON_CLOSE_CODES.has(code) || err?.code === 'PROTOCOL' || err?.code === 'READ_TIMEOUT' || err?.httpStatus === 429 || err?.httpStatus === 503,
    };
  }
}

