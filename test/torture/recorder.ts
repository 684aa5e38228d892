/**
 * A recording host for one SyncClient: applies every delivery to its own map and checks the
 * library's contract as it goes. Fed also with the wire (through the proxy tap) so it can check
 * that `in-sync` never reached the host before an update that preceded it on the wire.
 *
 * The in-sync check is conservative (no false positives): each update the host receives is
 * matched to the *latest* wire occurrence of its (key, revision), each in-sync the host receives
 * to the *earliest* unmatched wire in-sync; an update whose latest wire occurrence is older than
 * the in-sync the host already got was certainly delivered after it.
 */
import type { ServerMessage } from '../../src/protocol/index.ts';
import type { SyncHandler, SyncStatus, Update } from '../../clients/typescript/src/index.ts';

export class RecordingHost implements SyncHandler {
  readonly name: string;
  readonly held = new Map<string, unknown>();
  readonly violations: string[] = [];
  status: SyncStatus | undefined;
  deliveries = 0;
  #wireSeq = 0;
  /** key → its latest few (revision/type signature, wire seq) pairs; bounded so long runs do not grow. */
  readonly #lastSeen = new Map<string, [string, number][]>();
  /** Wire seqs of in-sync statuses not yet matched to a host delivery (matched ones are dropped). */
  #wireInSync: number[] = [];
  #hostInSyncAt = -1;
  #pause: Promise<void> | undefined;
  #resume: (() => void) | undefined;

  readonly #checkWire: boolean;

  /** `checkWire: false` when no wire tap feeds `onWire` (the in-sync ordering check is then off). */
  constructor(name: string, options: { checkWire?: boolean } = {}) {
    this.name = name;
    this.#checkWire = options.checkWire ?? true;
  }

  /** While paused, the handler does not return: a slow host. */
  pause(): void {
    if (this.#pause !== undefined) return;
    this.#pause = new Promise((resolve) => { this.#resume = resolve; });
  }

  resume(): void {
    this.#resume?.();
    this.#pause = undefined;
    this.#resume = undefined;
  }

  /** One server → client message as it crossed the wire. */
  /** The wire tap saw a frame it could not decode, so the ordering check would be blind to it. */
  wireUndecodable(reason: string): void {
    this.#violate(`a server frame the wire tap could not decode: ${reason}`);
  }

  onWire(msg: ServerMessage): void {
    this.#wireSeq++;
    if (msg.type === 'kvs') {
      for (const [key, , revision, type] of msg.kvs) {
        const sig = `${revision}\u0000${type === 3 ? 'd' : 's'}`;
        const list = (this.#lastSeen.get(key) ?? []).filter(([s]) => s !== sig);
        list.push([sig, this.#wireSeq]);
        if (list.length > 4) list.shift();
        this.#lastSeen.set(key, list);
      }
    } else if (msg.type === 'status' && msg.status === 'in-sync') {
      this.#wireInSync.push(this.#wireSeq);
    }
  }

  async onUpdates(updates: readonly Update[]): Promise<void> {
    if (this.#pause !== undefined) await this.#pause;
    this.deliveries++;
    const inBatch = new Set<string>();
    for (const u of updates) {
      if (inBatch.has(u.key)) this.#violate(`key ${u.key} twice in one batch`);
      inBatch.add(u.key);
      const holds = this.held.has(u.key);
      if (u.type === 'new' && holds) this.#violate(`'new' for a held key ${u.key}`);
      if (u.type === 'updated' && !holds) this.#violate(`'updated' before 'new' for ${u.key}`);
      if (u.type === 'deleted' && !holds) this.#violate(`deletion of a key the host did not hold: ${u.key}`);
      if ((u.type === 'deleted') !== (u.value === null)) this.#violate(`value/type mismatch for ${u.key} (${u.type})`);
      if (u.type === 'deleted') this.held.delete(u.key);
      else this.held.set(u.key, u.value);
      if (u.revision !== '' && this.#hostInSyncAt >= 0) {
        const sig = `${u.revision}\u0000${u.type === 'deleted' ? 'd' : 's'}`;
        const seen = this.#lastSeen.get(u.key)?.find(([s]) => s === sig)?.[1];
        if (seen !== undefined && seen < this.#hostInSyncAt) {
          this.#violate(`update ${u.type} ${u.key}@${u.revision} (wire #${seen}) delivered after in-sync (wire #${this.#hostInSyncAt})`);
        }
      }
      if (u.revision === '' && this.status === 'in-sync') this.#violate(`synthesised deletion of ${u.key} after in-sync`);
    }
  }

  async onStatus(status: SyncStatus): Promise<void> {
    if (this.#pause !== undefined) await this.#pause;
    this.deliveries++;
    if (status === this.status) this.#violate(`status ${status} repeated`);
    this.status = status;
    if (status === 'in-sync' && this.#checkWire) {
      const i = this.#wireInSync.findIndex((s) => s > this.#hostInSyncAt);
      if (i < 0) this.#violate('in-sync delivered that never crossed the wire');
      else {
        this.#hostInSyncAt = this.#wireInSync[i]!;
        this.#wireInSync = this.#wireInSync.slice(i + 1);
      }
    }
  }

  #violate(what: string): void {
    if (this.violations.length < 20) this.violations.push(`${this.name}: ${what}`);
  }
}
