/**
 * Connections counted per source, where a source is the peer IP address the server sees. It
 * backs the per-source cap (refusal at the upgrade) and the choice of whom to shed over the
 * connection limit.
 *
 * A source is the TCP peer, nothing the client says: headers such as X-Forwarded-For are
 * not trusted, since any client can send them. Agents reach replicas directly (they discover
 * pod addresses from the EndpointSlices), so one source is normally one node. Behind a NAT or a
 * proxy that does not keep client addresses, many nodes share one source; the cap must then be
 * raised to cover them (or set to 0), and that source is shed first when over the limit.
 */
export interface SourceMember {
  readonly source: string;
}

/** The source of a peer address: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, seen on a `::` listener) becomes plain IPv4. */
export function sourceOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'unknown';
  return remoteAddress.toLowerCase().startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

/** `address:port` for logs, with brackets around IPv6 addresses. */
export function peerText(source: string, port: number | undefined): string {
  const host = source.includes(':') ? `[${source}]` : source;
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * Counts per source, one number each: the members themselves are the caller's (the server's
 * set of sessions), so a connection costs this class no Set of its own.
 */
export class ConnectionSources<M extends SourceMember> {
  readonly #counts = new Map<string, number>();

  /** Connections currently held by `source`. */
  count(source: string): number {
    return this.#counts.get(source) ?? 0;
  }

  add(member: M): void {
    this.#counts.set(member.source, (this.#counts.get(member.source) ?? 0) + 1);
  }

  remove(member: M): void {
    const n = this.#counts.get(member.source);
    if (n === undefined) return;
    if (n <= 1) this.#counts.delete(member.source);
    else this.#counts.set(member.source, n - 1);
  }

  /**
   * One connection to shed among `members` (every member added and not removed): chosen
   * uniformly among the connections of the sources holding more than `share` each, or among all
   * connections when no source does. With `share` the number of syncer types served (one
   * connection per type is all a node needs), a source reconnecting in a loop or a NAT in front
   * of many nodes is shed before any ordinary agent.
   */
  pickVictim(members: Iterable<M>, share: number, random: () => number): M | undefined {
    let overCount = 0;
    let total = 0;
    for (const n of this.#counts.values()) {
      total += n;
      if (n > share) overCount += n;
    }
    const over = overCount > 0;
    let index = Math.floor(random() * (over ? overCount : total));
    for (const m of members) {
      if (over && this.count(m.source) <= share) continue;
      if (index-- === 0) return m;
    }
    return undefined;
  }
}
