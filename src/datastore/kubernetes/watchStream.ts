import type { Clock, Timer } from '../../clock.ts';
import type { RawObject } from '../types.ts';
import { apiErrorFromStatus, isAbort, KubeBadResponseError, WatchIdleError } from './errors.ts';
import type { KubeClient } from './kubeClient.ts';

/** One line of a watch stream, minus ERROR events (which runWatch turns into errors). */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  readonly object: RawObject;
}

export interface WatchRequest {
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  /** Start after this revision (exclusive), as Kubernetes defines it. */
  resourceVersion: string;
  /** Asks the server to end the watch cleanly after this long. */
  timeoutSeconds: number;
  /** The watchdog: no event or bookmark for this long aborts the watch with WatchIdleError. */
  idleMs: number;
  clock: Clock;
  signal: AbortSignal;
  /** Called synchronously for each event in stream order; must not throw. */
  onEvent(event: WatchEvent): void;
  /** Called once the server accepted the watch (HTTP 200), before any event. */
  onOpen?(): void;
}

/** How a watch that did not fail ended. */
export interface WatchResult {
  /** Events (including bookmarks) received. */
  readonly events: number;
}

/**
 * Runs one watch request to its end. Resolves when the server ends the stream cleanly (its
 * `timeoutSeconds` elapsed, or it closed the connection between events). Rejects with:
 * - KubeApiError for a non-2xx status or an ERROR event (status 410 = resourceVersion expired);
 * - WatchIdleError when the watchdog fired (probably a half-open connection: TCP keep-alive
 *   alone would take ~12 minutes to notice on Linux defaults);
 * - an AbortError when `signal` aborted;
 * - a network error (ECONNRESET, ECONNREFUSED, ...) as is.
 *
 * The watchdog also covers the wait for response headers, so a server that accepts the
 * connection and never answers is caught too.
 */
export async function runWatch(client: KubeClient, request: WatchRequest): Promise<WatchResult> {
  const { clock, idleMs, path } = request;
  const idle = new AbortController();
  // One timer per watch rather than one per event (busy kinds see thousands of events a
  // second): events only stamp `lastEventAt`; when the timer fires it re-arms for the rest.
  let lastEventAt = clock.now();
  let timer: Timer | undefined;
  const check = (): void => {
    const quietFor = clock.now() - lastEventAt;
    if (quietFor >= idleMs) {
      idle.abort(new WatchIdleError(idleMs));
      return;
    }
    timer = clock.setTimeout(check, idleMs - quietFor);
    timer.unref?.();
  };
  const signal = AbortSignal.any([request.signal, idle.signal]);
  let events = 0;
  check();
  try {
    const body = await client.open(
      path,
      {
        watch: 'true',
        resourceVersion: request.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: request.timeoutSeconds,
      },
      signal,
    );
    request.onOpen?.();
    body.setEncoding('utf8');
    let buffered = '';
    for await (const chunk of body) {
      buffered += chunk as string;
      // Walk the complete lines by index and keep only the unfinished tail, so a chunk holding
      // many small events is not re-copied once per event.
      let start = 0;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n', start)) {
        const line = buffered.slice(start, newline).trim();
        start = newline + 1;
        if (line === '') continue;
        lastEventAt = clock.now();
        events += 1;
        const event = parseLine(path, line);
        if (event.type === 'ERROR') throw apiErrorFromStatus(500, path, event.object);
        if (!isKnownType(event.type)) continue;
        request.onEvent(event as WatchEvent);
      }
      buffered = buffered.slice(start);
    }
    // A final line without a newline is a truncated event; the stream ended mid-write.
    if (buffered.trim() !== '') throw new KubeBadResponseError(`${path}: watch stream ended mid-event`);
    return { events };
  } catch (err) {
    if (idle.signal.aborted && !request.signal.aborted && isAbort(err)) throw idle.signal.reason as Error;
    throw err;
  } finally {
    // Leaving the for-await early (an ERROR event, a bad line) has already destroyed the body
    // and its socket; a clean end returned the socket to the pool. Only the timer is left.
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

function isKnownType(type: string): type is WatchEvent['type'] {
  return type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' || type === 'BOOKMARK';
}

function parseLine(path: string, line: string): { type: string; object: RawObject } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new KubeBadResponseError(`${path}: watch event is not JSON`, { cause: err });
  }
  const e = parsed as { type?: unknown; object?: unknown };
  if (typeof e.type !== 'string' || typeof e.object !== 'object' || e.object === null) {
    throw new KubeBadResponseError(`${path}: watch event without type or object`);
  }
  return { type: e.type, object: e.object as RawObject };
}
