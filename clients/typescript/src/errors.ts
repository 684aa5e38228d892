/**
 * Errors the client reports through its `error` event. The host never receives them as
 * exceptions: every failure inside the library is caught, classified here and emitted.
 *
 * `code` is stable and meant for programs (alerts, exit codes); `message` is for people.
 */
export type ClientErrorCode =
  /**
   * The server refused this client: a close code from FATAL_CLOSE_CODES (unknown syncer type,
   * wrong version) or HTTP 401/403 at the upgrade (a client certificate the server does not
   * accept). Retrying unchanged cannot help.
   */
  | 'REFUSED'
  /** Every address of a round failed; the client keeps retrying with backoff. */
  | 'NO_SERVER_REACHABLE'
  /** Discovery could not produce any address (DNS failure, empty EndpointSlices, API error). */
  | 'DISCOVERY_FAILED'
  /**
   * An optional peer the configured discovery needs (`@kubernetes/client-node`) is not
   * installed or fails to load. Retrying cannot help, so the client stops (`misconfigured`).
   */
  | 'DEPENDENCY_UNAVAILABLE'
  /** TCP connect, HTTP upgrade (e.g. 429 at the per-source cap, 503 shutting down; see httpStatus) or an unexpected socket error. */
  | 'CONNECT_FAILED'
  /** The server's certificate is not signed by the configured CA (or is expired, self-signed, ...). */
  | 'TLS_UNTRUSTED'
  /** The server's certificate does not carry the expected Common Name or URI SAN. */
  | 'TLS_NAME_MISMATCH'
  /** The TLS files could not be read or the TLS options are inconsistent. */
  | 'TLS_CONFIG'
  /** No serverHello within the handshake timeout. */
  | 'HANDSHAKE_TIMEOUT'
  /** Nothing was read for the read timeout: the path is dead (black-holed TCP). */
  | 'READ_TIMEOUT'
  /** A write made no progress for the write timeout. */
  | 'WRITE_TIMEOUT'
  /** The server sent something the protocol does not allow (garbage, wrong shape, wrong phase). */
  | 'PROTOCOL'
  /** The server closed the connection (rebalance, shutdown, fell behind, ...); the client reconnects. */
  | 'SERVER_CLOSED'
  /** The host's handler or an event listener threw; the library carried on. */
  | 'HOST_HANDLER'
  /** Options given to the constructor are invalid. Thrown by the constructor only. */
  | 'INVALID_OPTIONS';

export class CattailClientError extends Error {
  readonly code: ClientErrorCode;
  /** The server address involved, when there is one. */
  readonly address: string | undefined;
  /** The WebSocket close code involved, when there is one. */
  readonly closeCode: number | undefined;
  /** The HTTP status of a refused upgrade, when there is one. */
  readonly httpStatus: number | undefined;

  constructor(code: ClientErrorCode, message: string, details: { address?: string; closeCode?: number; httpStatus?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CattailClientError';
    this.code = code;
    this.address = details.address;
    this.closeCode = details.closeCode;
    this.httpStatus = details.httpStatus;
  }
}

/** Wraps anything thrown into a CattailClientError without losing the original as `cause`. */
export function asClientError(err: unknown, fallback: ClientErrorCode, address?: string): CattailClientError {
  if (err instanceof CattailClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CattailClientError(fallback, message, { cause: err, ...(address === undefined ? {} : { address }) });
}
