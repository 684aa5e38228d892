import type { Logger } from '../../logger.ts';
import type { RawObject } from '../types.ts';
import { isGone, KubeBadResponseError } from './errors.ts';
import type { KubeClient, Query } from './kubeClient.ts';

/**
 * Which state a list may be served from.
 * - `cache`: `resourceVersion=0`, any state the API server's watch cache holds. The cheapest
 *   list there is (no etcd read); used for the first list, where nothing older is known.
 * - `notOlderThan`: at least as new as `resourceVersion` (what we already delivered), still from
 *   the watch cache, so a relist never moves subscribers back in time.
 * - `consistent`: no resourceVersion, the newest state (a quorum read on older servers). The
 *   fallback when the server cannot serve `notOlderThan` (e.g. it is behind us after a restart).
 */
export type ListMode =
  | { readonly kind: 'cache' }
  | { readonly kind: 'notOlderThan'; readonly resourceVersion: string }
  | { readonly kind: 'consistent' };

export interface ListRequest {
  path: string;
  apiVersion: string;
  kind: string;
  pageSize: number;
  mode: ListMode;
  signal: AbortSignal;
  logger: Logger;
  /** Restarts allowed after an expired continue token before giving up (to the backoff). */
  maxRestarts?: number;
}

export interface ListResult {
  readonly items: RawObject[];
  /** The list's revision: every page of one list carries the same one. */
  readonly resourceVersion: string;
  readonly pages: number;
}

interface ListBody {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: RawObject[];
}

/**
 * Lists a whole collection in pages of `pageSize` (`limit` + `continue`), so neither the API
 * server nor we hold a huge response at once. If a continue token expires mid-list (410: the
 * server compacted the revision the list was pinned to), the pages already read are discarded
 * and the list restarts from the first page: mixing pages of two revisions would not be a
 * consistent listing, and a watch from either revision would miss or repeat changes.
 *
 * Listed items come without `apiVersion`/`kind` (Kubernetes omits them inside lists); we fill
 * them in so listed and watched objects have the same shape downstream.
 */
export async function listAll(client: KubeClient, request: ListRequest): Promise<ListResult> {
  const maxRestarts = request.maxRestarts ?? 3;
  for (let restarts = 0; ; restarts++) {
    try {
      return await listOnce(client, request);
    } catch (err) {
      if (!(err instanceof ContinueExpired) || restarts >= maxRestarts) throw unwrap(err);
      request.logger.info(
        { path: request.path, pagesRead: err.pagesRead, restarts: restarts + 1 },
        'continue token expired mid-list; restarting the list from the first page',
      );
    }
  }
}

async function listOnce(client: KubeClient, request: ListRequest): Promise<ListResult> {
  const { path, pageSize, mode, signal } = request;
  const items: RawObject[] = [];
  let token: string | undefined;
  let revision: string | undefined;
  let pages = 0;
  do {
    // resourceVersion and resourceVersionMatch are only allowed on the first page; later
    // pages are pinned to the first page's revision by the token itself.
    const query: Query = token === undefined
      ? { limit: pageSize, ...modeQuery(mode) }
      : { limit: pageSize, continue: token };
    let body: ListBody;
    try {
      body = await client.getJson<ListBody>(path, query, signal);
    } catch (err) {
      if (token !== undefined && isGone(err)) throw new ContinueExpired(pages, err);
      throw err;
    }
    pages += 1;
    const rv = body.metadata?.resourceVersion;
    if (typeof rv !== 'string' || rv === '' || !Array.isArray(body.items)) {
      throw new KubeBadResponseError(`${path}: list response without items or metadata.resourceVersion`);
    }
    revision ??= rv;
    for (const item of body.items) {
      item.apiVersion ??= request.apiVersion;
      item.kind ??= request.kind;
      items.push(item);
    }
    token = body.metadata?.continue || undefined;
  } while (token !== undefined);
  return { items, resourceVersion: revision, pages };
}

function modeQuery(mode: ListMode): Query {
  switch (mode.kind) {
    case 'cache':
      return { resourceVersion: '0' };
    case 'notOlderThan':
      return { resourceVersion: mode.resourceVersion, resourceVersionMatch: 'NotOlderThan' };
    case 'consistent':
      return {};
  }
}

/** Internal marker: a continue token expired; carries the server's 410 as its cause. */
class ContinueExpired extends Error {
  readonly pagesRead: number;
  constructor(pagesRead: number, cause: unknown) {
    super('continue token expired', { cause });
    this.pagesRead = pagesRead;
  }
}

function unwrap(err: unknown): unknown {
  return err instanceof ContinueExpired ? err.cause : err;
}
