/**
 * The server's own share of change → receipt latency, measured inside the server process: for
 * every `kvs` frame a session hands to its socket (`ws`'s `WebSocket#send`), the time since the
 * bench datastore stamped each entry. The datastore hands an update to the syncer, and the
 * syncer to the cache's queue, synchronously at the moment it stamps it, so each sample is
 * "update entered the cache → frame handed to the socket": the cache's flush turn, the wake of
 * every session and the sends before this one in the same fan-out. What follows (the kernel,
 * the loopback, an agent process waiting for a CPU) is the agents' share.
 *
 * `ws` writes a frame to the socket synchronously inside `send` (header and payload corked into
 * one `writev`) unless the socket is already backed up, so the call is the hand-over. The hook
 * wraps the prototype's `send` of the one `ws` module the server imports; it is a bench probe,
 * installed only in the bench's server process and only when asked for. Entries' stamps are read
 * once per shared frame (a WeakMap keyed by the Buffer every session receives).
 *
 * A send to a socket that still has bytes queued (`bufferedAmount > 0`: the kernel's buffer was
 * full, so the agent is not reading as fast as the server writes) is counted apart: its wait in
 * the session's high-water-mark loop is the agent's doing, not the server's. `histogram` holds
 * the sends to sockets with nothing queued, the server's own share; `backedUp` the others.
 *
 * Sampled: one send in SAMPLE_EVERY is recorded (all its entries). Recording every send cost 7 %
 * of the server's CPU in a profile of the paced scenario, which would have inflated the very
 * figure it measures. The stride is prime, so with hundreds of sessions per breadcrumb the
 * sampled sends walk through every position in the fan-out order.
 */
import { WebSocket } from 'ws';
import { forEachStamp, frameType } from './frameScan.ts';
import { LatencyHistogram } from './latencyHistogram.ts';
import { wallClockMs } from './workload.ts';

const SAMPLE_EVERY = 7;

export class SendStamps {
  readonly histogram = new LatencyHistogram();
  readonly backedUp = new LatencyHistogram();
  readonly #stamps = new WeakMap<Buffer, Float64Array>();
  #restore: (() => void) | undefined;
  #sends = 0;

  /** Starts recording every kvs frame any session sends from now on. */
  install(): void {
    if (this.#restore !== undefined) return;
    const proto = WebSocket.prototype as unknown as { send: (data: unknown, options: unknown, cb: unknown) => void };
    const original = proto.send;
    const record = (frame: Buffer, queued: boolean) => this.#record(frame, queued);
    const sampled = () => ++this.#sends % SAMPLE_EVERY === 0;
    proto.send = function send(this: WebSocket, data: unknown, options: unknown, cb: unknown): void {
      if (sampled() && Buffer.isBuffer(data)) record(data, this.bufferedAmount > 0);
      original.call(this, data, options, cb);
    };
    this.#restore = () => {
      proto.send = original;
    };
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  clear(): void {
    this.histogram.clear();
    this.backedUp.clear();
  }

  #record(frame: Buffer, queued: boolean): void {
    let stamps = this.#stamps.get(frame);
    if (stamps === undefined) {
      // frameType, not isKvsFrame: the last frame of a coalesced run is a three-field map (it
      // ends with its position mark `seq`), whose first byte differs from a plain kvs frame's.
      if (frameType(frame) !== 'kvs') return;
      const list: number[] = [];
      forEachStamp(frame, (s) => {
        if (!Number.isNaN(s)) list.push(s);
      });
      stamps = Float64Array.from(list);
      this.#stamps.set(frame, stamps);
    }
    if (stamps.length === 0) return;
    const now = wallClockMs();
    const into = queued ? this.backedUp : this.histogram;
    for (const s of stamps) into.record(now - s);
  }
}
