/**
 * Every message of protocol v1. Each WebSocket binary frame carries exactly one MessagePack map
 * with a string field `type`; the remaining fields depend on the type. Unknown fields are
 * ignored by both sides, so fields can be added without a version bump.
 */
export const PROTOCOL_VERSION = 1;

/** Update types as they travel inside a `kvs` entry. */
export const UpdateTypeCode = { new: 1, updated: 2, deleted: 3 } as const;
export type WireUpdateType = keyof typeof UpdateTypeCode;

export type WireSyncStatus = 'wait-for-datastore' | 'resync-in-progress' | 'in-sync';
export const WIRE_SYNC_STATUSES: readonly WireSyncStatus[] = ['wait-for-datastore', 'resync-in-progress', 'in-sync'];

// ---- client → server ----

export interface ClientCapabilities {
  /** Compression the client can decode, most preferred first (`zstd`; see compression.ts). */
  readonly compression?: readonly string[];
  /** The client's resume position (PROTOCOL.md §11.2): the breadcrumb whose state it holds, on that server process. */
  readonly resume?: ResumePosition;
  /** The client will upload its bucket digests at this level if the server chooses digest catch-up (§11.6). */
  readonly digest?: { readonly level: number };
  /** True: the connection only asks for the server's status (§11.7); no snapshot follows. */
  readonly probe?: boolean;
}

/** A breadcrumb whose state a client holds in full: `seq` is comparable only on that `serverInstanceId`. */
export interface ResumePosition {
  readonly serverInstanceId: string;
  readonly seq: number;
}

/** How a connection catches up (serverHello.catchUp): deltas only, the differing buckets, or a full snapshot. */
export type CatchUpPath = 'resume' | 'digest' | 'snapshot';
export const CATCH_UP_PATHS: readonly CatchUpPath[] = ['resume', 'digest', 'snapshot'];

/** Why the server did not take the path the client hoped for (serverHello.catchUpReason); informative. */
export type CatchUpReason = 'not-offered' | 'other-instance' | 'expired' | 'future' | 'over-backlog' | 'disabled';
export const CATCH_UP_REASONS: readonly CatchUpReason[] = ['not-offered', 'other-instance', 'expired', 'future', 'over-backlog', 'disabled'];

export interface HelloMessage {
  readonly type: 'hello';
  readonly protocolVersion: number;
  readonly syncerType: string;
  readonly hostname: string;
  readonly clientVersion: string;
  readonly clientInfo: string;
  /** Chosen by the client for log correlation across reconnects; opaque to the server. */
  readonly clientConnId: string;
  readonly capabilities: ClientCapabilities;
}

export interface PongMessage {
  readonly type: 'pong';
  /** The `timestamp` of the ping being answered, echoed unchanged. */
  readonly pingTimestamp: number;
}

/** Acknowledges `snapshotEnd`: the client has applied the whole snapshot. */
export interface AckMessage {
  readonly type: 'ack';
}

/**
 * One slice of a client's bucket digests (digest catch-up, §11.6): buckets `offset` to
 * `offset + n - 1` at `level`, n = min(DIGESTS_PER_FRAME, 2^level - offset), 8 bytes each,
 * big-endian. Sent in order, offsets 0, 4096, 8192, …, right after a serverHello that chose `digest`.
 */
export interface DigestsMessage {
  readonly type: 'digests';
  readonly level: number;
  readonly offset: number;
  readonly digests: Uint8Array;
}

export type ClientMessage = HelloMessage | PongMessage | AckMessage | DigestsMessage;

// ---- server → client ----

export interface ServerHelloMessage {
  readonly type: 'serverHello';
  readonly protocolVersion: number;
  readonly syncerType: string;
  readonly serverVersion: string;
  /** Random per server process: a client sees it change when it reaches another replica or a restart. */
  readonly serverInstanceId: string;
  /** The server's id for this connection, as it appears in the server's logs. */
  readonly connectionId: string;
  /** Compression the server chose from the client's list (the first it supports); null when none. */
  readonly compression: string | null;
  /**
   * The catch-up path taken (§11.4): present exactly when the client offered `resume` or
   * `digest`; absent (or null) otherwise, and then a full snapshot follows as in v1.
   */
  readonly catchUp?: CatchUpPath | null;
  /** Why a fallback was taken (informative): one of CATCH_UP_REASONS from this server. */
  readonly catchUpReason?: string | null;
  /** The server's sync status when it sent this (informative; the connection's data status still comes from `status`). */
  readonly status?: WireSyncStatus | null;
}

/** One key's update: `[key, value | nil, revision, updateType]`. */
export type WireKV = readonly [key: string, value: unknown, revision: string, updateType: number];

export interface KvsMessage {
  readonly type: 'kvs';
  readonly kvs: readonly WireKV[];
  /**
   * Position mark (§11.1): on the delta frame that ends a coalesced run, the breadcrumb whose
   * state the client's map is after applying this frame. Absent on other frames.
   */
  readonly seq?: number;
}

export interface StatusMessage {
  readonly type: 'status';
  readonly status: WireSyncStatus;
}

export interface PingMessage {
  readonly type: 'ping';
  /** Server clock, milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

export interface SnapshotEndMessage {
  readonly type: 'snapshotEnd';
  /** Sequence number of the breadcrumb the snapshot was taken from. */
  readonly seq: number;
  /** Number of keys the snapshot contained. */
  readonly keys: number;
}

/**
 * The server's answer to a client's digests (§11.6): a bitmap of 2^level bits, MSB first
 * (bucket i = byte i >> 3, bit 7 - (i & 7)), set for every bucket the server replaces; the
 * `kvs` frames that follow hold every key of those buckets.
 */
export interface BucketsMessage {
  readonly type: 'buckets';
  readonly level: number;
  readonly replaced: Uint8Array;
}

export type ServerMessage = ServerHelloMessage | KvsMessage | StatusMessage | PingMessage | SnapshotEndMessage | BucketsMessage;

/**
 * A server → client map whose `type` this version does not know. PROTOCOL.md §7: a server sends
 * a new message type only to a client that advertised it, so a client ignores one it did not ask
 * for rather than dropping a working connection.
 */
export interface UnknownServerMessage {
  readonly type: 'unknown';
  /** The `type` string as received. */
  readonly name: string;
}
