/**
 * Errors of the etcd datastore, with stable codes the watch loop decides on:
 * `compacted` relists; `unavailable` and `timeout` fail over to the next endpoint and retry
 * with backoff; `denied` (authentication, permission, a refused TLS client certificate shows up
 * as `unavailable` since the socket is cut) retries with backoff too, logged with etcd's reason.
 */
export type EtcdErrorCode = 'compacted' | 'unavailable' | 'timeout' | 'denied' | 'bad-response' | 'canceled' | 'http';

export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  readonly code: EtcdErrorCode;

  constructor(code: EtcdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  static network(url: URL, cause: Error): EtcdError {
    if (cause instanceof EtcdError) return cause;
    return new EtcdError('unavailable', `etcd ${url.origin} unreachable: ${cause.message}`, { cause });
  }
}

/** The gateway's error answer (`{"error": ..., "code": <grpc code>, "message": ...}`) as an {@link EtcdError}. */
export function classifyGatewayError(httpStatus: number, body: string): EtcdError {
  let message = body.slice(0, 300);
  let grpcCode: number | undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown; code?: unknown; grpc_code?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
    else if (typeof parsed.error === 'string') message = parsed.error;
    if (typeof parsed.code === 'number') grpcCode = parsed.code;
    else if (typeof parsed.grpc_code === 'number') grpcCode = parsed.grpc_code;
  } catch {
    // not JSON: keep the text
  }
  const text = `etcd answered HTTP ${httpStatus}: ${message}`;
  if (/compacted/i.test(message)) return new EtcdError('compacted', text);
  // gRPC codes: 14 unavailable, 4 deadline exceeded, 16 unauthenticated, 7 permission denied.
  if (grpcCode === 14 || /leader|unavailable|stopped/i.test(message)) return new EtcdError('unavailable', text);
  if (grpcCode === 4) return new EtcdError('timeout', text);
  if (grpcCode === 16 || grpcCode === 7 || httpStatus === 401 || httpStatus === 403 || /auth|permission denied|user name|password|CommonName/i.test(message)) {
    return new EtcdError('denied', text);
  }
  return new EtcdError('http', text);
}
