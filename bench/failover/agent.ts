/**
 * A lightweight agent written from docs/PROTOCOL.md and the issue-13 catch-up text alone (an
 * independent implementation of both): it holds, per key, only the KV hash and bucket
 * (HeldKeys), follows the §10.7 pending-set rule, offers `resume` and `digest` when catch-up is
 * on (spec13 §A.2–§A.6), and records, for each measured phase, what it cost to get back in sync.
 *
 * "Caught up" in a phase: the connection after the loss has sent `snapshotEnd`, its last status
 * is `in-sync` with no pending set, and the agent's position on that replica (snapshotEnd's seq
 * or a later delta mark) has reached the target the run gave for the replica: the replica's
 * newest breadcrumb when the loss began (kill) or ended (cut). `in-sync` alone is not enough:
 * a resumed connection is in sync at its old position before the missed deltas arrive.
 */
import WebSocket from 'ws';
import { createPackr, DEFAULT_MAX_VALUE_BYTES, largestServerFrameBytes } from '../../src/protocol/index.ts';
import { wallClockMs } from '../workload.ts';
import { HeldKeys } from './heldKeys.ts';
import type { KeyTable } from './keyTable.ts';
import type { FrameCache } from './frameCache.ts';
import { isMap, quickType } from './kvsMessage.ts';

export interface AgentSpec {
  readonly hostname: string;
  /** Replica index → sync URL. */
  readonly urls: readonly string[];
  /** Replica indexes in this agent's order of preference (its "discovery" order); the first is home. */
  readonly order: readonly number[];
  /** Offer resume and digest catch-up. */
  readonly catchUp: boolean;
  /** An observer records the delta bytes and marks it receives; it takes no part in phases. */
  readonly observer?: boolean;
}

export type CatchUpPath = 'resume' | 'digest' | 'snapshot' | 'none';

export interface PhaseRecord {
  readonly hostname: string;
  readonly catchUp: boolean;
  /** The agent's connection ended during the phase. */
  lost: boolean;
  lostAt: number;
  replicaBefore: number;
  replicaAfter: number;
  /** The resume position's seq when the connection ended (undefined: none). */
  resumeFrom: number | undefined;
  /** Bytes received (WebSocket payloads) on the connections after the loss, until caught up. */
  bytes: number;
  caughtUpAt: number;
  seqReached: number;
  path: CatchUpPath;
  reason: string;
  /** kvs entries received before snapshotEnd on the connection that caught up. */
  catchUpEntries: number;
  /** Keys the digest path put in the pending set (held keys of replaced buckets). */
  replacedHeld: number;
  /** Keys deleted at in-sync (pending keys that did not come back). */
  pendingDeleted: number;
  attempts: number;
  /** Bytes of `digests` messages sent. */
  digestBytesSent: number;
  /** The agent had seen a delta frame carry `seq` when it caught up; without marks, caught up means in-sync. */
  marksSeen: boolean;
  /** On the connection that caught up: when it opened, got serverHello, snapshotEnd and in-sync (wall-clock ms). */
  openAt: number;
  helloAt: number;
  snapshotEndAt: number;
  inSyncAt: number;
}

interface Connection {
  readonly ws: WebSocket;
  readonly replica: number;
  readonly level: number;
  helloSeen: boolean;
  bucketsSeen: boolean;
  instanceId: string;
  catchUp: CatchUpPath;
  reason: string;
  snapshotEnd: boolean;
  seq: number;
  status: string;
  entriesBeforeEnd: number;
  openAt: number;
  helloAt: number;
  snapshotEndAt: number;
  inSyncAt: number;
}

const MAX_FRAME_BYTES = largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES);
const DIGESTS_PER_MESSAGE = 4096;

export interface AgentHooks {
  /** First `in-sync` of the agent's life. */
  readonly onFirstInSync: (a: Agent) => void;
  /** The agent caught up in the current phase. */
  readonly onCaughtUp: (a: Agent) => void;
}

export class Agent {
  readonly spec: AgentSpec;
  readonly held: HeldKeys;
  readonly #frames: FrameCache;
  readonly #hooks: AgentHooks;
  readonly #packr = createPackr();
  #conn: Connection | undefined;
  #replica: number;
  #live: ReadonlySet<number>;
  #position: { instanceId: string; seq: number } | undefined;
  /** The last connection ended after its serverHello: §10.7 step 2 applies at the next serverHello unless it resumes. */
  #endedAfterHello = false;
  #attempt = 0;
  #stopped = false;
  #everInSync = false;
  #marksSeen = false;
  #retry: NodeJS.Timeout | undefined;
  /** While held, a lost connection is not retried until `release()`. */
  #held = false;
  #waiting = false;
  #phase: PhaseRecord | undefined;
  #watching = false;
  #targets = new Map<number, number>();
  /** Observer: cumulative delta kvs bytes at each seq mark since the phase began. */
  marks: number[] = [];
  #markBytes = 0;
  readonly violations: string[] = [];

  constructor(spec: AgentSpec, table: KeyTable, frames: FrameCache, hooks: AgentHooks) {
    this.spec = spec;
    this.#frames = frames;
    this.#hooks = hooks;
    this.held = new HeldKeys(table);
    this.#replica = spec.order[0] as number;
    this.#live = new Set(spec.order);
  }

  get replica(): number {
    return this.#conn?.replica ?? this.#replica;
  }

  get phase(): PhaseRecord | undefined {
    return this.#phase;
  }

  start(): void {
    this.#open();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#conn?.ws.terminate();
  }

  /** Holds (true) or stops holding this agent's reconnections; see `release`. */
  hold(on: boolean): void {
    this.#held = on;
  }

  /** Ends a hold: an agent that lost its connection meanwhile reconnects now (within 100 ms). */
  release(): void {
    this.#held = false;
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#retry = setTimeout(() => this.#open(), Math.random() * 100);
  }

  /** The replicas discovery lists; an agent whose replica is not listed moves to the next listed one. */
  setLive(live: readonly number[]): void {
    this.#live = new Set(live);
  }

  /** Starts a measured phase; the agent takes part when its connection is on one of `replicas`. */
  beginPhase(replicas: readonly number[]): void {
    this.#targets = new Map();
    this.marks = [];
    this.#markBytes = 0;
    this.#watching = !this.spec.observer && replicas.includes(this.replica);
    this.#phase = this.#watching ? {
      hostname: this.spec.hostname, catchUp: this.spec.catchUp, lost: false, lostAt: 0, replicaBefore: this.replica, replicaAfter: -1,
      resumeFrom: undefined, bytes: 0, caughtUpAt: 0, seqReached: -1, path: 'none', reason: '', catchUpEntries: 0, replacedHeld: 0,
      pendingDeleted: 0, attempts: 0, digestBytesSent: 0, marksSeen: false, openAt: 0, helloAt: 0, snapshotEndAt: 0, inSyncAt: 0,
    } : undefined;
  }

  setTargets(targets: ReadonlyMap<number, number>): void {
    this.#targets = new Map(targets);
    this.#checkCaughtUp();
  }

  #open(): void {
    if (this.#stopped) return;
    const replica = this.#replica;
    const ws = new WebSocket(this.spec.urls[replica] as string, { perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES });
    ws.binaryType = 'nodebuffer';
    const level = Math.min(16, Math.max(4, Math.ceil(Math.log2(Math.max(1, this.held.heldCount)))));
    const conn: Connection = {
      ws, replica, level, helloSeen: false, bucketsSeen: false, instanceId: '', catchUp: 'none', reason: '', snapshotEnd: false, seq: -1, status: 'wait-for-datastore', entriesBeforeEnd: 0,
      openAt: 0, helloAt: 0, snapshotEndAt: 0, inSyncAt: 0,
    };
    this.#conn = conn;
    if (this.#phase?.lost === true && this.#phase.caughtUpAt === 0) this.#phase.attempts++;
    ws.on('open', () => {
      conn.openAt = wallClockMs();
      const capabilities: Record<string, unknown> = {};
      if (this.spec.catchUp) {
        capabilities.digest = { level };
        if (this.#position !== undefined) capabilities.resume = { serverInstanceId: this.#position.instanceId, seq: this.#position.seq };
      }
      this.#send(conn, { type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: this.spec.hostname, clientVersion: 'bench-failover', capabilities });
    });
    ws.on('message', (data: Buffer) => {
      if (this.#conn !== conn) return;
      try {
        this.#onFrame(conn, data);
      } catch (err) {
        this.#violation(`frame handling failed: ${(err as Error).message}`);
        ws.close(4001, 'bad frame');
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => this.#onEnded(conn));
  }

  #send(conn: Connection, message: object): number {
    const bytes = this.#packr.pack(message);
    conn.ws.send(Buffer.from(bytes));
    return bytes.length;
  }

  #onFrame(conn: Connection, frame: Buffer): void {
    const phase = this.#phase;
    if (phase?.lost === true && phase.caughtUpAt === 0) phase.bytes += frame.length;
    if (!isMap(frame)) throw new Error(`frame starts with 0x${(frame[0] ?? 0).toString(16)}: not a plain MessagePack map (no compression was offered)`);
    const type = quickType(frame);
    if (type === 'kvs') return this.#onKvs(conn, frame);
    const msg = this.#packr.unpack(frame) as Record<string, unknown>;
    switch (msg.type) {
      case 'serverHello': return this.#onServerHello(conn, msg);
      case 'buckets': return this.#onBuckets(conn, msg);
      case 'snapshotEnd': return this.#onSnapshotEnd(conn, msg);
      case 'status': return this.#onStatus(conn, String(msg.status));
      case 'ping':
        this.#send(conn, { type: 'pong', pingTimestamp: msg.timestamp });
        return;
      case 'kvs': return this.#onKvs(conn, frame);
      default: // PROTOCOL §7: a message type the client does not know is ignored.
    }
  }

  #onServerHello(conn: Connection, msg: Record<string, unknown>): void {
    if (msg.syncerType !== 'felix') throw new Error(`serverHello.syncerType is ${String(msg.syncerType)}`);
    conn.helloSeen = true;
    conn.helloAt = wallClockMs();
    conn.instanceId = String(msg.serverInstanceId);
    const path = msg.catchUp === undefined || msg.catchUp === null ? 'none' : String(msg.catchUp);
    if (path !== 'none' && path !== 'resume' && path !== 'digest' && path !== 'snapshot') throw new Error(`serverHello.catchUp is ${path}`);
    if (path !== 'none' && !this.spec.catchUp) this.#violation(`serverHello.catchUp ${path} although no catch-up was offered`);
    if (path === 'none' && this.spec.catchUp) this.#violation('serverHello.catchUp absent although resume/digest was offered');
    conn.catchUp = path;
    conn.reason = typeof msg.catchUpReason === 'string' ? msg.catchUpReason : '';
    this.#attempt = 0;
    if (path === 'resume') {
      // §A.5: keep the pending set exactly as the previous connection left it.
      if (this.#position === undefined || this.#position.instanceId !== conn.instanceId) this.#violation('resumed without a matching resume position');
    } else {
      // §A.2: the resume position is cleared; §10.7 step 2 for the connection that ended.
      this.#position = undefined;
      if (this.#endedAfterHello) this.held.pendAll();
    }
    this.#endedAfterHello = false;
    if (path === 'digest') this.#sendDigests(conn);
  }

  #sendDigests(conn: Connection): void {
    const table = this.held.digests(conn.level);
    const buckets = 1 << conn.level;
    let sent = 0;
    for (let offset = 0; offset < buckets; offset += DIGESTS_PER_MESSAGE) {
      const n = Math.min(DIGESTS_PER_MESSAGE, buckets - offset);
      const bin = Buffer.allocUnsafe(8 * n);
      for (let i = 0; i < n; i++) {
        bin.writeUInt32BE(table[2 * (offset + i)] as number, 8 * i);
        bin.writeUInt32BE(table[2 * (offset + i) + 1] as number, 8 * i + 4);
      }
      sent += this.#send(conn, { type: 'digests', level: conn.level, offset, digests: bin });
    }
    if (this.#phase !== undefined) this.#phase.digestBytesSent += sent;
  }

  #onBuckets(conn: Connection, msg: Record<string, unknown>): void {
    if (conn.catchUp !== 'digest' || conn.bucketsSeen) throw new Error('buckets on a connection that is not on the digest path, or a second one');
    conn.bucketsSeen = true;
    if (msg.level !== conn.level) throw new Error(`buckets.level ${String(msg.level)}, hello said ${conn.level}`);
    const replaced = msg.replaced as Uint8Array;
    if (!(replaced instanceof Uint8Array) || replaced.length !== Math.ceil((1 << conn.level) / 8)) throw new Error('buckets.replaced is not a bitmap of 2^level bits');
    const pending = this.held.pendBuckets(conn.level, replaced);
    if (this.#phase !== undefined) this.#phase.replacedHeld = pending;
  }

  #onKvs(conn: Connection, frame: Buffer): void {
    const parsed = this.#frames.parse(frame);
    const held = this.held;
    for (let i = 0; i < parsed.entries; i++) held.apply(parsed.ids[i] as number, parsed.deleted[i] === 1, parsed.hi[i] as number, parsed.lo[i] as number);
    if (parsed.inconsistent > 0) this.#violation(`${parsed.inconsistent} entries whose nil value and updateType 3 disagree`);
    if (!conn.snapshotEnd) {
      // PROTOCOL §11.5: nothing comes between serverHello and snapshotEnd on a resumed connection.
      if (conn.catchUp === 'resume') this.#violation('a kvs frame between serverHello and snapshotEnd on a resumed connection');
      conn.entriesBeforeEnd += parsed.entries;
      if (parsed.seq !== undefined) this.#violation('a kvs frame before snapshotEnd carries seq');
      return;
    }
    if (this.spec.observer === true) this.#markBytes += frame.length;
    if (parsed.seq === undefined) return;
    this.#marksSeen = true;
    if (parsed.seq < conn.seq) this.#violation(`delta mark ${parsed.seq} goes back from ${conn.seq}`);
    conn.seq = parsed.seq;
    this.#position = { instanceId: conn.instanceId, seq: parsed.seq };
    if (this.spec.observer === true) this.marks.push(parsed.seq, this.#markBytes);
    this.#checkCaughtUp();
  }

  #onSnapshotEnd(conn: Connection, msg: Record<string, unknown>): void {
    if (!conn.helloSeen || conn.snapshotEnd) throw new Error('snapshotEnd out of place');
    conn.snapshotEnd = true;
    conn.snapshotEndAt = wallClockMs();
    conn.seq = Number(msg.seq);
    this.#position = { instanceId: conn.instanceId, seq: conn.seq };
    // Whatever the path, the keys held outside the pending set are exactly the state of `seq`.
    const outside = this.held.heldCount - this.held.pendingCount;
    if (outside !== msg.keys) this.#violation(`snapshotEnd.keys ${String(msg.keys)} but ${outside} keys held outside the pending set (${conn.catchUp})`);
    this.#send(conn, { type: 'ack' });
  }

  #onStatus(conn: Connection, status: string): void {
    conn.status = status;
    if (status !== 'in-sync') return;
    if (conn.inSyncAt === 0) conn.inSyncAt = wallClockMs();
    const deleted = this.held.settle();
    if (this.#phase !== undefined && this.#phase.lost) this.#phase.pendingDeleted += deleted;
    if (!this.#everInSync && conn.snapshotEnd) {
      this.#everInSync = true;
      this.#hooks.onFirstInSync(this);
    }
    this.#checkCaughtUp();
  }

  #checkCaughtUp(): void {
    const phase = this.#phase;
    const conn = this.#conn;
    if (phase === undefined || !phase.lost || phase.caughtUpAt !== 0 || conn === undefined) return;
    if (!conn.snapshotEnd || conn.status !== 'in-sync' || this.held.hasPending) return;
    const target = this.#targets.get(conn.replica);
    if (target === undefined) return;
    // A server that sends no delta marks (before spec13 §A.1) leaves in-sync as the only signal.
    if (conn.seq < target && this.#marksSeen) return;
    phase.caughtUpAt = wallClockMs();
    phase.seqReached = conn.seq;
    phase.replicaAfter = conn.replica;
    phase.path = conn.catchUp;
    phase.reason = conn.reason;
    phase.catchUpEntries = conn.entriesBeforeEnd;
    phase.marksSeen = this.#marksSeen;
    phase.openAt = conn.openAt;
    phase.helloAt = conn.helloAt;
    phase.snapshotEndAt = conn.snapshotEndAt;
    phase.inSyncAt = conn.inSyncAt;
    this.#hooks.onCaughtUp(this);
  }

  #onEnded(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    if (conn.helloSeen) this.#endedAfterHello = true;
    const phase = this.#phase;
    if (phase !== undefined && !phase.lost && this.#watching) {
      phase.lost = true;
      phase.lostAt = wallClockMs();
      phase.resumeFrom = this.#position?.seq;
    }
    if (this.#stopped) return;
    if (!this.#live.has(this.#replica)) this.#replica = this.spec.order.find((r) => this.#live.has(r)) ?? this.#replica;
    if (this.#held) {
      this.#waiting = true;
      return;
    }
    // Jittered retry: at once (within 100 ms) after a connection that worked, then growing to 1 s.
    const base = this.#attempt === 0 ? 100 : Math.min(1000, 100 * 2 ** this.#attempt);
    this.#attempt++;
    this.#retry = setTimeout(() => this.#open(), base * (this.#attempt === 1 ? Math.random() : 0.5 + Math.random() / 2));
  }

  #violation(what: string): void {
    if (this.violations.length < 20) this.violations.push(what);
  }
}
