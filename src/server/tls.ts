import type http from 'node:http';

/**
 * TLS for the sync listener: builds the HTTPS server and enforces the client-certificate
 * allow-list. Filled in by the TLS work; the sync server only needs these two operations.
 */
export interface TlsSettings {
  createServer(): http.Server;
  /** Adds per-connection handshake bounds and certificate checks to the server. */
  attach(server: http.Server, handshakeTimeoutMs: number): void;
}
