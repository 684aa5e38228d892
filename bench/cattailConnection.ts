/**
 * One bench agent on the Cattail protocol. A counting connection learns KV counts from frame
 * headers and never decodes values; with `latency` it also reads each entry's change stamp; a
 * verifying connection decodes every frame with the protocol codec and keeps the full model so
 * the run can prove the final state is exact.
 */
import WebSocket from 'ws';
import { Codec, DEFAULT_MAX_VALUE_BYTES, decompressFrame, isCompressedFrame, largestServerFrameBytes } from '../src/protocol/index.ts';
import { forEachStamp, frameType, kvsCount } from './frameScan.ts';
import type { LatencyHistogram } from './latencyHistogram.ts';
import { modelDigest } from './modelDigest.ts';
import { wallClockMs } from './workload.ts';

export interface CattailConnectionOptions {
  readonly url: string;
  readonly hostname: string;
  readonly verify: boolean;
  /** Offer zstd (PROTOCOL.md §7.1); compressed frames are decompressed before anything else. */
  readonly compression: boolean;
  /** Where delta latencies go; undefined = count only. */
  readonly latency: LatencyHistogram | undefined;
  /** Called after every delta frame with the connection's running delta count. */
  readonly onDeltas: (conn: CattailConnection) => void;
  /** Called once per connection attempt when the snapshot is complete and the status is in-sync. */
  readonly onInSync: (conn: CattailConnection) => void;
}

const MAX_FRAME_BYTES = largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES);

export class CattailConnection {
  readonly #opts: CattailConnectionOptions;
  readonly #codec = new Codec();
  readonly model = new Map<string, unknown>();
  #ws: WebSocket | undefined;
  #snapshotDone = false;
  #inSync = false;
  deltaKVs = 0;
  snapshotKVs = 0;
  /** Snapshot bytes as received (compressed when negotiated) and as MessagePack (the model bytes). */
  snapshotBytes = 0;
  snapshotPlainBytes = 0;
  bytes = 0;
  inSyncAt = 0;
  closeCode = 0;

  constructor(opts: CattailConnectionOptions) {
    this.#opts = opts;
  }

  get inSync(): boolean {
    return this.#inSync;
  }

  /** Opens the connection and sends hello; the snapshot streams in afterwards. */
  open(): Promise<void> {
    this.#snapshotDone = false;
    this.#inSync = false;
    this.snapshotKVs = 0;
    this.snapshotBytes = 0;
    this.snapshotPlainBytes = 0;
    this.model.clear();
    const ws = new WebSocket(this.#opts.url, { perMessageDeflate: false });
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data) => this.#onFrame(data as Buffer));
    ws.on('close', (code) => {
      this.closeCode = code;
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        this.#send({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: this.#opts.hostname, clientVersion: 'bench',
          capabilities: this.#opts.compression ? { compression: ['zstd'] } : {} });
        resolve();
      });
      ws.once('error', reject);
    });
  }

  /** Cuts the TCP connection without a close handshake (a crashed agent or a lost node). */
  cut(): void {
    this.#ws?.terminate();
    this.#ws?.removeAllListeners('message');
  }

  close(): void {
    this.#ws?.close();
  }

  digest(): { keys: number; sha1: string } {
    return modelDigest([...this.model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  #send(message: object): void {
    this.#ws?.send(this.#codec.encode(message as never));
  }

  #onFrame(wire: Buffer): void {
    this.bytes += wire.length;
    if (!this.#snapshotDone) this.snapshotBytes += wire.length;
    const frame = isCompressedFrame(wire) ? decompressFrame(wire, MAX_FRAME_BYTES) : wire;
    if (!this.#snapshotDone) this.snapshotPlainBytes += frame.length;
    if (this.#opts.verify) this.#applyDecoded(frame);
    const type = frameType(frame);
    if (type === 'kvs') {
      if (!this.#snapshotDone) {
        this.snapshotKVs += kvsCount(frame);
        return;
      }
      const latency = this.#opts.latency;
      if (latency === undefined) this.deltaKVs += kvsCount(frame);
      else {
        const now = wallClockMs();
        this.deltaKVs += forEachStamp(frame, (stamp) => {
          if (!Number.isNaN(stamp)) latency.record(now - stamp);
        });
      }
      this.#opts.onDeltas(this);
    } else if (type === 'snapshotEnd') {
      this.#snapshotDone = true;
      this.#send({ type: 'ack' });
    } else if (type === 'status') {
      const status = this.#codec.decodeServer(frame);
      if (status.type === 'status' && status.status === 'in-sync' && this.#snapshotDone && !this.#inSync) {
        this.#inSync = true;
        this.inSyncAt = wallClockMs();
        this.#opts.onInSync(this);
      }
    } else if (type === 'ping') {
      const ping = this.#codec.decodeServer(frame);
      if (ping.type === 'ping') this.#send({ type: 'pong', pingTimestamp: ping.timestamp });
    }
  }

  #applyDecoded(frame: Buffer): void {
    const msg = this.#codec.decodeServer(frame);
    if (msg.type !== 'kvs') return;
    for (const [key, value, , type] of msg.kvs) {
      if (type === 3) this.model.delete(key);
      else this.model.set(key, value);
    }
  }
}
