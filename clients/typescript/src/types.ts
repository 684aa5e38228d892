import type { CatchUpPath as WireCatchUpPath, WireSyncStatus } from '../../../src/protocol/index.ts';
import type { CattailClientError } from './errors.ts';

/**
 * The syncer types a Cattail server serves (Typha's four). A union rather than a string, so a
 * misspelt type fails the type check instead of being refused by the server at run time.
 */
export type SyncerType = 'felix' | 'bgp' | 'tunnel-ip-allocation' | 'node-status';

/** The sync status as the host sees it; the same three values the server sends. */
export type SyncStatus = WireSyncStatus;

/**
 * How an update relates to what the host already holds. The library computes this from what it
 * has delivered, not from the wire: a key the host holds is always `updated`, never `new` again,
 * and `deleted` is only ever sent for a key the host holds.
 */
export type UpdateType = 'new' | 'updated' | 'deleted';

export interface Update {
  /** The Calico default-path key, e.g. `/calico/v1/policy/tier/default/policy/...`. */
  readonly key: string;
  /** The model value (a map, or a string for raw-text kinds); `null` exactly when `type` is `deleted`. */
  readonly value: unknown;
  /** The datastore revision the server attached; opaque. Empty for synthesised deletions. */
  readonly revision: string;
  readonly type: UpdateType;
}

/**
 * What the host implements. The library awaits each call before making the next one, so a slow
 * handler slows delivery, never reading: meanwhile updates coalesce per key in the resync buffer.
 * A handler that throws or rejects is reported as a `HOST_HANDLER` error and the batch counts as
 * delivered (the library cannot know how much of it the host applied).
 */
export interface SyncHandler {
  /** A batch of at most `maxBatchSize` updates, in order, at most one per key. */
  onUpdates(updates: readonly Update[]): void | Promise<void>;
  /** A status change. Never repeats the previous status. */
  onStatus(status: SyncStatus): void | Promise<void>;
}

/**
 * How a connection caught up (docs/PROTOCOL.md §11): `resume` (only the deltas after the last
 * position the client applied), `digest` (the full contents of only the buckets that differ),
 * `snapshot` (everything, as before catch-up existed).
 */
export type CatchUpPath = WireCatchUpPath;

/** A server the client may connect to. */
export interface ServerAddress {
  /** Full WebSocket URL including the path, e.g. `ws://10.0.0.7:5473/sync`. */
  readonly url: string;
  /** The Kubernetes node the server runs on, when discovery knows it. */
  readonly nodeName?: string;
}

/** Where the client is connected; emitted with `connected` and readable as `client.connection`. */
export interface ConnectionInfo {
  readonly url: string;
  readonly serverInstanceId: string;
  readonly serverVersion: string;
  /** The server's id for this connection, as in its logs. */
  readonly connectionId: string;
  /** The id this client sent in its hello, for grepping both sides' logs. */
  readonly clientConnId: string;
  readonly syncerType: string;
  /** Compression the server chose for this connection (`zstd`), or null for plain frames. */
  readonly compression: string | null;
  /**
   * How this connection catches up; null when the server predates catch-up (or none was
   * offered): a full snapshot, as `snapshot`.
   */
  readonly catchUp: CatchUpPath | null;
  /** Why the server fell back from a better path (`other-instance`, `expired`, ...), when it says. */
  readonly catchUpReason: string | undefined;
  /** The server's own sync status at its serverHello (informative; data status comes from `status`). */
  readonly serverStatus: SyncStatus | undefined;
}

/** Emitted as `caughtUp` when a connection's catch-up ends (its `snapshotEnd`). */
export interface CatchUpInfo {
  readonly url: string;
  readonly serverInstanceId: string;
  /** `snapshot` also for a server that predates catch-up. */
  readonly path: CatchUpPath;
  readonly reason: string | undefined;
  /** Bytes received on the wire (compressed as sent) from the serverHello to the snapshotEnd, both included. */
  readonly bytes: number;
  /** `kvs` entries received during the catch-up. */
  readonly entries: number;
  /** Digest path: the level used and how many of its buckets the server replaced. */
  readonly level: number | undefined;
  readonly replacedBuckets: number | undefined;
  /** Digest path: held keys of the replaced buckets (deleted at in-sync unless re-sent). */
  readonly pendingKeys: number | undefined;
  /** Milliseconds from the serverHello to the snapshotEnd. */
  readonly durationMs: number;
}

/** Emitted as `leavingReplica` when the client leaves a replica that stayed out of sync (§11). */
export interface LeaveStaleInfo {
  /** The replica left (closed with 4030) and the in-sync replica the probe found. */
  readonly from: string;
  readonly to: string;
  /** The current connection's status and how long it had not been in-sync. */
  readonly status: SyncStatus | undefined;
  readonly notInSyncForMs: number;
}

/** Emitted as `probed` for every probe of another replica while the current one is stale. */
export interface ProbeInfo {
  readonly url: string;
  /** The probed server's status, or undefined when the probe failed (`error` says why). */
  readonly status: SyncStatus | undefined;
  readonly error: CattailClientError | undefined;
  /** Delay until the next probe if this one does not lead to a move. */
  readonly nextProbeInMs: number | undefined;
}

export interface DisconnectInfo {
  readonly url: string;
  /** WebSocket close code (1006 when the socket dropped without a close frame). */
  readonly code: number;
  readonly reason: string;
  /** Why, when it was not a clean close by the client itself. */
  readonly error: CattailClientError | undefined;
  /** True when the connection got as far as the end of its snapshot. */
  readonly streamed: boolean;
}

/**
 * Why the client stopped for good: `close()` was called, the servers refused it, or an optional
 * dependency its discovery needs is unavailable (`misconfigured`, error DEPENDENCY_UNAVAILABLE).
 */
export interface StopInfo {
  readonly reason: 'closed' | 'refused' | 'misconfigured';
  readonly error: CattailClientError | undefined;
}

/** Counters for dashboards and the CLI's `--stats`. Cheap to read. */
export interface ClientStats {
  /** KV entries read from the wire, across connections. */
  readonly updatesReceived: number;
  /** Updates handed to the host. */
  readonly updatesDelivered: number;
  /** Updates that replaced or cancelled a queued one instead of being delivered. */
  readonly updatesCoalesced: number;
  /** Deletions synthesised after a resync for keys the new server did not send. */
  readonly deletionsSynthesised: number;
  /** Entries waiting for the host right now, and the most there ever were. */
  readonly queued: number;
  readonly maxQueued: number;
  /** Connections that reached the end of their snapshot. */
  readonly connections: number;
  /** Connection attempts that failed or ended. */
  readonly disconnects: number;
  /** Connections that caught up, per path (`snapshot` includes servers that predate catch-up). */
  readonly catchUps: Readonly<Record<CatchUpPath, number>>;
  /** Bytes received on the wire until each connection's snapshotEnd, per path. */
  readonly catchUpBytes: Readonly<Record<CatchUpPath, number>>;
  /** Every byte received on sync connections (catch-up and streaming), as on the wire. */
  readonly bytesReceived: number;
  /** Probes of another replica sent because the current one stayed out of sync, and how many found one in sync. */
  readonly probes: number;
  readonly probesInSync: number;
  /** Times the client left a stale replica (closed it with 4030 for an in-sync one). */
  readonly leftStale: number;
}

/** The events the client emits; listeners are called synchronously and must not throw. */
export interface ClientEvents {
  connected: [info: ConnectionInfo];
  disconnected: [info: DisconnectInfo];
  error: [error: CattailClientError];
  stopped: [info: StopInfo];
  caughtUp: [info: CatchUpInfo];
  probed: [info: ProbeInfo];
  leavingReplica: [info: LeaveStaleInfo];
}
