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
  /**
   * Claimants by hostname (the string the session already holds, so no key is built per
   * session): one as itself, several (a node's syncer types, or duplicates) as an array. A Set
   * per identity would cost each connection a Set and its table.
   */
  readonly #byHostname = new Map<string, C | C[]>();

  /** Records `c`'s claim and returns the other live sessions that already claim the same identity. */
  claim(c: C): C[] {
    const { hostname, syncerType } = c;
    if (hostname === undefined || syncerType === undefined) return [];
    const held = this.#byHostname.get(hostname);
    if (held === undefined) {
      this.#byHostname.set(hostname, c);
      return [];
    }
    const list = Array.isArray(held) ? held : [held];
    const others = list.filter((o) => o !== c && o.syncerType === syncerType);
    if (!list.includes(c)) list.push(c);
    if (list !== held) this.#byHostname.set(hostname, list);
    return others;
  }

  release(c: C): void {
    const { hostname, syncerType } = c;
    if (hostname === undefined || syncerType === undefined) return;
    const held = this.#byHostname.get(hostname);
    if (held === undefined) return;
    if (!Array.isArray(held)) {
      if (held === c) this.#byHostname.delete(hostname);
      return;
    }
    const i = held.indexOf(c);
    if (i < 0) return;
    held.splice(i, 1);
    if (held.length === 1) this.#byHostname.set(hostname, held[0] as C);
  }
}
