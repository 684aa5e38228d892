import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { Backoff, sleep } from '../../src/datastore/kubernetes/backoff.ts';

/** A clock whose timers fire only when the test advances it. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  const timers = new Set<{ at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn, unref() {} };
      timers.add(t);
      return t;
    },
    clearTimeout: (t) => void timers.delete(t as { at: number; fn: () => void }),
    advance(ms) {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= now) {
          timers.delete(t);
          t.fn();
        }
      }
    },
  };
}

describe('Kubernetes datastore backoff', () => {
  it('doubles from the initial delay up to the maximum, jittered within the upper half', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0 });
    assert.deepEqual(Array.from({ length: 7 }, () => low.next()), [500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
    const high = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0.999999 });
    assert.deepEqual(Array.from({ length: 7 }, () => high.next()), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('starts again at the initial delay after a reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    b.next();
    b.next();
    assert.equal(b.attempts, 2);
    b.reset();
    assert.equal(b.next(), 50);
  });

  it('sleeps on the injected clock and wakes early when aborted', async () => {
    const clock = manualClock();
    const done = new AbortController();
    let woke = false;
    const p = sleep(clock, 1000, done.signal).then(() => (woke = true));
    clock.advance(999);
    await Promise.resolve();
    assert.equal(woke, false);
    clock.advance(1);
    await p;
    assert.equal(woke, true);

    const aborted = new AbortController();
    const q = sleep(clock, 60_000, aborted.signal);
    aborted.abort(new Error('closing'));
    await assert.rejects(q, /closing/);
  });
});
