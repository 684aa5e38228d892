import type { WebSocket } from 'ws';
import type { Clock, Timer } from '../clock.ts';
import type { Metrics } from '../metrics.ts';

/**
 * Watches write progress on one socket. Every frame is sent with a completion callback (fired
 * when the bytes reach the kernel); a session whose oldest outstanding frame has seen no
 * completion for `writeTimeoutMs` is stalled. A slow reader that keeps accepting bytes is never
 * stalled, however far behind it is — that is the fall-behind rule's business.
 *
 * A frame whose bytes the kernel takes at once (the usual case) completes without a timer: the
 * watchdog runs only while bytes wait in user space, which is when a stall can happen.
 */
/** Who is told of a stall (the session): an object, not a closure, so a connection holds one less function. */
export interface StallHandler {
  terminate(why: 'write-timeout', detail: string): void;
}

export class DeliveryTracker {
  readonly #ws: WebSocket;
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  readonly #writeTimeoutMs: number;
  readonly #owner: StallHandler;
  #outstanding = 0;
  #lastProgressAt = 0;
  #waiters: Array<() => void> = [];
  #watchdog: Timer | undefined;
  #stopped = false;
  #sent = 0;

  constructor(ws: WebSocket, clock: Clock, metrics: Metrics, writeTimeoutMs: number, owner: StallHandler) {
    this.#ws = ws;
    this.#clock = clock;
    this.#metrics = metrics;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#owner = owner;
  }

  send(frame: Buffer): void {
    if (this.#stopped) return;
    if (this.#outstanding === 0) this.#lastProgressAt = this.#clock.now();
    this.#outstanding++;
    // Write latency is sampled (1 frame in 8): observing every frame of every session cost
    // 1–2 % of server CPU in delta fan-out, and a sample describes the distribution as well.
    const started = (this.#sent++ & 7) === 0 ? performance.now() : -1;
    this.#ws.send(frame, { binary: true }, () => {
      this.#outstanding--;
      this.#lastProgressAt = this.#clock.now();
      if (started >= 0) this.#metrics.writeLatency.observe((performance.now() - started) / 1000);
      this.#wake();
    });
    // A frame the kernel took at once (ws.send wrote it synchronously: nothing left buffered)
    // cannot stall, so the watchdog is armed only when bytes are left waiting. An idle session,
    // whose pings go straight into the kernel, then holds no watchdog timer between them.
    if (this.#ws.bufferedAmount > 0) this.#arm();
  }

  /** Resolves at the next write completion (or when tracking stops). */
  progress(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }

  #arm(): void {
    if (this.#watchdog !== undefined || this.#stopped) return;
    // Checking a few times per timeout keeps detection within ~125% of it at negligible cost.
    const period = Math.max(10, this.#writeTimeoutMs / 4);
    this.#watchdog = this.#clock.setTimeout(() => {
      this.#watchdog = undefined;
      if (this.#stopped || this.#outstanding === 0) return;
      if (this.#clock.now() - this.#lastProgressAt > this.#writeTimeoutMs) {
        this.#owner.terminate('write-timeout', `socket accepted no bytes for ${this.#writeTimeoutMs / 1000}s`);
        return;
      }
      this.#arm();
    }, period);
    this.#watchdog.unref?.();
  }
}
