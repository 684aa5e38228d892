import { lookup as dnsLookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import { DEFAULT_SYNC_PATH, DEFAULT_SYNC_PORT } from '../../../src/protocol/index.ts';
import { CattailClientError } from './errors.ts';
import type { ServerAddress } from './types.ts';

/**
 * Where the servers are. `load()` is called before every connection attempt (Typha v3.26+
 * reloads between attempts), so replicas that are shutting down during an upgrade drop out of
 * the list as soon as the source says so. It returns the candidates in preference order;
 * it may throw a CattailClientError('DISCOVERY_FAILED').
 */
export interface Discovery {
  load(): Promise<readonly ServerAddress[]>;
  /** For logs and error messages, e.g. "dns localhost:5473". */
  readonly description: string;
}

/** `host:port` with IPv6 hosts bracketed, like Go's JoinHostPort (felix#2017 was this bug). */
export function joinHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Normalises what a user types into a sync URL: `host`, `host:port`, `ws://host:port` or a full
 * URL with a path. A missing scheme becomes ws (or wss with TLS), a missing port 5473 and a
 * missing path `/sync`.
 */
export function toSyncUrl(address: string, secure: boolean): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `${secure ? 'wss' : 'ws'}://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CattailClientError('INVALID_OPTIONS', `server address ${JSON.stringify(address)} is not host:port or a ws:// / wss:// URL`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new CattailClientError('INVALID_OPTIONS', `server address ${JSON.stringify(address)} must use ws:// or wss://`);
  }
  if (url.port === '') url.port = String(DEFAULT_SYNC_PORT);
  if (url.pathname === '/' || url.pathname === '') url.pathname = DEFAULT_SYNC_PATH;
  return url.toString();
}

/** Fisher–Yates into a new array; `random` is injectable so tests can fix the order. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Same-node servers first, then the rest, each group shuffled so a herd of clients spreads out.
 * A server on the client's own node is reachable without crossing the wire, which is what
 * bootstrapping (and WireGuard with stale keys, calico#5125) needs.
 */
export function localFirst(addresses: readonly ServerAddress[], nodeName: string | undefined, random: () => number): ServerAddress[] {
  const local = nodeName === undefined ? [] : addresses.filter((a) => a.nodeName === nodeName);
  const remote = nodeName === undefined ? addresses : addresses.filter((a) => a.nodeName !== nodeName);
  return [...shuffle(local, random), ...shuffle(remote, random)];
}

/** A fixed list of servers, shuffled on every load so that clients given the same list spread out. */
export class StaticDiscovery implements Discovery {
  readonly #addresses: readonly ServerAddress[];
  readonly #random: () => number;
  readonly description: string;

  constructor(servers: readonly string[], options: { secure: boolean; shuffle: boolean; random: () => number }) {
    if (servers.length === 0) throw new CattailClientError('INVALID_OPTIONS', 'servers must list at least one address');
    this.#addresses = servers.map((s) => ({ url: toSyncUrl(s, options.secure) }));
    this.#random = options.shuffle ? options.random : () => 0.999_999;
    this.description = `static ${this.#addresses.map((a) => a.url).join(', ')}`;
  }

  load(): Promise<readonly ServerAddress[]> {
    return Promise.resolve(shuffle(this.#addresses, this.#random));
  }
}

export interface DnsDiscoveryOptions {
  /** A name resolving to one address per replica (e.g. a headless Service). */
  readonly name: string;
  readonly port?: number;
  /** Restrict to IPv4 or IPv6; both by default. */
  readonly family?: 4 | 6;
}

type Lookup = (name: string, options: { all: true; family?: number }) => Promise<{ address: string; family: number }[]>;

/** A DNS name resolved afresh on every load (the OS resolver, so /etc/hosts applies). */
export class DnsDiscovery implements Discovery {
  readonly #options: DnsDiscoveryOptions;
  readonly #secure: boolean;
  readonly #random: () => number;
  readonly #lookup: Lookup;
  readonly description: string;

  constructor(options: DnsDiscoveryOptions, settings: { secure: boolean; random: () => number; lookup?: Lookup }) {
    if (!options.name) throw new CattailClientError('INVALID_OPTIONS', 'dns.name must be set');
    this.#options = options;
    this.#secure = settings.secure;
    this.#random = settings.random;
    this.#lookup = settings.lookup ?? ((name, o) => dnsLookup(name, o));
    this.description = `dns ${joinHostPort(options.name, options.port ?? DEFAULT_SYNC_PORT)}`;
  }

  async load(): Promise<readonly ServerAddress[]> {
    const port = this.#options.port ?? DEFAULT_SYNC_PORT;
    let found: { address: string }[];
    try {
      found = await this.#lookup(this.#options.name, { all: true, ...(this.#options.family === undefined ? {} : { family: this.#options.family }) });
    } catch (err) {
      throw new CattailClientError('DISCOVERY_FAILED', `cannot resolve ${this.#options.name}: ${(err as Error).message}`, { cause: err });
    }
    const unique = [...new Set(found.map((f) => f.address))];
    const scheme = this.#secure ? 'wss' : 'ws';
    return shuffle(unique.map((ip) => ({ url: `${scheme}://${joinHostPort(ip, port)}${DEFAULT_SYNC_PATH}` })), this.#random);
  }
}
