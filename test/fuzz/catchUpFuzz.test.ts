/**
 * Fuzzing the catch-up messages (PROTOCOL.md §11) against a live server under churn: hello
 * capabilities `resume` / `digest` / `probe` of wrong types and sizes, `digests` of wrong levels,
 * offsets and lengths, out of order, duplicated or unexpected, and resume positions of a server
 * that never existed, from the future, or expired (the server keeps only a few KiB of deltas).
 * Each case either closes only its own connection with the documented code, or catches up by a
 * path the case allows — and then the peer's map, applied by the client rules, ends exactly equal
 * to the server's model. A reference client streams through it all and is never disconnected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import { CATCH_UP_REASONS, CloseCode } from '../../src/protocol/index.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { diffModels } from '../support/expectedModel.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { Prng } from '../torture/prng.ts';
import { CatchUpPeer } from './catchUpPeer.ts';
import { type CatchUpCase, type CatchUpContext, generateCatchUpCase, type HonestState } from './frames.ts';

const HANDSHAKE_MS = 1500;
/** A bad message must be answered well inside this (it is decoded as soon as it arrives). */
const PROMPT_MS = 1000;
/** A case that stays open must be in sync with the exact model within this, once churn stops. */
const CONVERGE_MS = 8000;
const ROUNDS = 16;
const CASES_PER_ROUND = 16;
const NAMES = 400;

const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_kind, obj) => [{ key: `/fuzz/k/${obj.metadata.name}`, value: obj.spec as Record<string, unknown> }],
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves (to undefined) once `done()` holds or after `ms`. */
async function until(done: () => boolean, ms: number): Promise<undefined> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
  return undefined;
}

interface Outcome {
  readonly failure?: string;
  /** `closed <code>`, or the path taken (`resume`, `digest`, `snapshot`, `plain`). */
  readonly outcome: string;
}

/** Runs one case. */
async function runCase(port: number, c: CatchUpCase, model: () => Map<string, unknown>): Promise<Outcome> {
  const peer = await CatchUpPeer.connect(port, c.peer);
  let outcome = 'open';
  try {
    const failure = await check(peer, c, model, (o) => { outcome = o; });
    return failure === undefined ? { outcome } : { failure, outcome };
  } finally {
    peer.close();
  }
}

async function check(peer: CatchUpPeer, c: CatchUpCase, model: () => Map<string, unknown>, took: (outcome: string) => void): Promise<string | undefined> {
  const bound = c.expect.includes(CloseCode.handshakeTimeout) ? HANDSHAKE_MS + PROMPT_MS : PROMPT_MS;
  // Closing cases must close promptly; open ones get their serverHello (a bad hello is refused
  // before any serverHello) and then converge.
  const first = await Promise.race([peer.closed, until(() => c.open !== undefined && peer.serverHello !== undefined, bound + 500)]);
  if (first !== undefined) {
    took(`closed ${first.code}`);
    if (c.probe) {
      if (first.code !== CloseCode.normal || first.reason !== 'probe answered') return `${c.name}: closed with ${first.code} (${first.reason}), expected 1000 (probe answered)`;
      if (peer.serverHello === undefined || peer.snapshotFrames > 0 || peer.snapshotEnded) return `${c.name}: a probe got ${peer.serverHello ? '' : 'no serverHello, '}${peer.snapshotFrames} kvs frames${peer.snapshotEnded ? ' and a snapshotEnd' : ''}`;
      if (typeof peer.serverHello.status !== 'string') return `${c.name}: the probe's serverHello has no status`;
      if ((peer.serverHello.catchUp ?? undefined) !== undefined) return `${c.name}: the probe's serverHello has catchUp ${String(peer.serverHello.catchUp)}`;
      return undefined;
    }
    if (!c.expect.includes(first.code)) {
      return `${c.name}: closed with ${first.code} (${first.reason}) after ${Math.round(first.afterMs)} ms; expected ${c.open ? 'to catch up' : ''}${c.open && c.expect.length > 0 ? ' or ' : ''}${c.expect.join(' or ')}`;
    }
    if (first.afterMs > bound) return `${c.name}: closed only after ${Math.round(first.afterMs)} ms`;
    return undefined;
  }
  if (c.open === undefined) return `${c.name}: still open after ${bound + 500} ms (serverHello ${JSON.stringify(peer.serverHello?.catchUp)}), expected ${c.expect.join(' or ')}`;
  const hello = peer.serverHello;
  if (hello === undefined) return `${c.name}: no serverHello within ${bound + 500} ms`;
  const path = (hello.catchUp ?? undefined) as string | undefined;
  const reason = (hello.catchUpReason ?? undefined) as string | undefined;
  took(`${path ?? 'plain'}${reason !== undefined ? ` (${reason})` : ''}`);
  if (!c.open.paths.includes(path)) return `${c.name}: took path ${String(path)} (${String(reason)}), expected ${c.open.paths.map(String).join(' or ')}`;
  if (reason !== undefined && !(CATCH_UP_REASONS as readonly string[]).includes(reason)) return `${c.name}: reason ${reason} is not in the documented vocabulary`;
  if (c.open.reasons !== undefined && path !== 'resume' && !c.open.reasons.includes(reason)) return `${c.name}: path ${path} with reason ${String(reason)}, expected ${c.open.reasons.map(String).join(' or ')}`;
  if (typeof hello.status !== 'string') return `${c.name}: serverHello has no status`;
  // Converge: in sync, and the held map is exactly the model (churn has stopped by now or soon).
  const deadline = Date.now() + CONVERGE_MS;
  let diff: string[] = [];
  for (;;) {
    const closed = await Promise.race([peer.closed, sleep(25).then(() => undefined)]);
    if (closed !== undefined) return `${c.name}: path ${path}: closed with ${closed.code} (${closed.reason}) while catching up`;
    if (peer.problems.length > 0) return `${c.name}: ${peer.problems.join('; ')}`;
    diff = peer.status === 'in-sync' ? diffModels(peer.values(), model()) : [`status ${String(peer.status)}`];
    if (diff.length === 0) break;
    if (Date.now() > deadline) return `${c.name}: path ${path} (${String(reason)}): after ${CONVERGE_MS} ms: ${diff.slice(0, 4).join('; ')}${diff.length > 4 ? ` … (${diff.length})` : ''}`;
  }
  if (path === 'resume' && peer.snapshotFrames > 0) return `${c.name}: resumed but got ${peer.snapshotFrames} kvs frames before snapshotEnd`;
  if (path === 'digest' && peer.buckets === undefined) return `${c.name}: digest path with no buckets message`;
  return undefined;
}

describe('catch-up fuzzing against a live server', () => {
  let h: Harness;
  let ds: MemoryDatastore;
  let port: number;
  before(async () => {
    ds = new MemoryDatastore();
    for (let i = 0; i < NAMES; i += 2) ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `n${i}` }, spec: { v: 0 } });
    h = await startCattail({
      datastore: ds, specs: { felix: spec },
      flags: [
        '--syncer-types', 'felix', '--handshake-timeout-ms', String(HANDSHAKE_MS), '--ping-interval-ms', '500',
        // A few KiB of deltas: positions from a second or two ago have expired.
        '--resume-retention-bytes', '6000',
      ],
    });
    port = h.app.syncAddress.port;
    await eventually(() => h.app.readiness().ready, 'ready');
  });
  after(async () => {
    await h.close();
  });

  test(`${ROUNDS * CASES_PER_ROUND} generated catch-up cases each close their own connection with the documented code or catch up exactly`, async () => {
    const rng = new Prng(0xca7c4);
    const churnRng = new Prng(0x5eed);
    let n = 0;
    const churn = (): void => {
      for (let i = churnRng.int(1, 3); i > 0; i--) {
        const name = `n${churnRng.int(0, NAMES - 1)}`;
        if (churnRng.chance(0.2)) ds.delete(KINDS.globalNetworkSets, { metadata: { name } });
        else ds.upsert(KINDS.globalNetworkSets, { metadata: { name }, spec: { v: ++n, pad: 'p'.repeat(churnRng.int(0, 40)) } });
      }
    };

    // The reference client: plain snapshot, then deltas; its states at position marks are the honest ones.
    const reference = await CatchUpPeer.connect(port);
    const history: { at: number; state: HonestState }[] = [];
    reference.onPosition = () => {
      if (reference.status !== 'in-sync' || !reference.atPosition || reference.position === undefined) return;
      const last = history[history.length - 1];
      if (last !== undefined && Date.now() - last.at < 100) return;
      history.push({ at: Date.now(), state: { position: reference.position, held: new Map(reference.held) } });
      if (history.length > 100) history.shift();
    };
    await eventually(() => reference.status === 'in-sync', 'reference client in sync');
    const model = () => h.model('felix');

    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const ticker = setInterval(churn, 20);
      await sleep(150);
      const now = Date.now();
      const ctx: CatchUpContext = {
        instanceId: String(reference.serverHello?.serverInstanceId),
        newestSeq: reference.position?.seq ?? 0,
        recent: history[history.length - 1]?.state,
        old: history.find((e) => now - e.at > 2000)?.state ?? history[0]?.state,
      };
      const cases = Array.from({ length: CASES_PER_ROUND }, () => generateCatchUpCase(rng, ctx));
      // Churn races the catch-ups for a while, then stops so that open cases can be compared.
      const stop = sleep(rng.int(100, 600)).then(() => clearInterval(ticker));
      const results = await Promise.all(cases.map((c) => runCase(port, c, model)));
      await stop;
      for (const r of results) {
        outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
        if (r.failure !== undefined && failures.length < 20) failures.push(r.failure);
      }
    }
    const referenceClosed = await Promise.race([reference.closed, sleep(0).then(() => undefined)]);
    assert.equal(referenceClosed, undefined, 'the reference client was never disconnected');
    assert.deepEqual(reference.problems, []);
    await eventually(() => diffModels(reference.values(), model()).length === 0, 'the reference client holds the exact model');
    await eventually(() => h.app.server.sessionCount() === 1, 'only the reference session left', 5000);
    reference.close();
    process.stdout.write(`# catch-up fuzz: ${ROUNDS * CASES_PER_ROUND} cases: ${[...outcomes].sort().map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    assert.deepEqual(failures, []);
    // Every kind of answer was exercised: each close code, each fallback reason, a resume or its expiry.
    const count = (re: RegExp) => [...outcomes].filter(([k]) => re.test(k)).reduce((sum, [, v]) => sum + v, 0);
    for (const re of [/^closed 1000$/, /^closed 4000$/, /^closed 4001$/, /^closed 4004$/, /\(future\)/, /\(other-instance\)/, /^digest/, /^snapshot/, /^plain$/, /^resume$|\(expired\)/]) {
      assert.ok(count(re) > 0, `no case ended as ${re.source}`);
    }
  });
});
