/**
 * The language-neutral conformance scenario format. A scenario file (JSON, in `scenarios/`)
 * says what a scripted server does on each connection a client opens, and what the client
 * must end with. Any client passes it through an adapter (see `adapters/`), so a client in a
 * third language needs only an adapter.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** One thing the scripted server does, in order, on one connection. */
export type Step =
  /** Wait for the client's next message, which must be of this type (a pong must echo the last ping's timestamp). */
  | { readonly recv: 'hello' | 'ack' | 'pong' }
  /** Send serverHello (echoing the hello's syncer type unless `syncerType` is given); extra fields are sent too. */
  | { readonly serverHello: Readonly<Record<string, unknown>> }
  /** Send one kvs frame of [key, value, revision, updateType, ...extra] entries. */
  | { readonly kvs: readonly (readonly unknown[])[] }
  /** Send a generated snapshot: `keys` entries of `valueBytes`-long string values, in kvs frames of at most 1000. */
  | { readonly hugeSnapshot: { readonly keys: number; readonly valueBytes: number; readonly prefix: string } }
  | { readonly snapshotEnd: { readonly seq: number; readonly keys: number } }
  | { readonly status: string }
  | { readonly ping: number }
  /** Send any map as one MessagePack frame (unknown types and fields). */
  | { readonly send: Readonly<Record<string, unknown>> }
  /** Send these bytes as one binary frame (garbage). */
  | { readonly sendHex: string }
  | { readonly sendText: string }
  /** Send a valid kvs frame of exactly this many bytes (over a client's frame limit). */
  | { readonly sendFrameBytes: number }
  | { readonly pauseMs: number }
  /** Close with this code and reason. */
  | { readonly close: readonly [number, string] }
  /** Wait until the client closes or cuts the connection (read timeout, protocol error). */
  | { readonly awaitClientClose: true };

export interface ScenarioConnection {
  /** serverHello.serverInstanceId on this connection (a new one models a restart or another replica). */
  readonly instanceId: string;
  /** When set, this attempt's WebSocket upgrade is refused with this HTTP status and text body (PROTOCOL.md §9.2); no steps run. */
  readonly httpRefusal?: readonly [number, string];
  readonly steps: readonly Step[];
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Client settings the adapter applies (all optional). */
  readonly client: {
    readonly syncerType?: string;
    readonly readTimeoutMs?: number;
  };
  /**
   * After a connection's script ends, ping the client every `keepAlivePingMs` until it closes
   * (for scenarios with a short client read timeout, so a finished scenario stays connected).
   */
  readonly server?: { readonly keepAlivePingMs?: number };
  /** Scripts for the 1st, 2nd, ... connection; a connection past the last script gets no answer. */
  readonly connections: readonly ScenarioConnection[];
  readonly expect: {
    /** Statuses the agent must have been told, in this order (others may come between). */
    readonly statuses: readonly string[];
    /** The last status the agent was told; the scenario ends once it is reached. */
    readonly finalStatus?: string;
    /** True when the client must stop for good (a refusal); the scenario ends when it does. */
    readonly stopped: boolean;
    /** The agent's final key → value map, as built from the updates delivered to it. */
    readonly state: Readonly<Record<string, unknown>>;
    /** When given, the final map has this many keys and `state` lists only some of them. */
    readonly keyCount?: number;
    /** How many connection attempts (WebSocket upgrades, refused ones included) the client made in all. */
    readonly connections: number;
    /** Error codes the client must have reported (as the adapter prints them), in any order. */
    readonly errors: readonly string[];
  };
}

export const SCENARIO_DIR = path.join(import.meta.dirname, 'scenarios');

export function loadScenarios(): Scenario[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), ...JSON.parse(readFileSync(path.join(SCENARIO_DIR, f), 'utf8')) }) as Scenario);
}
