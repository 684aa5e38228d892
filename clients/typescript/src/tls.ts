import { readFile } from 'node:fs/promises';
import { checkServerIdentity as defaultCheckServerIdentity, type PeerCertificate } from 'node:tls';
import { CattailClientError, type ClientErrorCode } from './errors.ts';
import { certificateNamesMatch, commonNames, uriSans } from '../../../src/protocol/index.ts';

/**
 * TLS towards the server, the mirror of the server's mTLS settings. Server addresses are
 * short-lived pod IPs, so instead of a hostname the client checks the chain against `ca` and
 * the certificate's identity against `serverCommonName` and/or `serverUriSan` (either matching
 * is enough when both are set), like Typha's ServerCN / ServerURISAN.
 */
export interface TlsOptions {
  /** PEM CA bundle that signs the server certificates (path, or the PEM itself in `ca`). */
  readonly caFile?: string;
  readonly ca?: string | Buffer;
  /** Client certificate and key for mTLS. */
  readonly certFile?: string;
  readonly cert?: string | Buffer;
  readonly keyFile?: string;
  readonly key?: string | Buffer;
  /** Required Common Name of the server certificate's subject. */
  readonly serverCommonName?: string;
  /** Required URI SAN of the server certificate (e.g. a SPIFFE id). */
  readonly serverUriSan?: string;
}

/** The part of ws / tls.connect options that TLS contributes. */
export interface SocketTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly minVersion: 'TLSv1.2';
  readonly checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

/** Checks the options without touching files; returns the problems found (empty = fine). */
export function validateTlsOptions(options: TlsOptions): string[] {
  const problems: string[] = [];
  if (options.ca !== undefined && options.caFile !== undefined) problems.push('tls: set ca or caFile, not both');
  if (options.cert !== undefined && options.certFile !== undefined) problems.push('tls: set cert or certFile, not both');
  if (options.key !== undefined && options.keyFile !== undefined) problems.push('tls: set key or keyFile, not both');
  const hasCert = options.cert !== undefined || options.certFile !== undefined;
  const hasKey = options.key !== undefined || options.keyFile !== undefined;
  if (hasCert !== hasKey) problems.push('tls: a client certificate needs its key and a key needs its certificate');
  return problems;
}

/**
 * Builds socket options, reading the files now. Called once per connection attempt so that
 * rotated certificates are picked up without restarting the host.
 */
export async function loadTls(options: TlsOptions): Promise<SocketTlsOptions> {
  const read = async (path: string | undefined, inline: string | Buffer | undefined, what: string): Promise<string | Buffer | undefined> => {
    if (inline !== undefined || path === undefined) return inline;
    try {
      return await readFile(path);
    } catch (err) {
      throw new CattailClientError('TLS_CONFIG', `cannot read TLS ${what} file ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(options.caFile, options.ca, 'CA'),
    read(options.certFile, options.cert, 'certificate'),
    read(options.keyFile, options.key, 'key'),
  ]);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    minVersion: 'TLSv1.2',
    checkServerIdentity: identityChecker(options.serverCommonName, options.serverUriSan),
  };
}

/** Marks our own identity-check failures so they can be told apart from chain failures. */
const NAME_MISMATCH = 'ERR_CATTAIL_TLS_NAME_MISMATCH';

function identityChecker(commonName: string | undefined, uriSan: string | undefined): SocketTlsOptions['checkServerIdentity'] {
  if (commonName === undefined && uriSan === undefined) {
    // Nothing configured: fall back to ordinary hostname/IP verification.
    return (hostname, cert) => defaultCheckServerIdentity(hostname, cert);
  }
  return (_hostname, cert) => {
    if (certificateNamesMatch(cert, commonName === undefined ? [] : [commonName], uriSan === undefined ? [] : [uriSan])) return undefined;
    const cns = commonNames(cert);
    const uris = uriSans(cert);
    const wanted = [commonName === undefined ? '' : `CN=${commonName}`, uriSan === undefined ? '' : `URI SAN ${uriSan}`]
      .filter(Boolean).join(' or ');
    const err = new Error(
      `server certificate identity mismatch: wanted ${wanted}, certificate has CN=[${cns.join(', ')}] URI SANs=[${uris.join(', ')}]`,
    ) as Error & { code: string };
    err.code = NAME_MISMATCH;
    return err;
  };
}


/** OpenSSL verification codes that mean "this chain is not trusted by the configured CA". */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA',
]);

/** Maps a socket error to a TLS error with a clear message, or undefined if it is not about TLS. */
export function classifyTlsError(err: unknown, url: string): CattailClientError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  const message = (err as Error).message;
  let kind: ClientErrorCode | undefined;
  let text = '';
  if (code === NAME_MISMATCH || code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    kind = 'TLS_NAME_MISMATCH';
    text = message;
  } else if (UNTRUSTED_CODES.has(code)) {
    kind = 'TLS_UNTRUSTED';
    text = `server certificate is not trusted (${code}: ${message}); is the CA bundle the one that signs the servers?`;
  } else if (code.startsWith('ERR_SSL_')) {
    kind = 'TLS_UNTRUSTED';
    text = `TLS handshake failed (${code}: ${message}); does the server accept this client's certificate, and does it speak TLS?`;
  }
  if (kind === undefined) return undefined;
  return new CattailClientError(kind, `${url}: ${text}`, { address: url, cause: err });
}
