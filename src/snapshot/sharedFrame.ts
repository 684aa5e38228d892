import type { Metrics } from '../metrics.ts';
import { compressFrame } from '../protocol/index.ts';

/** The shared frames that may travel compressed: snapshot `kvs`/`snapshotEnd` and coalesced delta frames. */
export type SharedFrameKind = 'snapshot' | 'delta';
export const SHARED_FRAME_KINDS: readonly SharedFrameKind[] = ['snapshot', 'delta'];

/**
 * Compresses the shared frames of one syncer type and kind, and counts what it did in
 * `cattail_frame_plain_bytes_total` / `cattail_frame_compressed_bytes_total`: once per frame
 * compressed, never per client, so their ratio is the compression ratio of what the server
 * encoded (what a compressed client receives is the same bytes).
 */
export class FrameCompressor {
  readonly #metrics: Metrics;
  readonly #labels: { readonly syncer: string; readonly frame: SharedFrameKind };

  constructor(metrics: Metrics, syncer: string, kind: SharedFrameKind) {
    this.#metrics = metrics;
    this.#labels = { syncer, frame: kind };
  }

  /** The bytes a compressed session receives for `plain`: its zstd frame, or `plain` itself when that is no larger. */
  compress(plain: Buffer): Buffer {
    const packed = compressFrame(plain);
    const chosen = packed.length < plain.length ? packed : plain;
    this.#metrics.framePlainBytes.inc(this.#labels, plain.length);
    this.#metrics.frameCompressedBytes.inc(this.#labels, chosen.length);
    return chosen;
  }
}

/**
 * One frame built once and sent to many sessions: its plain MessagePack bytes, and beside them,
 * computed by the first session that negotiated compression and kept for every later one, the
 * bytes such sessions receive. A fleet that never asks for compression never pays for it.
 */
export class SharedFrame {
  readonly plain: Buffer;
  readonly #compressor: FrameCompressor;
  #compressed: Buffer | undefined;

  constructor(plain: Buffer, compressor: FrameCompressor) {
    this.plain = plain;
    this.#compressor = compressor;
  }

  /** The bytes for a session that negotiated zstd (compressed once, on first use). */
  get compressed(): Buffer {
    return (this.#compressed ??= this.#compressor.compress(this.plain));
  }
}
