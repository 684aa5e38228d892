/**
 * A token bucket on the frames one client sends: `burst` tokens, refilled at `ratePerSecond`,
 * one token per frame (messages and WebSocket pings and pongs alike). A legitimate client sends
 * a hello, an ack and one pong per server ping, about 0.1 frames a second, so the defaults
 * (10/s, burst 100) are two orders of magnitude above it and only a flood trips them.
 *
 * Implementation: the bucket is refilled lazily from the elapsed time on each take, so a frame
 * costs one clock read and a few arithmetic operations, with no timer per session.
 */
export class InboundRate {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #clock: { now(): number };
  #tokens: number;
  #at: number;

  /** `clock` is the server's (shared): a bucket holds no closure of its own. */
  constructor(ratePerSecond: number, burst: number, clock: { now(): number }) {
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#at = clock.now();
  }

  /** Spends one token; false when the bucket is empty (the client is over its rate). */
  take(): boolean {
    const now = this.#clock.now();
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
