/**
 * A byte-level client of the catch-up paths (PROTOCOL.md §11) for fuzzing, a transport around
 * the client rules of test/support/catchUpClient.ts: it holds a map with each key's bucket and
 * KV hash (computed from the raw `kvs` bytes, as a client in any language must), offers
 * whatever hello capabilities it is told, uploads digests (its own, or the bytes a case
 * dictates), and applies the answer by the client rules: a resumed connection keeps its pending
 * set; `buckets` makes the held keys of the replaced buckets pending; a full snapshot makes
 * every held key pending; every received entry clears its key; at `in-sync` the rest is
 * deleted. So a case's final map can be compared with the server's model.
 */
import { createPackr } from '../../src/protocol/index.ts';
import {
  applyKvs, deletePending, type HeldKV, ownDigests, pendingAfterBuckets, pendingAfterServerHello, type Position,
} from '../support/catchUpClient.ts';
import { type CloseResult, RawSocket } from './rawSocket.ts';

/** What the peer sends once the serverHello chose digests: its own digests, or a case's messages. */
export type DigestUpload = { readonly kind: 'own' } | { readonly kind: 'messages'; readonly messages: readonly unknown[] };

export interface PeerOptions {
  readonly held?: ReadonlyMap<string, HeldKV>;
  readonly capabilities?: Readonly<Record<string, unknown>>;
  readonly upload?: DigestUpload;
  /** Sent right after the serverHello (before any digests), e.g. an ack out of order. */
  readonly afterHello?: readonly unknown[];
  /** Sent right after the peer's own ack. */
  readonly afterAck?: readonly unknown[];
  /** Sent instead of a hello built from `capabilities` (already a full hello value). */
  readonly hello?: unknown;
}

const packr = createPackr();

export const PEER_HELLO = {
  type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'catch-up-fuzz', clientVersion: 'fuzz', clientInfo: '', clientConnId: 'cf',
};

export class CatchUpPeer {
  readonly held: Map<string, HeldKV>;
  readonly socket: RawSocket;
  /** The serverHello as decoded (every field, known or not). */
  serverHello: Record<string, unknown> | undefined;
  buckets: { readonly level: number; readonly replaced: Uint8Array } | undefined;
  pending: Set<string> | undefined;
  status: string | undefined;
  position: Position | undefined;
  /** `kvs` frames received before snapshotEnd (a resumed connection must get none). */
  snapshotFrames = 0;
  snapshotEnded = false;
  /** Something the peer saw that breaks the protocol from the client's side. */
  readonly problems: string[] = [];
  readonly #options: PeerOptions;
  /** Called after every change to `position` and at in-sync (for capturing honest states). */
  onPosition: (() => void) | undefined;
  /** A `kvs` frame with no position mark arrived after the last mark: `held` is past `position`. */
  #pastPosition = false;

  private constructor(socket: RawSocket, options: PeerOptions) {
    this.socket = socket;
    this.#options = options;
    this.held = new Map(options.held ?? []);
    socket.onPayload = (payload) => this.#onPayload(payload);
  }

  static async connect(port: number, options: PeerOptions = {}): Promise<CatchUpPeer> {
    const socket = await RawSocket.open(port);
    const peer = new CatchUpPeer(socket, options);
    socket.sendValue(options.hello ?? { ...PEER_HELLO, capabilities: { ...options.capabilities } });
    socket.markSent();
    return peer;
  }

  get closed(): Promise<CloseResult> {
    return this.socket.closed;
  }

  /** key → value, for comparing with the server's model. */
  values(): Map<string, unknown> {
    return new Map([...this.held].map(([k, v]) => [k, v.value]));
  }

  close(): void {
    this.socket.destroy();
  }

  #onPayload(payload: Buffer): void {
    let msg: Record<string, unknown>;
    try {
      msg = packr.unpack(payload) as Record<string, unknown>;
    } catch (err) {
      this.problems.push(`undecodable server frame: ${(err as Error).message}`);
      return;
    }
    switch (msg.type) {
      case 'serverHello': this.#onServerHello(msg); return;
      case 'buckets': {
        const level = msg.level as number;
        const replaced = msg.replaced as Uint8Array;
        this.buckets = { level, replaced };
        if (this.serverHello?.catchUp !== 'digest') this.problems.push('buckets on a connection that did not choose digest');
        // Keys of unreplaced buckets match the server; the replaced ones must all come back.
        this.pending = pendingAfterBuckets(this.held, level, replaced);
        return;
      }
      case 'kvs': {
        if (!this.snapshotEnded) this.snapshotFrames++;
        try {
          applyKvs(this.held, this.pending, payload, msg.kvs as unknown[][]);
        } catch (err) {
          this.problems.push(`kvs frame: ${(err as Error).message}`);
        }
        if (typeof msg.seq === 'number' && this.serverHello !== undefined) this.#moveTo(msg.seq);
        else if (this.snapshotEnded) this.#pastPosition = true;
        return;
      }
      case 'snapshotEnd':
        this.snapshotEnded = true;
        if (typeof msg.seq === 'number') this.#moveTo(msg.seq);
        this.socket.sendValue({ type: 'ack' });
        for (const m of this.#options.afterAck ?? []) this.socket.sendValue(m);
        return;
      case 'status':
        this.status = msg.status as string;
        if (msg.status === 'in-sync' && this.pending !== undefined) {
          deletePending(this.held, this.pending);
          this.pending = undefined;
        }
        this.onPosition?.();
        return;
      case 'ping':
        this.socket.sendValue({ type: 'pong', pingTimestamp: msg.timestamp });
        return;
      default:
        return;
    }
  }

  #onServerHello(msg: Record<string, unknown>): void {
    this.serverHello = msg;
    for (const m of this.#options.afterHello ?? []) this.socket.sendValue(m);
    this.pending = pendingAfterServerHello(this.held, this.pending, msg.catchUp);
    if (msg.catchUp !== 'digest') return;
    const upload = this.#options.upload ?? { kind: 'own' };
    if (upload.kind === 'messages') {
      for (const m of upload.messages) this.socket.sendValue(m);
      return;
    }
    const level = (this.#options.capabilities?.digest as { level: number } | undefined)?.level ?? 0;
    for (const m of ownDigests(this.held, level)) this.socket.sendValue(m);
  }

  /** `held` is exactly the state of `position` (no unmarked delta since), with no pending set. */
  get atPosition(): boolean {
    return this.position !== undefined && !this.#pastPosition && this.pending === undefined;
  }

  #moveTo(seq: number): void {
    this.#pastPosition = false;
    this.position = { serverInstanceId: String(this.serverHello?.serverInstanceId), seq };
    this.onPosition?.();
  }
}
