import type { WebSocket } from 'ws';

/** A flooding client's socket is cut this long after its close frame has been handed to the kernel, answered or not. */
const CLOSE_STALL_MS = 2000;
/**
 * Cap on draining before a close frame: 4 MiB (the default high-water mark) at about 140 KiB/s.
 * ws gives up on an unanswered close after the same 30 s.
 */
const CLOSE_LINGER_MAX_MS = 30_000;

/**
 * Keeps the socket after a close frame while it still drains. A session closed as fallen
 * behind can have up to the high-water mark queued in front of its close frame; cutting the
 * socket at a fixed delay would show a slow reader 1006 instead of 4010. Nothing more is
 * queued after the close frame, so waiting costs no memory, and the socket is cut at
 * CLOSE_LINGER_MAX_MS at the latest. Progress cannot be judged from the buffered bytes: one
 * queued frame of several MiB counts as buffered until the kernel has taken all of it, which
 * at a slow reader's pace takes seconds. Once the close frame is in the kernel the peer gets
 * it as it reads, and ws waits for its answer; cutting earlier would make the kernel answer
 * the peer's next bytes (a pong) with a reset that discards the close frame. A hostile
 * session (a flood) gets no such patience: its socket is cut once the close frame has been
 * handed over and CLOSE_STALL_MS have passed, answered or not.
 */
export function lingerForClose(ws: WebSocket, hostile: boolean): void {
  const started = Date.now();
  let buffered = ws.bufferedAmount;
  let movedAt = started;
  const check = () => {
    if (ws.readyState === ws.CLOSED) return;
    const now = Date.now();
    if (ws.bufferedAmount < buffered) {
      buffered = ws.bufferedAmount;
      movedAt = now;
    }
    const stalled = hostile && buffered === 0 && now - movedAt >= CLOSE_STALL_MS;
    if (stalled || now - started >= CLOSE_LINGER_MAX_MS) ws.terminate();
    else setTimeout(check, CLOSE_STALL_MS / 4).unref();
  };
  setTimeout(check, CLOSE_STALL_MS / 4).unref();
}
