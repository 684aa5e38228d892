import type { Socket } from 'node:net';
import type { Clock } from '../clock.ts';

/**
 * One handshake budget per connection, counted from TCP accept: TLS, the HTTP upgrade and the
 * hello must all fit in it. The accept time is kept by the peer's address and port, which a
 * TLS socket shares with the TCP socket under it, so the upgrade finds it without reaching
 * into either socket's internals; the session's hello timer then gets only what is left.
 *
 * Until its upgrade a connection is bounded by nothing else: a TCP connection that stalls in
 * TLS, or never sends an HTTP request, is destroyed when its budget runs out.
 */
export class HandshakeBudget {
  readonly #budgetMs: number;
  readonly #clock: Clock;
  readonly #pending = new Map<string, Pending>();

  constructor(budgetMs: number, clock: Clock) {
    this.#budgetMs = budgetMs;
    this.#clock = clock;
  }

  /** Called with the TCP socket as soon as it is accepted. */
  accepted(socket: Socket): void {
    const key = keyOf(socket);
    const timer = setTimeout(() => {
      this.#pending.delete(key);
      socket.destroy();
    }, this.#budgetMs);
    timer.unref();
    const onClose = () => {
      if (this.#pending.get(key)?.timer === timer) {
        clearTimeout(timer);
        this.#pending.delete(key);
      }
    };
    this.#pending.set(key, { acceptedAt: this.#clock.now(), timer, socket, onClose });
    socket.on('close', onClose);
  }

  /**
   * Called at the upgrade with the socket the HTTP server saw (the TLS socket with TLS): stops
   * the pre-upgrade timer and returns when the connection was accepted, for the hello timer.
   */
  upgraded(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): number {
    const key = keyOf(socket);
    const entry = this.#pending.get(key);
    if (entry === undefined) return this.#clock.now();
    clearTimeout(entry.timer);
    // An upgraded connection keeps nothing of its budget: not the timer, not this listener.
    entry.socket.off('close', entry.onClose);
    this.#pending.delete(key);
    return entry.acceptedAt;
  }
}

interface Pending {
  readonly acceptedAt: number;
  readonly timer: NodeJS.Timeout;
  readonly socket: Socket;
  readonly onClose: () => void;
}

function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`;
}
