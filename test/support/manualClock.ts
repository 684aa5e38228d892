import type { Clock, Timer } from '../../src/clock.ts';

/** A clock that only moves when the test says so; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #seq = 0;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t = { at: this.#now + Math.max(0, ms), fn, id: this.#seq++ };
    this.#timers.push(t);
    return t as unknown as Timer;
  }

  clearTimeout(timer: Timer): void {
    this.#timers = this.#timers.filter((t) => (t as unknown) !== timer);
  }

  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}
