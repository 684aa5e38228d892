export { isLoopbackAddress, OpsServer, type OpsServerOptions, type Readiness } from './opsServer.ts';
export { DEFAULT_SESSIONS_LIMIT, MAX_SESSIONS_LIMIT, type StatusReport, type StatusSession } from './statusPages.ts';
export { Session, type CloseReason, type SessionConfig, type SessionPhase, type SyncerChannel } from './session.ts';
export { SyncServer, type SessionInfo, type SyncServerConfig, type SyncServerDeps } from './syncServer.ts';
export { createTlsSettings, type TlsOptions, type TlsSettings } from './tls.ts';
export { computeConnectionLimit, ConnectionLimitPoller, countReplicas, type LimitDecision, type LimitInputs } from './connectionLimit.ts';
