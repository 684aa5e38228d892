/**
 * Counts how connections caught up, from what crossed the wire (the proxies' taps), so the
 * figures do not depend on the client's or the server's own bookkeeping: every serverHello says
 * its path (`catchUp`, PROTOCOL.md §11; absent for a client that offered nothing, which gets a
 * full snapshot), and a digest catch-up whose `buckets` bitmap has every bit set is a full
 * snapshot too.
 */
import type { ServerMessage } from '../../src/protocol/index.ts';

export interface CatchUpCounts {
  /** serverHellos (connections that got as far as the server's answer). */
  readonly hellos: number;
  readonly resumes: number;
  /** Digest catch-ups that replaced only some buckets. */
  readonly digests: number;
  /** Digest catch-ups that replaced every bucket (the server streamed its full snapshot). */
  readonly digestsFull: number;
  /** `catchUp: "snapshot"` (a capable client the server could not serve a diff). */
  readonly snapshots: number;
  /** No `catchUp` (a client that offered neither capability): a full snapshot, as before. */
  readonly plain: number;
  /** Probes answered (`probe answered` closes; their serverHellos are not counted above). */
  readonly probes: number;
  /** `catchUpReason` → count. */
  readonly reasons: Readonly<Record<string, number>>;
}

export const NO_CATCH_UP: CatchUpCounts = { hellos: 0, resumes: 0, digests: 0, digestsFull: 0, snapshots: 0, plain: 0, probes: 0, reasons: {} };

export class CatchUpTally {
  #counts = { hellos: 0, resumes: 0, digests: 0, digestsFull: 0, snapshots: 0, plain: 0, probes: 0 };
  readonly #reasons = new Map<string, number>();

  onServerMessage(msg: ServerMessage): void {
    // Read loosely: the fields are issue 13's additions, absent from older codecs.
    const m = msg as unknown as { type: string; catchUp?: unknown; catchUpReason?: unknown; replaced?: unknown; level?: unknown };
    if (m.type === 'serverHello') {
      const c = this.#counts;
      c.hellos++;
      if (m.catchUp === 'resume') c.resumes++;
      else if (m.catchUp === 'digest') c.digests++;
      else if (m.catchUp === 'snapshot') c.snapshots++;
      else c.plain++;
      if (typeof m.catchUpReason === 'string') this.#reasons.set(m.catchUpReason, (this.#reasons.get(m.catchUpReason) ?? 0) + 1);
    } else if (m.type === 'buckets' && m.replaced instanceof Uint8Array && typeof m.level === 'number' && setBits(m.replaced) === 2 ** m.level) {
      this.#counts.digests--;
      this.#counts.digestsFull++;
    }
  }

  /** A server close frame: a probe's answer ends with 1000 `probe answered` after a serverHello with no catchUp. */
  onServerClose(code: number, reason: string): void {
    if (code !== 1000 || reason !== 'probe answered') return;
    this.#counts.hellos--;
    this.#counts.plain--;
    this.#counts.probes++;
  }

  get counts(): CatchUpCounts {
    return { ...this.#counts, reasons: Object.fromEntries(this.#reasons) };
  }
}

function setBits(bitmap: Uint8Array): number {
  let n = 0;
  for (let b of bitmap) for (; b !== 0; b &= b - 1) n++;
  return n;
}

export function addCounts(a: CatchUpCounts, b: CatchUpCounts): CatchUpCounts {
  const reasons: Record<string, number> = { ...a.reasons };
  for (const [k, v] of Object.entries(b.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  return {
    hellos: a.hellos + b.hellos, resumes: a.resumes + b.resumes, digests: a.digests + b.digests, digestsFull: a.digestsFull + b.digestsFull,
    snapshots: a.snapshots + b.snapshots, plain: a.plain + b.plain, probes: a.probes + b.probes, reasons,
  };
}

export function describeCounts(c: CatchUpCounts): string {
  const reasons = Object.entries(c.reasons).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${c.resumes} resumes, ${c.digests} digest catch-ups (+${c.digestsFull} that replaced every bucket), `
    + `${c.snapshots + c.plain + c.digestsFull} full snapshots (${c.snapshots} catch-up fallbacks, ${c.plain} to clients offering nothing, ${c.digestsFull} all-bucket digests)`
    + `; ${c.probes} probes answered` + (reasons !== '' ? `; fallback reasons: ${reasons}` : '');
}
