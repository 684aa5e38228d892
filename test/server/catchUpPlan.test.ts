import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloseCode, ProtocolError } from '../../src/protocol/index.ts';
import type { Breadcrumb } from '../../src/snapshot/index.ts';
import { chooseCatchUp, type ResumeLookup } from '../../src/server/catchUpPlan.ts';
import { allZero, DigestUpload } from '../../src/server/digestUpload.ts';

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
  const chunk = (level: number, offset: number, buckets: number, fill = 0) => ({ level, offset, digests: new Uint8Array(8 * buckets).fill(fill) });

  test('level 13 arrives as two messages of 4,096 buckets and completes with the second', () => {
    const u = new DigestUpload(13);
    assert.equal(u.accept(chunk(13, 0, 4096, 1)), undefined);
    const all = u.accept(chunk(13, 4096, 4096, 2))!;
    assert.equal(all.length, 2 * 8192);
    assert.equal(all[0], 0x01010101);
    assert.equal(all[2 * 8191 + 1], 0x02020202);
    assert.equal(allZero(all), false);
  });

  test('a small level is one short message, and all-zero digests are those of an empty map', () => {
    const all = new DigestUpload(4).accept(chunk(4, 0, 16))!;
    assert.equal(all.length, 32);
    assert.ok(allZero(all));
  });

  test('a wrong level, an offset out of order or a length that is not 8 bytes per bucket is a 4001 naming it', () => {
    const expect4001 = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.closeCode === CloseCode.badFrame && pattern.test(err.message));
    expect4001(() => new DigestUpload(13).accept(chunk(12, 0, 4096)), /digests\.level 12 is not the level 13/);
    expect4001(() => new DigestUpload(13).accept(chunk(13, 4096, 4096)), /digests\.offset 4096 is not the next expected offset 0/);
    expect4001(() => new DigestUpload(13).accept(chunk(13, 0, 4095)), /must be 32768 bytes \(4096 buckets from offset 0\), not 32760/);
    expect4001(() => new DigestUpload(4).accept({ level: 4, offset: 0, digests: new Uint8Array(129) }), /must be 128 bytes/);
  });
});
