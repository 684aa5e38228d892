import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../logger.ts';
import { certificateNamesMatch, commonNames, uriSans } from '../protocol/index.ts';

/**
 * TLS for the sync listener: builds the HTTPS server, bounds each TLS handshake, checks the
 * client certificate (chain and names) at the HTTP upgrade, and reloads certificate files when
 * they change (rotation without restart).
 *
 * Why the certificate is checked at the upgrade and not in the TLS handshake: a TLS layer that
 * rejects a certificate can only send an alert, and with TLS 1.3 the client has already
 * finished its side of the handshake by then, so it sees "socket hang up" or a reset and
 * cannot tell a refused certificate from a network fault. The handshake therefore requests a
 * certificate without rejecting any, and the upgrade refuses an untrusted, missing or
 * unlisted one with HTTP 403 and the reason. No request is served before that check: the only
 * other answer the sync listener gives is its fixed 426 "open a WebSocket" text.
 */
export interface TlsSettings {
  /**
   * The HTTPS server. Each TLS handshake is bounded by `handshakeTimeoutMs` (the server also
   * bounds the whole handshake from TCP accept); Node runs handshakes concurrently, so a
   * stalled one delays nobody else.
   */
  createServer(handshakeTimeoutMs: number): http.Server;
  /** Why a connection's client certificate is refused (missing, untrusted, not listed), or undefined when it is allowed. */
  rejectReason(socket: unknown): string | undefined;
  close(): void;
}

export interface TlsOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly allowedCommonNames: readonly string[];
  readonly allowedUriSans: readonly string[];
  readonly logger: Logger;
  /** How often certificate files are checked for changes. */
  readonly reloadCheckMs?: number;
}

export function createTlsSettings(opts: TlsOptions): TlsSettings {
  const read = () => ({ cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile), ca: readFileSync(opts.caFile) });
  let server: https.Server | undefined;
  const files = [opts.certFile, opts.keyFile, opts.caFile];
  const onChange = () => {
    try {
      server?.setSecureContext({ ...read(), minVersion: 'TLSv1.2' });
      opts.logger.info({ files }, 'reloaded TLS certificate files');
    } catch (err) {
      // A half-written rotation must not take the listener down; the old context stays in use.
      opts.logger.error({ err: (err as Error).message }, 'could not reload TLS files; keeping the previous ones');
    }
  };
  return {
    createServer: (handshakeTimeoutMs) => {
      server = https.createServer({ ...read(), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', handshakeTimeout: handshakeTimeoutMs });
      for (const f of files) watchFile(f, { interval: opts.reloadCheckMs ?? 5000, persistent: false }, onChange);
      return server;
    },
    rejectReason: (socket) => {
      const tlsSocket = socket as TLSSocket;
      const cert = tlsSocket.getPeerCertificate?.();
      if (cert === undefined || Object.keys(cert).length === 0) return 'no client certificate';
      if (tlsSocket.authorized !== true) return `client certificate not trusted (${String(tlsSocket.authorizationError ?? 'unverified')})`;
      if (certificateNamesMatch(cert, opts.allowedCommonNames, opts.allowedUriSans)) return undefined;
      return `client certificate (CN ${JSON.stringify(commonNames(cert))}, URI SANs ${JSON.stringify(uriSans(cert))}) is not on the allow-list`;
    },
    close: () => {
      for (const f of files) unwatchFile(f, onChange);
    },
  };
}
