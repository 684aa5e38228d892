import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, sleep } from '../../src/datastore/kubernetes/backoff.ts';
import { ManualClock } from '../support/manualClock.ts';

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
    const clock = new ManualClock();
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
