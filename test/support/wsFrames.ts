/**
 * Reading raw WebSocket frames (RFC 6455 §5.2) off a byte stream, for tests that speak the
 * protocol below the `ws` library: the fuzzing client and the torture proxy.
 */

export interface WsFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Skips the HTTP response/request head; the bytes after it, or undefined while it is incomplete. */
export function afterHttpHead(buf: Buffer): Buffer | undefined {
  const end = buf.indexOf('\r\n\r\n');
  return end < 0 ? undefined : buf.subarray(end + 4);
}

/** Splits the first complete frame off `buf` (skipping a masking key); undefined while incomplete. */
export function takeFrame(buf: Buffer): { frame: WsFrame; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const fin = (buf[0]! & 0x80) !== 0;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  if (masked) off += 4;
  if (buf.length < off + len) return undefined;
  return { frame: { fin, opcode, payload: buf.subarray(off, off + len) }, rest: buf.subarray(off + len) };
}
