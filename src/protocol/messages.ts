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
}

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

export type ClientMessage = HelloMessage | PongMessage | AckMessage;

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
}

/** One key's update: `[key, value | nil, revision, updateType]`. */
export type WireKV = readonly [key: string, value: unknown, revision: string, updateType: number];

export interface KvsMessage {
  readonly type: 'kvs';
  readonly kvs: readonly WireKV[];
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

export type ServerMessage = ServerHelloMessage | KvsMessage | StatusMessage | PingMessage | SnapshotEndMessage;

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
