/**
 * WebSocket close codes Cattail uses (RFC 6455 reserves 4000–4999 for applications). Every
 * close the server initiates carries one of these and a short human-readable reason. The
 * `retry` column tells a client whether reconnecting (possibly to another replica) can help.
 */
export const CloseCode = {
  /** Normal end: the client or server closed on purpose. */
  normal: 1000,
  /** RFC 6455 framing broken (detected by ws as the frame header arrives); the reason names the fault. */
  webSocketProtocolError: 1002,
  /** The first message was not a hello, or a message arrived that is not allowed in this phase. */
  protocolError: 4000,
  /** A frame that is not a single decodable MessagePack message of a known shape (also text frames). */
  badFrame: 4001,
  /** The hello asked for a protocol version this server does not speak. Do not retry unchanged. */
  unsupportedVersion: 4002,
  /** The hello asked for a syncer type this server does not serve. Do not retry unchanged. */
  unknownSyncerType: 4003,
  /** No hello arrived within the handshake timeout. */
  handshakeTimeout: 4004,
  /** The client sent frames faster than the inbound rate limit allows (a flood of pongs, pings or other messages). */
  inboundRateExceeded: 4008,
  /** A frame exceeded the inbound size limit; it was rejected before being buffered. */
  frameTooLarge: 4009,
  /** The client fell further behind than the fall-behind limit allows. Reconnect for a fresh snapshot. */
  fellBehind: 4010,
  /** No pong for longer than the pong timeout. */
  pongTimeout: 4012,
  /** The server is over its connection limit and is shedding load: try another replica. */
  rebalance: 4020,
  /** The server is shutting down: try another replica. */
  shuttingDown: 4021,
  /** Sent by a client, not the server: it leaves a replica whose data is stale for one a probe found in sync (PROTOCOL.md §11.9). */
  leavingStaleReplica: 4030,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** Close codes after which a client must not reconnect with the same hello. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.unsupportedVersion, CloseCode.unknownSyncerType]);

/** Close codes that ask the client to prefer a different replica on its next attempt. */
export const MOVE_ON_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.rebalance, CloseCode.shuttingDown]);
