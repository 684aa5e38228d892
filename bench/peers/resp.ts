/**
 * A minimal RESP2 codec (the Redis wire protocol) for the pub/sub comparison: commands are
 * arrays of bulk strings; replies are parsed incrementally from a byte stream. Bulk strings stay
 * Buffers (a subscriber counts messages without decoding payloads).
 */
export type RespValue = string | number | Buffer | null | RespError | RespValue[];

export class RespError extends Error {}

const CRLF = Buffer.from('\r\n');

export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** Feeds stream chunks in, calls `onReply` for every complete top-level reply. */
export class RespReader {
  readonly #onReply: (value: RespValue) => void;
  #buf: Buffer = Buffer.alloc(0);
  #off = 0;

  constructor(onReply: (value: RespValue) => void) {
    this.#onReply = onReply;
  }

  feed(chunk: Buffer): void {
    this.#buf = this.#off < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#off), chunk]) : chunk;
    this.#off = 0;
    for (;;) {
      const r = this.#parse(this.#off);
      if (r === undefined) return;
      this.#off = r[1];
      this.#onReply(r[0]);
    }
  }

  #line(off: number): [string, number] | undefined {
    const end = this.#buf.indexOf(CRLF, off);
    if (end < 0) return undefined;
    return [this.#buf.toString('latin1', off + 1, end), end + 2];
  }

  #parse(off: number): [RespValue, number] | undefined {
    if (off >= this.#buf.length) return undefined;
    const type = this.#buf[off];
    const line = this.#line(off);
    if (line === undefined) return undefined;
    const [text, next] = line;
    switch (type) {
      case 0x2b: return [text, next]; // +
      case 0x2d: return [new RespError(text), next]; // -
      case 0x3a: return [Number(text), next]; // :
      case 0x24: { // $
        const len = Number(text);
        if (len < 0) return [null, next];
        if (next + len + 2 > this.#buf.length) return undefined;
        return [this.#buf.subarray(next, next + len), next + len + 2];
      }
      case 0x2a: { // *
        const n = Number(text);
        if (n < 0) return [null, next];
        const items: RespValue[] = [];
        let at = next;
        for (let i = 0; i < n; i++) {
          const r = this.#parse(at);
          if (r === undefined) return undefined;
          items.push(r[0]);
          at = r[1];
        }
        return [items, at];
      }
      default: throw new Error(`unexpected RESP type byte 0x${(type as number).toString(16)}`);
    }
  }
}
