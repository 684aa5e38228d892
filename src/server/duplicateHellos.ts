/**
 * Live sessions by the identity their hello claims: syncer type and hostname. A node opens one
 * connection per syncer type, so two live sessions with the same pair are either a reconnect
 * whose old connection the server has not yet found dead (it goes at the pong timeout) or two
 * agents sharing a hostname (a cloned VM image, a mistyped NODENAME), which makes their
 * per-node data wrong. The server flags each such hello; it does not refuse it, because the
 * reconnecting case is legitimate and refusing would keep a node without data.
 */
export interface HelloClaimant {
  readonly hostname: string | undefined;
  readonly syncerType: string | undefined;
}

export class DuplicateHellos<C extends HelloClaimant> {
  readonly #byIdentity = new Map<string, Set<C>>();

  /** Records `c`'s claim and returns the other live sessions that already claim the same identity. */
  claim(c: C): C[] {
    const key = identity(c);
    if (key === undefined) return [];
    let set = this.#byIdentity.get(key);
    if (set === undefined) this.#byIdentity.set(key, (set = new Set()));
    const others = [...set];
    set.add(c);
    return others;
  }

  release(c: C): void {
    const key = identity(c);
    if (key === undefined) return;
    const set = this.#byIdentity.get(key);
    if (set === undefined) return;
    set.delete(c);
    if (set.size === 0) this.#byIdentity.delete(key);
  }
}

function identity(c: HelloClaimant): string | undefined {
  return c.hostname === undefined || c.syncerType === undefined ? undefined : `${c.syncerType}\u0000${c.hostname}`;
}
