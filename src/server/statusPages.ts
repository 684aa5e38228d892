/**
 * The `/status` answer for one computation: a summary (counts of sessions by phase and by
 * syncer type) plus one page of sessions, furthest behind first. With thousands of sessions the
 * full list is hundreds of kilobytes nobody reads; a page of 100 is what a person scans, and
 * `?offset=` reaches the rest.
 */

/** One session as `/status` shows it. */
export interface StatusSession {
  readonly connId: string;
  readonly hostname: string | undefined;
  readonly syncerType: string | undefined;
  readonly phase: string;
  readonly lagMs: number;
}

/** What the composition root reports: any summary fields, and every live session. */
export interface StatusReport {
  readonly sessions: readonly StatusSession[];
  readonly [field: string]: unknown;
}

export interface PageRequest {
  readonly offset: number;
  readonly limit: number;
}

/** Sessions per page unless `?limit=` says otherwise: about 10 KB of JSON. */
export const DEFAULT_SESSIONS_LIMIT = 100;
/** Largest page: bounds what one request can make the server serialise. */
export const MAX_SESSIONS_LIMIT = 1000;
/**
 * Distinct pages memoized per computation. Pollers share a handful of pages; a client walking
 * every offset in one interval gets the rest serialised per request, each at most one page.
 */
const MEMOIZED_PAGES = 32;

/** Reads `?offset=` and `?limit=`; an error names the bad parameter and the accepted range. */
export function parsePageRequest(query: Readonly<Record<string, unknown>>): PageRequest | { readonly error: string } {
  const offset = intParam(query.offset, 0, Number.MAX_SAFE_INTEGER, 0);
  if (offset === undefined) return { error: 'offset must be a whole number, 0 or more' };
  const limit = intParam(query.limit, 0, MAX_SESSIONS_LIMIT, DEFAULT_SESSIONS_LIMIT);
  if (limit === undefined) return { error: `limit must be a whole number from 0 to ${MAX_SESSIONS_LIMIT}` };
  return { offset, limit };
}

function intParam(raw: unknown, min: number, max: number, fallback: number): number | undefined {
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

export class StatusPages {
  readonly #summary: Record<string, unknown>;
  readonly #sessions: readonly StatusSession[];
  readonly #pages = new Map<string, Buffer>();

  constructor(report: StatusReport, computedAt: number) {
    const { sessions, ...summary } = report;
    const byPhase: Record<string, number> = { handshake: 0, digests: 0, snapshot: 0, 'awaiting-ack': 0, streaming: 0 };
    const bySyncer: Record<string, number> = {};
    for (const s of sessions) {
      byPhase[s.phase] = (byPhase[s.phase] ?? 0) + 1;
      if (s.syncerType !== undefined) bySyncer[s.syncerType] = (bySyncer[s.syncerType] ?? 0) + 1;
    }
    this.#summary = { ...summary, computedAt: new Date(computedAt).toISOString(), sessionCounts: { total: sessions.length, byPhase, bySyncer } };
    this.#sessions = [...sessions].sort((a, b) => b.lagMs - a.lagMs || (a.connId < b.connId ? -1 : a.connId > b.connId ? 1 : 0));
  }

  /** The JSON bytes of one page; the same Buffer for every request of that page. */
  page(req: PageRequest): Buffer {
    const id = `${req.offset}:${req.limit}`;
    const memo = this.#pages.get(id);
    if (memo !== undefined) return memo;
    const items = this.#sessions.slice(req.offset, req.offset + req.limit);
    const body = Buffer.from(JSON.stringify({
      ...this.#summary,
      sessions: items,
      sessionsPage: { offset: req.offset, limit: req.limit, returned: items.length, total: this.#sessions.length },
    }));
    if (this.#pages.size < MEMOIZED_PAGES) this.#pages.set(id, body);
    return body;
  }
}
