import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { bitmapHas, CloseCode, encodeDigests, ProtocolError } from '../../src/protocol/index.ts';
import { type Breadcrumb, type CatchUpBase, CatchUpSource, SnapshotCache } from '../../src/snapshot/index.ts';
import { chooseCatchUp, type ResumeLookup } from '../../src/server/catchUpPlan.ts';
import { DigestUpload } from '../../src/server/digestUpload.ts';
import { ManualClock } from '../support/manualClock.ts';

/** A chain of breadcrumbs 10..20, each with 1,000 bytes of deltas; 10..12 are no longer retained. */
function lookup(): ResumeLookup {
  const crumb = (seq: number) => ({ seq, deltaBytesThrough: seq * 1000 }) as unknown as Breadcrumb;
  return {
    current: () => crumb(20),
    resumeFrom: (seq) => (seq > 20 ? { reason: 'future' } : seq < 13 ? { reason: 'expired' } : { crumb: crumb(seq) }),
  };
}
const policy = { serverInstanceId: 'me', digestEnabled: true, maxBacklogBytes: 5000 };

describe('catch-up path choice', () => {
  test('a retained position on this instance within the backlog bound resumes', () => {
    const c = chooseCatchUp({ resume: { serverInstanceId: 'me', seq: 16 } }, lookup(), policy);
    assert.equal(c.path, 'resume');
    assert.equal(c.path === 'resume' && c.crumb.seq, 16);
  });

  test('each refusal falls back to digest when offered, saying why', () => {
    const cases: [{ serverInstanceId: string; seq: number } | undefined, string][] = [
      [undefined, 'not-offered'],
      [{ serverInstanceId: 'other', seq: 16 }, 'other-instance'],
      [{ serverInstanceId: 'me', seq: 12 }, 'expired'],
      [{ serverInstanceId: 'me', seq: 21 }, 'future'],
      [{ serverInstanceId: 'me', seq: 14 }, 'over-backlog'],
    ];
    for (const [resume, reason] of cases) {
      assert.deepEqual(chooseCatchUp({ ...(resume !== undefined ? { resume } : {}), digest: { level: 7 } }, lookup(), policy), { path: 'digest', level: 7, reason }, reason);
    }
  });

  test('without digest the fallback is a full snapshot with the same reason, and a client that offered nothing gets no reason', () => {
    assert.deepEqual(chooseCatchUp({ resume: { serverInstanceId: 'me', seq: 21 } }, lookup(), policy), { path: 'snapshot', reason: 'future' });
    assert.deepEqual(chooseCatchUp({}, lookup(), policy), { path: 'snapshot', reason: undefined });
  });

  test('digest turned off on the server falls back to a full snapshot saying disabled', () => {
    assert.deepEqual(chooseCatchUp({ digest: { level: 4 } }, lookup(), { ...policy, digestEnabled: false }), { path: 'snapshot', reason: 'disabled' });
  });
});

describe('digest upload', () => {
  /** A real catch-up base over 2,000 keys. */
  function base(): CatchUpBase {
    const clock = new ManualClock();
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock, metrics, logger: silentLogger() });
    cache.onUpdates(Array.from({ length: 2000 }, (_, i) => ({ key: `/k/${i}`, value: { i }, revision: String(i), updateType: 'new' }) as never));
    cache.flush();
    return new CatchUpSource(cache, { frameKVs: 1000, reuseMs: 1000, clock }).acquire();
  }
  /** Messages carrying `digests` (2 uint32 per bucket) at `level`. */
  const chunks = (level: number, digests: Uint32Array) => Array.from({ length: Math.ceil(2 ** level / 4096) }, (_, m) => {
    const offset = m * 4096;
    return { level, offset, digests: encodeDigests(digests, offset, Math.min(4096, 2 ** level - offset)) };
  });

  test('level 13 arrives as two messages, each compared with the base as it comes; the verdict names exactly the buckets that differ', () => {
    const b = base();
    const mine = b.digests(13).slice();
    for (const bucket of [5, 4097, 8191]) mine[2 * bucket] = (mine[2 * bucket] as number) ^ 0xdead;
    const u = new DigestUpload(13, 'other-instance');
    let acquired = 0;
    const [first, second] = chunks(13, mine);
    assert.equal(u.accept(first!, () => (acquired++, b)), undefined);
    assert.equal(u.base, b, 'the base is taken at the first message');
    const verdict = u.accept(second!, () => (acquired++, b))!;
    assert.equal(acquired, 1);
    assert.deepEqual([...Array(2 ** 13).keys()].filter((i) => bitmapHas(verdict.diff.bitmap, i)), [5, 4097, 8191]);
    assert.deepEqual(verdict.diff, b.compare(13, mine), 'the same verdict as comparing the whole upload at once');
    assert.equal(verdict.clientEmpty, false);
    assert.equal(u.base, undefined, 'the base is let go with the verdict');
  });

  test('all-zero digests are those of an empty map: every key differs and the full snapshot is due', () => {
    const b = base();
    const verdict = new DigestUpload(4).accept(chunks(4, new Uint32Array(32))[0]!, () => b)!;
    assert.equal(verdict.clientEmpty, true);
    assert.equal(verdict.diff.fullSnapshot, true);
  });

  test('a wrong level, an offset out of order or a length that is not 8 bytes per bucket is a 4001 naming it', () => {
    const b = () => base();
    const chunk = (level: number, offset: number, buckets: number) => ({ level, offset, digests: new Uint8Array(8 * buckets) });
    const expect4001 = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.closeCode === CloseCode.badFrame && pattern.test(err.message));
    expect4001(() => new DigestUpload(13).accept(chunk(12, 0, 4096), b), /digests\.level 12 is not the level 13/);
    expect4001(() => new DigestUpload(13).accept(chunk(13, 4096, 4096), b), /digests\.offset 4096 is not the next expected offset 0/);
    expect4001(() => new DigestUpload(13).accept(chunk(13, 0, 4095), b), /must be 32768 bytes \(4096 buckets from offset 0\), not 32760/);
    expect4001(() => new DigestUpload(4).accept({ level: 4, offset: 0, digests: new Uint8Array(129) }, b), /must be 128 bytes/);
  });
});
