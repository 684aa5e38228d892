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
   * One claimant as itself, several as an array: nearly every identity has one live session,
   * and a Set per identity would cost each connection a Set and its table.
   */
  readonly #byIdentity = new Map<string, C | C[]>();

  /** Records `c`'s claim and returns the other live sessions that already claim the same identity. */
  claim(c: C): C[] {
    const key = identity(c);
    if (key === undefined) return [];
    const held = this.#byIdentity.get(key);
    if (held === undefined) {
      this.#byIdentity.set(key, c);
      return [];
    }
    if (!Array.isArray(held)) {
      if (held === c) return [];
      this.#byIdentity.set(key, [held, c]);
      return [held];
    }
    if (held.includes(c)) return held.filter((o) => o !== c);
    const others = [...held];
    held.push(c);
    return others;
  }

  release(c: C): void {
    const key = identity(c);
    if (key === undefined) return;
    const held = this.#byIdentity.get(key);
    if (held === undefined) return;
    if (!Array.isArray(held)) {
      if (held === c) this.#byIdentity.delete(key);
      return;
    }
    const i = held.indexOf(c);
    if (i < 0) return;
    held.splice(i, 1);
    if (held.length === 1) this.#byIdentity.set(key, held[0] as C);
  }
}

function identity(c: HelloClaimant): string | undefined {
  return c.hostname === undefined || c.syncerType === undefined ? undefined : `${c.syncerType}\u0000${c.hostname}`;
}
