import type { ModelValue } from './types.ts';

interface Claim {
  readonly value: ModelValue | null;
  readonly revision: string;
}

/** What a change of claims means for one key's published value. */
export type Resolution =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'set'; readonly value: ModelValue | null; readonly revision: string }
  | { readonly kind: 'gone' };

/**
 * Which objects claim which model key. Several objects can map to the same key (two IPPools
 * with one CIDR, two HostEndpoints for one interface); Calico publishes the claim of the
 * lexicographically lowest owner and republishes the next one when it goes away. Owners are
 * compared by their sort key (`namespace/name` first, so "lowest name wins" holds per kind).
 *
 * Implementation: a map key → (owner → claim); conflicts are rare, so the winner is found by a
 * linear scan of a key's (usually single) owners rather than by keeping them sorted.
 */
export class KeyOwners {
  readonly #claims = new Map<string, Map<string, Claim>>();

  /** Records `owner`'s claim on `key` and says what the key's published value becomes. */
  claim(key: string, owner: string, value: ModelValue | null, revision: string): Resolution {
    let owners = this.#claims.get(key);
    if (owners === undefined) {
      owners = new Map();
      this.#claims.set(key, owners);
    }
    const before = winner(owners);
    owners.set(owner, { value, revision });
    const after = winner(owners) as string;
    if (after !== owner && before === after) return { kind: 'unchanged' };
    const c = owners.get(after) as Claim;
    return { kind: 'set', value: c.value, revision: c.revision };
  }

  /** Withdraws `owner`'s claim on `key`. */
  release(key: string, owner: string): Resolution {
    const owners = this.#claims.get(key);
    if (owners === undefined || !owners.has(owner)) return { kind: 'unchanged' };
    const before = winner(owners);
    owners.delete(owner);
    if (owners.size === 0) {
      this.#claims.delete(key);
      return { kind: 'gone' };
    }
    const after = winner(owners) as string;
    if (before === after) return { kind: 'unchanged' };
    const c = owners.get(after) as Claim;
    return { kind: 'set', value: c.value, revision: c.revision };
  }
}

function winner(owners: Map<string, Claim>): string | undefined {
  let best: string | undefined;
  for (const o of owners.keys()) if (best === undefined || o < best) best = o;
  return best;
}
