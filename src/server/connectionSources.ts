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

export class ConnectionSources<M extends SourceMember> {
  readonly #bySource = new Map<string, Set<M>>();

  /** Connections currently held by `source`. */
  count(source: string): number {
    return this.#bySource.get(source)?.size ?? 0;
  }

  add(member: M): void {
    let set = this.#bySource.get(member.source);
    if (set === undefined) this.#bySource.set(member.source, (set = new Set()));
    set.add(member);
  }

  remove(member: M): void {
    const set = this.#bySource.get(member.source);
    if (set === undefined) return;
    set.delete(member);
    if (set.size === 0) this.#bySource.delete(member.source);
  }

  /**
   * One connection to shed: chosen uniformly among the connections of the sources holding more
   * than `share` each, or among all connections when no source does. With `share` the number of
   * syncer types served (one connection per type is all a node needs), a source reconnecting in
   * a loop or a NAT in front of many nodes is shed before any ordinary agent.
   */
  pickVictim(share: number, random: () => number): M | undefined {
    const over: Array<Set<M>> = [];
    let overCount = 0;
    let total = 0;
    for (const set of this.#bySource.values()) {
      total += set.size;
      if (set.size > share) {
        over.push(set);
        overCount += set.size;
      }
    }
    const pool = overCount > 0 ? over : [...this.#bySource.values()];
    let index = Math.floor(random() * (overCount > 0 ? overCount : total));
    for (const set of pool) {
      if (index < set.size) {
        for (const m of set) if (index-- === 0) return m;
      } else {
        index -= set.size;
      }
    }
    return undefined;
  }
}
