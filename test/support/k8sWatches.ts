/**
 * The open watch connections of the Kubernetes API server emulator (k8sEmulator.ts): writing
 * NDJSON events through each watch's selectors, bookmarks, server-side timeouts, and the watch
 * faults (drop, expire with 410, stall like a half-open connection).
 */
import type http from 'node:http';
import type { RawObject } from '../../src/datastore/types.ts';
import type { Matcher } from './k8sSelectors.ts';
import type { StoredEvent } from './k8sStore.ts';

export interface WatchSpec {
  readonly path: string;
  /** `<group>/<plural>`, as StoredEvent.resource. */
  readonly resource: string;
  readonly match: Matcher;
  readonly bookmarks: boolean;
  /** Sent as ADDED first (a watch without a resourceVersion). */
  readonly initial: readonly RawObject[];
  /** History after the watch's resourceVersion, replayed before live events. */
  readonly replay: readonly StoredEvent[];
  /** Server-side end; Infinity for none. */
  readonly timeoutMs: number;
}

interface WatchConn {
  readonly res: http.ServerResponse;
  readonly spec: WatchSpec;
  /** Dead: writes and its timeout are swallowed, the socket stays open (half-open). */
  stalled: boolean;
  timer?: NodeJS.Timeout;
}

/** A Kubernetes `Status` object, as error bodies and ERROR events carry. */
export function statusBody(code: number, message: string, reason: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** One watch stream line. */
export function watchLine(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

export class WatchHub {
  private readonly conns = new Set<WatchConn>();
  private stalledNew = false;

  /** Starts streaming `spec` on `res` (headers not yet sent). */
  open(res: http.ServerResponse, spec: WatchSpec): void {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const conn: WatchConn = { res, spec, stalled: this.stalledNew };
    this.conns.add(conn);
    res.on('close', () => {
      clearTimeout(conn.timer);
      this.conns.delete(conn);
    });
    for (const o of spec.initial) this.send(conn, 'ADDED', o);
    for (const e of spec.replay) this.deliver(conn, e);
    if (Number.isFinite(spec.timeoutMs) && !conn.stalled) {
      conn.timer = setTimeout(() => {
        if (!conn.stalled) this.end(conn, false);
      }, spec.timeoutMs);
      conn.timer.unref();
    }
  }

  /** Passes a store write to every watch of its collection. */
  fanOut(event: StoredEvent): void {
    for (const c of this.conns) if (c.spec.resource === event.resource) this.deliver(c, event);
  }

  count(path?: string): number {
    return [...this.conns].filter((c) => path === undefined || c.spec.path === path).length;
  }

  dropAll(abrupt: boolean): void {
    for (const c of [...this.conns]) this.end(c, abrupt);
  }

  /** Sends ERROR 410 into every watch and ends it: the watch cache lost their position. */
  expireAll(): void {
    for (const c of [...this.conns]) {
      if (!c.res.writableEnded) c.res.write(watchLine('ERROR', statusBody(410, 'too old resource version', 'Expired')));
      this.end(c, false);
    }
  }

  bookmarkAll(revision: number): void {
    for (const c of this.conns) if (c.spec.bookmarks) this.send(c, 'BOOKMARK', { metadata: { resourceVersion: String(revision) } });
  }

  /** On: current and new watches go dead. Off: new watches are live; dead ones stay dead. */
  stall(on: boolean): void {
    this.stalledNew = on;
    if (!on) return;
    for (const c of this.conns) {
      c.stalled = true;
      clearTimeout(c.timer);
    }
  }

  /** Forgets every watch without writing (their sockets are being destroyed). */
  forgetAll(): void {
    for (const c of this.conns) clearTimeout(c.timer);
    this.conns.clear();
  }

  /** Sends a stored event through a watch's selectors: leaving the selection is a DELETED. */
  private deliver(c: WatchConn, e: StoredEvent): void {
    const { match } = c.spec;
    const now = e.type !== 'DELETED' && match(e.object);
    const before = e.type === 'DELETED' ? match(e.object) : e.previous !== undefined && match(e.previous);
    if (now && before) this.send(c, 'MODIFIED', e.object);
    else if (now) this.send(c, 'ADDED', e.object);
    else if (before) this.send(c, 'DELETED', e.object);
  }

  private send(c: WatchConn, type: string, object: unknown): void {
    if (c.stalled || c.res.writableEnded) return;
    c.res.write(watchLine(type, object));
  }

  private end(c: WatchConn, abrupt: boolean): void {
    clearTimeout(c.timer);
    this.conns.delete(c);
    if (abrupt) c.res.socket?.destroy();
    else c.res.end();
  }
}
