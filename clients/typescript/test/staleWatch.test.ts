import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { MAX_PROBE_INTERVAL_MS, StaleWatch } from '../src/staleWatch.ts';

const T = 120_000;

/** A watch on a manual clock whose probes are recorded (time since start) and answered by `answer`. */
function watch(random: () => number, answer: (n: number) => boolean = () => false, leaveStaleAfterMs = T) {
  const clock = new ManualClock(0);
  const probes: { at: number; notInSyncForMs: number; nextProbeInMs: number }[] = [];
  const w = new StaleWatch({
    leaveStaleAfterMs, clock, random,
    probe: async (notInSyncForMs, nextProbeInMs) => {
      probes.push({ at: clock.now(), notInSyncForMs, nextProbeInMs });
      return answer(probes.length);
    },
  });
  /** Advances in steps so each probe's promise settles before the next timer is due. */
  const advance = async (ms: number) => {
    for (let left = ms; left > 0; left -= 1000) {
      clock.advance(Math.min(1000, left));
      await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, probes, w, advance };
}

describe('StaleWatch (leaving a stale replica, PROTOCOL.md §11)', () => {
  it('probes first at a uniformly random time in [T, 1.5·T] after the status left in-sync', async () => {
    for (const [r, expected] of [[0, T], [0.5, 1.25 * T], [0.999, 1.4995 * T]] as const) {
      const { probes, w, advance } = watch(() => r);
      w.connected();
      w.status('in-sync');
      w.status('resync-in-progress');
      await advance(2 * T);
      assert.ok(probes.length >= 1, `random ${r}: a probe`);
      assert.ok(Math.abs((probes[0]?.at ?? 0) - expected) <= 1000, `random ${r}: first probe at ${probes[0]?.at}, expected about ${expected}`);
      w.disconnected();
    }
  });

  it('counts a new connection as not in sync from its serverHello', async () => {
    const { probes, w, advance } = watch(() => 0);
    w.connected();
    w.status('wait-for-datastore');
    await advance(T + 1000);
    assert.equal(probes.length, 1);
    assert.ok((probes[0]?.notInSyncForMs ?? 0) >= T);
  });

  it('never probes while in sync, and in-sync or the end of the connection cancels a pending probe', async () => {
    const { probes, w, advance } = watch(() => 0);
    w.connected();
    w.status('in-sync');
    await advance(10 * T);
    assert.equal(probes.length, 0);
    w.status('resync-in-progress');
    await advance(T / 2);
    w.status('in-sync');
    await advance(2 * T);
    w.status('resync-in-progress');
    await advance(T / 2);
    w.disconnected();
    await advance(2 * T);
    assert.equal(probes.length, 0);
  });

  it('spaces later probes at least T apart, doubling up to 10 minutes while none finds an in-sync replica', async () => {
    const { probes, w, advance } = watch(() => 0);
    w.connected();
    await advance(60 * 60_000);
    const gaps = probes.slice(1).map((p, i) => p.at - (probes[i]?.at ?? 0));
    assert.deepEqual(gaps.slice(0, 4), [T, 2 * T, 4 * T, MAX_PROBE_INTERVAL_MS]);
    assert.ok(gaps.every((g) => g >= T && g <= MAX_PROBE_INTERVAL_MS), `gaps ${gaps.join(', ')}`);
    assert.deepEqual(probes.slice(0, -1).map((p) => p.nextProbeInMs), gaps, 'each probe is told when the next one comes');
  });

  it('jitters later probes too, never past the 10-minute cap', async () => {
    const { probes, w, advance } = watch(() => 0.999);
    w.connected();
    await advance(90 * 60_000);
    const gaps = probes.slice(1).map((p, i) => p.at - (probes[i]?.at ?? 0));
    assert.ok(Math.abs((gaps[0] ?? 0) - 1.4995 * T) < 1000, `first gap ${gaps[0]}`);
    // The manual clock moves in 1 s steps, so a gap can read up to 1 s long.
    assert.ok(gaps.every((g) => g >= T && g <= MAX_PROBE_INTERVAL_MS + 1000), `gaps ${gaps.join(', ')}`);
  });

  it('stops probing once a probe leads to a move', async () => {
    const { probes, w, advance } = watch(() => 0, (n) => n === 2);
    w.connected();
    await advance(60 * 60_000);
    assert.equal(probes.length, 2);
  });

  it('never probes with leaveStaleAfterMs 0', async () => {
    const { probes, w, advance } = watch(() => 0, () => false, 0);
    w.connected();
    await advance(60 * 60_000);
    assert.equal(probes.length, 0);
    assert.ok((w.notInSyncForMs ?? 0) >= 60 * 60_000, 'the time out of sync is still measured');
  });
});
