/**
 * One torture agent: a real SyncClient with a recording host, reaching each replica through its
 * own TortureProxy (so the test can cut, refuse, pause or kill the path to one replica), with a
 * server list of the replicas its spec names. Restarting the agent replaces the client and its
 * host; the old host is kept for its violations.
 */
import { SyncClient, type SyncClientOptions, type SyncerType } from '../../clients/typescript/src/index.ts';
import { CatchUpTally } from './catchUpTally.ts';
import { TortureProxy } from './proxy.ts';
import { RecordingHost } from './recorder.ts';
import type { ClientSpec } from './schedule.ts';

/**
 * How long a catch-up client stays on a replica that is not in sync before it probes another
 * (PROTOCOL.md §11, leaving a stale replica): short enough for an `isolateReplica` step to
 * trigger it (the server's upstream goes stale after 1.5 s, TORTURE_FLAGS).
 */
export const LEAVE_STALE_AFTER_MS = 1_500;

export class Agent {
  readonly index: number;
  readonly spec: ClientSpec;
  /** One per replica, by replica index. */
  readonly proxies: readonly TortureProxy[];
  readonly tally = new CatchUpTally();
  readonly retired: RecordingHost[] = [];
  host!: RecordingHost;
  client!: SyncClient;
  #generation = 0;
  #leftStaleBefore = 0;

  private constructor(index: number, spec: ClientSpec, proxies: readonly TortureProxy[]) {
    this.index = index;
    this.spec = spec;
    this.proxies = proxies;
  }

  /** `ports[r]` is replica r's sync port. */
  static async start(index: number, spec: ClientSpec, ports: readonly number[]): Promise<Agent> {
    const proxies = ports.map((p) => new TortureProxy(p));
    for (const p of proxies) await p.start();
    const agent = new Agent(index, spec, proxies);
    agent.#newClient();
    return agent;
  }

  get syncerType(): SyncerType {
    return this.spec.syncerType as SyncerType;
  }

  /** The agent restarts: a new SyncClient and host, from nothing. */
  async restart(): Promise<void> {
    this.host.resume();
    await this.client.close();
    this.#leftStaleBefore += this.client.stats.leftStale;
    this.retired.push(this.host);
    this.#newClient();
  }

  /** Every connection of this agent cut (the client sees 1006). */
  cut(): void {
    for (const p of this.proxies) p.cut();
  }

  block(on: boolean, reason?: string): void {
    for (const p of this.proxies) p.block(on, reason);
  }

  pause(on: boolean): void {
    for (const p of this.proxies) p.pause(on);
  }

  /** Times this agent's clients left a stale replica (closed it with 4030 for an in-sync one). */
  get leftStale(): number {
    return this.#leftStaleBefore + this.client.stats.leftStale;
  }

  /** The replica this agent's client is connected to now, if any (the proxy holding a connection). */
  connectedReplica(): number | undefined {
    const i = this.proxies.findIndex((p) => p.connections > 0);
    return i < 0 ? undefined : i;
  }

  async close(): Promise<void> {
    this.host.resume();
    await this.client.close();
    await Promise.all(this.proxies.map((p) => p.close()));
  }

  #newClient(): void {
    this.#generation++;
    const host = new RecordingHost(`client ${this.index} (${this.spec.syncerType}${this.spec.catchUp ? '' : ', no catch-up'}, replicas ${this.spec.servers.join(',')}) #${this.#generation}`);
    for (const p of this.proxies) {
      p.onServerMessage = (m) => {
        this.tally.onServerMessage(m);
        host.onWire(m);
      };
      p.onUndecodable = (reason) => host.wireUndecodable(reason);
      p.onServerClose = (code, reason) => this.tally.onServerClose(code, reason);
    }
    const options: SyncClientOptions = {
      servers: this.spec.servers.map((r) => this.proxies[r % this.proxies.length]!.url), shuffleServers: false,
      syncerType: this.syncerType, hostname: `torture-${this.index}`,
      handler: host, connectTimeoutMs: 2_000, handshakeTimeoutMs: 3_000, readTimeoutMs: 4_000, writeTimeoutMs: 4_000,
      backoff: { initialDelayMs: 20, maxDelayMs: 300 }, random: Math.random,
      // Half the agents negotiate zstd, half take plain frames from the same cache.
      compression: this.index % 2 === 0,
      // Resume, digests and leaving stale replicas (the default), or none of them.
      catchUp: this.spec.catchUp,
      leaveStaleAfterMs: this.spec.catchUp ? LEAVE_STALE_AFTER_MS : 0,
    };
    const client = new SyncClient(options);
    client.on('error', () => {});
    client.start();
    this.host = host;
    this.client = client;
  }
}
