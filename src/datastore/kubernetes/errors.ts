/**
 * Typed errors of the Kubernetes datastore. Each has a stable `code` so callers (and logs) can
 * branch on what happened without parsing messages; the original failure travels in `cause`.
 *
 * The list/watch loop sorts every failure into one of three buckets, and these helpers are the
 * only place that decides which:
 * - *gone*: the resourceVersion or continue token is too old (HTTP 410, or an ERROR watch event
 *   with code 410) → relist from scratch, not an outage;
 * - *aborted*: we cancelled the request ourselves (close(), watchdog) → not an error at all;
 * - anything else (5xx, 403, refused/reset connections, bad JSON) → back off and retry.
 */

export type KubeErrorCode =
  | 'KUBE_CONFIG'
  | 'KUBE_API_STATUS'
  | 'KUBE_WATCH_IDLE'
  | 'KUBE_BAD_RESPONSE'
  | 'KUBE_REQUEST_TIMEOUT';

export class KubeError extends Error {
  readonly code: KubeErrorCode;
  constructor(code: KubeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeError';
    this.code = code;
  }
}

/** No usable configuration: not in a pod, no --kubeconfig, no KUBECONFIG. */
export class KubeConfigError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBE_CONFIG', message, options);
    this.name = 'KubeConfigError';
  }
}

/**
 * The API server answered with a non-success status (HTTP, or a `Status` object inside a watch
 * stream). `reason` is the Kubernetes `Status.reason` (`Expired`, `Gone`, `Forbidden`, ...).
 */
export class KubeApiError extends KubeError {
  readonly status: number;
  readonly reason: string | undefined;
  readonly path: string;
  constructor(status: number, path: string, reason: string | undefined, message: string) {
    super('KUBE_API_STATUS', `${path}: HTTP ${status}${reason ? ` ${reason}` : ''}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.path = path;
  }
}

/** A response we could not make sense of (truncated JSON, a list without metadata). */
export class KubeBadResponseError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBE_BAD_RESPONSE', message, options);
    this.name = 'KubeBadResponseError';
  }
}

/**
 * A watch went quiet for longer than it may: no event and no bookmark for the whole server-side
 * timeout plus a margin, so the connection is probably half-open.
 */
export class WatchIdleError extends KubeError {
  constructor(idleMs: number) {
    super('KUBE_WATCH_IDLE', `watch idle for ${idleMs} ms; assuming a dead connection`);
    this.name = 'WatchIdleError';
  }
}

/** A non-watch request took longer than `requestTimeoutMs`. */
export class RequestTimeoutError extends KubeError {
  constructor(path: string, ms: number) {
    super('KUBE_REQUEST_TIMEOUT', `${path}: no complete response within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** 410: the resourceVersion (watch) or continue token (list) has been compacted away. */
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

/** The request was cancelled by an AbortSignal we own (close() or a watchdog we handle). */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

/** Builds a KubeApiError from a Kubernetes `Status` body (HTTP error body or watch ERROR event). */
export function apiErrorFromStatus(status: number, path: string, body: unknown): KubeApiError {
  const s = (body ?? {}) as { reason?: unknown; message?: unknown; code?: unknown };
  const code = typeof s.code === 'number' && s.code > 0 ? s.code : status;
  const reason = typeof s.reason === 'string' && s.reason !== '' ? s.reason : undefined;
  const message = typeof s.message === 'string' && s.message !== '' ? s.message : 'request failed';
  return new KubeApiError(code, path, reason, message);
}
