import { hostname as osHostname } from 'node:os';
import { DEFAULT_MAX_VALUE_BYTES, largestServerFrameBytes } from '../../../src/protocol/index.ts';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { DnsDiscovery, StaticDiscovery, type Discovery, type DnsDiscoveryOptions } from './discovery.ts';
import { CattailClientError } from './errors.ts';
import { KubernetesDiscovery, type KubernetesDiscoveryOptions } from './kubernetesDiscovery.ts';
import { systemClientClock, type ClientClock } from './staleWatch.ts';
import { validateTlsOptions, type TlsOptions } from './tls.ts';
import type { SyncerType, SyncHandler } from './types.ts';
import { CLIENT_VERSION } from './version.ts';

/**
 * Everything a SyncClient can be told. Exactly one of `servers`, `dns`, `kubernetes` and
 * `discovery` says where the servers are. Durations are in milliseconds and end in `Ms`.
 */
export interface SyncClientOptions {
  /** Receives updates and statuses; awaited call by call. */
  readonly handler: SyncHandler;
  /** Static addresses: `host:port`, `ws://host:port[/sync]` or `wss://...`. */
  readonly servers?: readonly string[];
  /** Shuffle `servers` on every attempt so clients with the same list spread out. Default true. */
  readonly shuffleServers?: boolean;
  readonly dns?: DnsDiscoveryOptions;
  readonly kubernetes?: KubernetesDiscoveryOptions;
  /** Any other source of addresses. */
  readonly discovery?: Discovery;
  /** Default `felix`. */
  readonly syncerType?: SyncerType;
  /** Sent in the hello and shown in the server's logs; default the OS hostname. */
  readonly hostname?: string;
  /** Free text for the server's logs, e.g. the agent's name and version. */
  readonly clientInfo?: string;
  /** TLS towards the servers; bare `host:port` addresses then use wss. */
  readonly tls?: TlsOptions;
  /** TCP connect + TLS + HTTP upgrade. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Upgrade to serverHello. Default 10 s (the server's handshake timeout). */
  readonly handshakeTimeoutMs?: number;
  /** Silence that means a dead path. Default 30 s: three missed 10 s pings. */
  readonly readTimeoutMs?: number;
  /** A send that has not reached the kernel after this long means a stuck socket. Default 10 s. */
  readonly writeTimeoutMs?: number;
  /**
   * Largest server frame accepted. Default: the largest frame a server with the default
   * `--max-value-bytes` sends (`largestServerFrameBytes`, 2,162,705 bytes); raise it with that flag.
   */
  readonly maxFrameBytes?: number;
  /**
   * Offer zstd compression in the hello. Default true: a server that supports it sends its
   * snapshot and delta frames compressed (decoded here within `maxFrameBytes`); false asks for
   * plain frames.
   */
  readonly compression?: boolean;
  /** Most updates per `onUpdates` call. Default 100 (Typha's dedupe buffer). */
  readonly maxBatchSize?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /**
   * Catch-up on reconnect (docs/PROTOCOL.md §11). Default true: the client offers its resume
   * position (a reconnect to the same server instance receives only the deltas it missed) and
   * its bucket digests (a reconnect to any replica receives only the buckets that differ), and
   * computes a bucket and a KV hash for every entry it receives. False offers neither: every
   * reconnect is a full snapshot, as before.
   */
  readonly catchUp?: boolean;
  /**
   * Leave a stale replica (§11): when the current connection's status has been anything but
   * `in-sync` for this long and discovery lists another replica, probe one (jittered, doubling
   * intervals up to 10 min) and move to it, closing this one with 4030, if it is in sync.
   * Default 120000; 0 = never.
   */
  readonly leaveStaleAfterMs?: number;
  /** Randomness for shuffling and jitter; injectable for tests. */
  readonly random?: () => number;
  /** Time for the stale-replica timer; injectable for tests. */
  readonly clock?: ClientClock;
}

export interface ResolvedOptions {
  readonly handler: SyncHandler;
  readonly discovery: Discovery;
  readonly syncerType: string;
  readonly hostname: string;
  readonly clientVersion: string;
  readonly clientInfo: string;
  readonly tls: TlsOptions | undefined;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly compression: boolean;
  readonly maxBatchSize: number;
  readonly backoff: BackoffOptions;
  readonly catchUp: boolean;
  readonly leaveStaleAfterMs: number;
  readonly random: () => number;
  readonly clock: ClientClock;
}

export const DEFAULTS = Object.freeze({
  syncerType: 'felix',
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  writeTimeoutMs: 10_000,
  // Exactly the largest frame a default server sends (docs/PROTOCOL.md, "Frame sizes").
  maxFrameBytes: largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES),
  compression: true,
  maxBatchSize: 100,
  catchUp: true,
  leaveStaleAfterMs: 120_000,
});

/** Validates and fills in defaults. Reports every problem at once in one INVALID_OPTIONS error. */
export function resolveOptions(options: SyncClientOptions): ResolvedOptions {
  const problems: string[] = [];
  const handler = options?.handler;
  if (handler === undefined || typeof handler.onUpdates !== 'function' || typeof handler.onStatus !== 'function') {
    problems.push('handler must have onUpdates() and onStatus()');
  }
  const sources = (['servers', 'dns', 'kubernetes', 'discovery'] as const).filter((k) => options?.[k] !== undefined);
  if (sources.length !== 1) problems.push(`set exactly one of servers, dns, kubernetes, discovery (got ${sources.length === 0 ? 'none' : sources.join(', ')})`);
  const positive = (name: keyof SyncClientOptions, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${name} must be a positive number, got ${String(value)}`);
    return value;
  };
  const connectTimeoutMs = positive('connectTimeoutMs', options?.connectTimeoutMs, DEFAULTS.connectTimeoutMs);
  const handshakeTimeoutMs = positive('handshakeTimeoutMs', options?.handshakeTimeoutMs, DEFAULTS.handshakeTimeoutMs);
  const readTimeoutMs = positive('readTimeoutMs', options?.readTimeoutMs, DEFAULTS.readTimeoutMs);
  const writeTimeoutMs = positive('writeTimeoutMs', options?.writeTimeoutMs, DEFAULTS.writeTimeoutMs);
  const maxFrameBytes = positive('maxFrameBytes', options?.maxFrameBytes, DEFAULTS.maxFrameBytes);
  const compression = options?.compression ?? DEFAULTS.compression;
  if (typeof compression !== 'boolean') problems.push(`compression must be true or false, got ${String(compression)}`);
  const maxBatchSize = Math.floor(positive('maxBatchSize', options?.maxBatchSize, DEFAULTS.maxBatchSize));
  const catchUp = options?.catchUp ?? DEFAULTS.catchUp;
  if (typeof catchUp !== 'boolean') problems.push(`catchUp must be true or false, got ${String(catchUp)}`);
  const leaveStaleAfterMs = options?.leaveStaleAfterMs ?? DEFAULTS.leaveStaleAfterMs;
  if (typeof leaveStaleAfterMs !== 'number' || !Number.isFinite(leaveStaleAfterMs) || leaveStaleAfterMs < 0) {
    problems.push(`leaveStaleAfterMs must be 0 (never) or a positive number, got ${String(leaveStaleAfterMs)}`);
  }
  const backoff = { ...DEFAULT_BACKOFF, ...options?.backoff };
  if (!(backoff.initialDelayMs >= 0) || !(backoff.maxDelayMs >= backoff.initialDelayMs) || !(backoff.multiplier >= 1) || !(backoff.jitter >= 0 && backoff.jitter <= 1)) {
    problems.push('backoff needs 0 ≤ initialDelayMs ≤ maxDelayMs, multiplier ≥ 1 and 0 ≤ jitter ≤ 1');
  }
  const syncerType = options?.syncerType ?? DEFAULTS.syncerType;
  if (!syncerType || syncerType.length > 64) problems.push('syncerType must be 1–64 characters');
  const hostname = options?.hostname ?? osHostname();
  if (!hostname || hostname.length > 253) problems.push('hostname must be 1–253 characters');
  if (options?.tls !== undefined) {
    problems.push(...validateTlsOptions(options.tls));
    const plain = (options.servers ?? []).filter((s) => /^ws:\/\//i.test(s));
    if (plain.length > 0) problems.push(`tls is set but ${plain.join(', ')} use plain ws://`);
  }
  const random = options?.random ?? Math.random;

  let discovery: Discovery | undefined;
  if (problems.length === 0) {
    const secure = options.tls !== undefined;
    try {
      if (options.servers !== undefined) {
        discovery = new StaticDiscovery(options.servers, { secure, shuffle: options.shuffleServers ?? true, random });
      } else if (options.dns !== undefined) {
        discovery = new DnsDiscovery(options.dns, { secure, random });
      } else if (options.kubernetes !== undefined) {
        discovery = new KubernetesDiscovery(options.kubernetes, { secure, random });
      } else {
        discovery = options.discovery;
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0 || discovery === undefined) {
    throw new CattailClientError('INVALID_OPTIONS', `invalid SyncClient options: ${problems.join('; ')}`);
  }
  return Object.freeze({
    handler: handler as SyncHandler, discovery, syncerType, hostname,
    clientVersion: CLIENT_VERSION,
    clientInfo: options.clientInfo ?? `@cattail/client ${CLIENT_VERSION} node ${process.versions.node}`,
    tls: options.tls, connectTimeoutMs, handshakeTimeoutMs, readTimeoutMs, writeTimeoutMs, maxFrameBytes, compression, maxBatchSize,
    backoff: Object.freeze(backoff), catchUp, leaveStaleAfterMs, random, clock: options.clock ?? systemClientClock,
  });
}
