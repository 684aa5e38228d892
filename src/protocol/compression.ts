import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { badFrame, ProtocolError } from './errors.ts';

/**
 * Application-level compression of server → client frames (docs/PROTOCOL.md §7.1).
 *
 * Negotiation: the client lists the names it can decode in `hello.capabilities.compression`,
 * most preferred first; the server answers with the first one it supports in
 * `serverHello.compression`, or nil. v1 defines one name, `zstd`.
 *
 * Framing: after a serverHello that chose `zstd`, each server frame is either a plain
 * MessagePack message (its first byte is a map header, 0x80–0x8f, 0xde or 0xdf) or exactly one
 * zstd frame (RFC 8878, first four bytes 28 b5 2f fd) whose content is one plain message. The
 * first byte tells them apart: 0x28 is a positive fixint in MessagePack, never a message. The
 * server compresses each shared frame on its own, with no dictionary, so every frame decodes
 * alone: a client that joins late or reconnects needs no state from earlier frames.
 *
 * Why no dictionary (measured by `npm run bench -- --only compression`): the 64 KiB frames of a
 * 100,000-WorkloadEndpoint snapshot compress 11.6:1 alone and 12.1:1 with a 16 KiB dictionary
 * trained on other WEPs, 100-KV delta frames 11.7:1 and 12.1:1; only small delta frames gain
 * much (1 KV: 1.3:1 → 6.1:1, 10 KVs: 6.3:1 → 10.5:1). Snapshots are where the bytes are in a
 * reconnection wave, and a dictionary would make every client depend on one more piece of
 * versioned state that a late joiner or another language must fetch and match. If steady small
 * deltas ever justify one, it is a new name (say `zstd-dict-1`) negotiated the same way:
 * `zstd` means no dictionary.
 *
 * Client → server frames are never compressed (hello, pong and ack are tiny).
 */
export const ZSTD = 'zstd';

/**
 * RFC 6455's "message too big": what a receiver closes with for a compressed frame over its
 * frame limit, as ws does for a plain frame over `maxPayload`.
 */
export const MESSAGE_TOO_BIG = 1009;

/** Names this implementation can encode and decode, most preferred first. */
export const SUPPORTED_COMPRESSION: readonly string[] = [ZSTD];

/** The zstd frame magic number, little-endian 0xFD2FB528, as the frame's first four bytes. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * zstd level 3 (zstd's default): on snapshot frames within 7 % of level 9's ratio (11.6:1 vs
 * 12.4:1) at over three times its speed, and it runs once per shared frame, not per client.
 */
export const ZSTD_LEVEL = 3;

/**
 * The encoder's window: 8 MiB. A frame whose content is smaller (every frame of a server with
 * the default 2 MiB entry bound) is written as a single segment, whose window is its content
 * size, so the decoder never needs more than the largest plain frame it accepts.
 */
export const ZSTD_WINDOW_LOG = 23;

/** The server's choice for a client's list: the first name both support, else null. */
export function chooseCompression(offered: readonly string[] | undefined): string | null {
  for (const name of offered ?? []) if (SUPPORTED_COMPRESSION.includes(name)) return name;
  return null;
}

/** True when a received frame is a zstd frame rather than plain MessagePack. */
export function isCompressedFrame(frame: Uint8Array): boolean {
  return frame.length >= 4 && frame[0] === 0x28 && frame[1] === 0xb5 && frame[2] === 0x2f && frame[3] === 0xfd;
}

/**
 * One plain frame as one zstd frame with its content size in the header, no checksum (the
 * transport is TCP, TLS when it matters) and no dictionary.
 */
export function compressFrame(plain: Uint8Array): Buffer {
  return zstdCompressSync(plain, {
    params: {
      [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
      [constants.ZSTD_c_windowLog]: ZSTD_WINDOW_LOG,
      [constants.ZSTD_c_contentSizeFlag]: 1,
      [constants.ZSTD_c_checksumFlag]: 0,
      [constants.ZSTD_c_dictIDFlag]: 0,
    },
  });
}

interface ZstdHeader {
  /** The declared content size, or undefined when the header omits it. */
  readonly contentSize: number | undefined;
  /** Bytes from the start of the frame to its first block. */
  readonly length: number;
  readonly checksum: boolean;
}

/**
 * Reads a zstd frame header (RFC 8878 §3.1.1.1); throws a ProtocolError (4001) for one that is
 * truncated, sets the reserved bit, or names a dictionary (none is part of this protocol).
 */
function readHeader(frame: Uint8Array): ZstdHeader {
  if (!isCompressedFrame(frame) || frame.length < 6) throw badFrame('compressed frame: truncated zstd frame header');
  const descriptor = frame[4] as number;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictFlag = descriptor & 3;
  if ((descriptor >> 3) & 1) throw badFrame('compressed frame: reserved bit set in the zstd frame header');
  const dictStart = 5 + (singleSegment ? 0 : 1);
  const fcsStart = dictStart + ([0, 1, 2, 4][dictFlag] as number);
  const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
  const length = fcsStart + fcsBytes;
  if (frame.length < length) throw badFrame('compressed frame: truncated zstd frame header');
  for (let i = dictStart; i < fcsStart; i++) {
    if (frame[i] !== 0) throw badFrame('compressed frame: a zstd dictionary is not part of the protocol');
  }
  let contentSize: number | undefined;
  if (fcsBytes > 0) {
    let size = 0;
    for (let i = 0, m = 1; i < fcsBytes; i++, m *= 256) size += (frame[fcsStart + i] as number) * m;
    contentSize = fcsBytes === 2 ? size + 256 : size;
  }
  return { contentSize, length, checksum: ((descriptor >> 2) & 1) === 1 };
}

/**
 * The length of the one zstd frame at the start of `frame`, walking its block headers (3 bytes
 * each: last-block bit, type, size); undefined when the blocks run past the end. Needed because
 * node:zlib stops at the end of the first zstd frame and ignores whatever follows it.
 */
function frameLength(frame: Uint8Array, header: ZstdHeader): number | undefined {
  let off = header.length;
  for (;;) {
    if (off + 3 > frame.length) return undefined;
    const h = (frame[off] as number) | ((frame[off + 1] as number) << 8) | ((frame[off + 2] as number) << 16);
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    off += 3 + (type === 1 ? 1 : size);
    if (h & 1) break;
  }
  return off + (header.checksum ? 4 : 0);
}

/**
 * The plain frame inside a received compressed frame, decoded within `maxBytes` (the largest
 * plain frame the receiver accepts): the header must declare a content size of at most
 * `maxBytes`, the decoder's window is capped to it, and decoding stops at it. A frame over the
 * bound is a ProtocolError with close code 1009 (what an oversized plain frame gets); anything
 * else that is not one whole zstd frame of one message is 4001.
 */
export function decompressFrame(frame: Uint8Array, maxBytes: number): Buffer {
  const header = readHeader(frame);
  const declared = header.contentSize;
  if (declared === undefined) throw badFrame('compressed frame: the zstd frame header must declare its content size');
  if (declared > maxBytes) throw new ProtocolError(MESSAGE_TOO_BIG, `compressed frame declares ${declared} bytes, over the ${maxBytes}-byte frame limit`);
  const length = frameLength(frame, header);
  if (length === undefined || length > frame.length) throw badFrame('compressed frame: truncated zstd frame');
  if (length < frame.length) throw badFrame('compressed frame: bytes after the end of its zstd frame (one zstd frame per message)');
  let plain: Buffer;
  try {
    plain = zstdDecompressSync(frame, {
      maxOutputLength: Math.max(1, maxBytes),
      params: { [constants.ZSTD_d_windowLogMax]: windowLogFor(maxBytes) },
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ProtocolError(MESSAGE_TOO_BIG, `compressed frame decodes to more than ${maxBytes} bytes`, { cause: err });
    }
    throw badFrame(`compressed frame: ${(err as Error).message}`, err);
  }
  if (plain.length !== declared) throw badFrame(`compressed frame: decoded ${plain.length} bytes, its header declares ${declared} (one zstd frame per message)`);
  return plain;
}

/** The smallest window log (zstd's range is 10–31) whose window holds `bytes`. */
function windowLogFor(bytes: number): number {
  let log = 10;
  while (log < 31 && 2 ** log < bytes) log++;
  return log;
}
