/**
 * @cattail/client — the node-agent side of Cattail's sync protocol.
 *
 * The public surface is this file only. `SyncClient` is the production client (discovery,
 * failover, in-process resync, TLS); `Connection` and `ResyncBuffer` are exported for agents
 * that want to compose their own lifecycle. The protocol module is re-exported as `protocol`.
 */
export { SyncClient } from './syncClient.ts';
export { DEFAULTS, type SyncClientOptions } from './options.ts';
export { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
export { CattailClientError, type ClientErrorCode } from './errors.ts';
export type {
  CatchUpInfo, CatchUpPath, ClientEvents, ClientStats, ConnectionInfo, DisconnectInfo, LeaveStaleInfo, ProbeInfo, ServerAddress, StopInfo, SyncerType,
  SyncHandler, SyncStatus, Update, UpdateType,
} from './types.ts';
export { LEAVE_STALE_CLOSE } from './syncClient.ts';
export type { ClientClock } from './staleWatch.ts';
export type { KvHash } from './heldDigests.ts';
export { DnsDiscovery, StaticDiscovery, localFirst, toSyncUrl, type Discovery, type DnsDiscoveryOptions } from './discovery.ts';
export { KubernetesDiscovery, type EndpointSliceLike, type EndpointSliceLister, type KubernetesDiscoveryOptions } from './kubernetesDiscovery.ts';
export { AttemptTracker } from './attemptTracker.ts';
export type { TlsOptions } from './tls.ts';
export { Connection, type CatchUpOffer, type ConnectionOptions, type ConnectionOutcome, type SessionListener } from './connection.ts';
export { ResyncBuffer, type Delivery } from './resyncBuffer.ts';
export { CLIENT_VERSION } from './version.ts';
export * as protocol from '../../../src/protocol/index.ts';
