/**
 * Compression, measured before choosing the framing (issue 14): the real frames of a
 * 100,000-WorkloadEndpoint snapshot (real Pod → WEP conversion, the cache's own frame builder)
 * and delta frames of 1, 10 and 100 WEP updates, compressed frame by frame with zstd through
 * node:zlib at a few levels, with and without a dictionary trained (zstd --train, when the zstd
 * command is installed) on WEPs of other pods. Figures: ratio (plain ÷ compressed), compress
 * and decompress MB/s of plain bytes, one core, in this process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { assembleKvsFrame, compressFrame, decompressFrame, type FrameEntry, KVEncoder } from '../../src/protocol/index.ts';
import { SnapshotCache, SnapshotSource } from '../../src/snapshot/index.ts';
import type { Update } from '../../src/syncer/types.ts';
import { benchSyncerSpec } from '../benchSyncer.ts';
import type { BenchContext } from '../context.ts';
import type { ScenarioResult } from '../report.ts';
import { POD_KIND, podObject } from '../workload.ts';

const MB = 1024 * 1024;

function wepUpdates(from: number, count: number, keys: number, revision: number): Update[] {
  const spec = benchSyncerSpec();
  const out: Update[] = [];
  for (let i = from; i < from + count; i++) {
    for (const kv of spec.convert(POD_KIND, podObject(i, Math.max(1, keys / 100), 100))) {
      if (kv.value !== null) out.push({ key: kv.key, value: kv.value, revision: String(revision + i), updateType: 'new' });
    }
  }
  return out;
}

async function snapshotFrames(keys: number): Promise<Buffer[]> {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const cache = new SnapshotCache({ syncerType: 'felix', maxBatchSize: 100, clock: systemClock, metrics, logger: silentLogger() });
  for (let i = 0; i < keys; i += 1000) cache.onUpdates(wepUpdates(i, Math.min(1000, keys - i), keys, 1));
  cache.flush();
  const snap = new SnapshotSource(cache, { frameKVs: 1000, reuseMs: 1000, clock: systemClock, metrics }).acquire();
  for (let i = 0; ; i++) {
    await snap.waitFor(i);
    if (i >= snap.frames.length) break;
  }
  return snap.frames.map((f) => f.plain);
}

function deltaFrames(kvsPerFrame: number, frames: number, keys: number): Buffer[] {
  const encoder = new KVEncoder();
  const out: Buffer[] = [];
  for (let f = 0; f < frames; f++) {
    const entries: FrameEntry[] = wepUpdates((f * 7919) % keys, kvsPerFrame, keys, 1_000_000)
      .map((u) => ({ kv: encoder.encode(u.key, u.value, u.revision), updateType: 'updated' }));
    out.push(assembleKvsFrame(entries));
  }
  return out;
}

interface Measured {
  readonly ratio: number;
  readonly compressMBps: number;
  readonly decompressMBps: number;
}

function measure(frames: readonly Buffer[], compress: (b: Buffer) => Buffer, decompress: (b: Buffer, plainLength: number) => Buffer): Measured {
  let plain = 0;
  let packed = 0;
  // Repeat each set at least twice and over at least 16 MB of plain bytes.
  const total = frames.reduce((s, f) => s + f.length, 0);
  const rounds = Math.max(2, Math.ceil((16 * MB) / total));
  // Warm up first (JIT, zstd's allocations), so the first variant measured is not penalised.
  for (const f of frames.slice(0, 50)) decompress(compress(f), f.length);
  let out: Buffer[] = [];
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) out = frames.map(compress);
  const t1 = performance.now();
  for (let r = 0; r < rounds; r++) for (let i = 0; i < out.length; i++) decompress(out[i] as Buffer, (frames[i] as Buffer).length);
  const t2 = performance.now();
  for (let i = 0; i < frames.length; i++) {
    plain += (frames[i] as Buffer).length;
    packed += (out[i] as Buffer).length;
  }
  return { ratio: plain / packed, compressMBps: (total * rounds) / MB / ((t1 - t0) / 1000), decompressMBps: (total * rounds) / MB / ((t2 - t1) / 1000) };
}

const atLevel = (level: number, dictionary?: Buffer) => (b: Buffer) =>
  zstdCompressSync(b, { params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_contentSizeFlag]: 1 }, ...(dictionary === undefined ? {} : { dictionary }) });
const plainDecompress = (dictionary?: Buffer) => (b: Buffer) => zstdDecompressSync(b, dictionary === undefined ? {} : { dictionary });

/** A dictionary trained by the zstd command on WEP frames of pods the measured frames do not contain; undefined without the command. */
function trainDictionary(keys: number): Buffer | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cattail-dict-'));
  try {
    const samples = deltaFrames(1, 2000, keys * 10).map((f, i) => {
      const file = path.join(dir, `s${i}`);
      writeFileSync(file, f);
      return file;
    });
    execFileSync('zstd', ['--train', '-q', '--maxdict=16384', '-o', path.join(dir, 'dict'), ...samples], { stdio: 'ignore' });
    return readFileSync(path.join(dir, 'dict'));
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function compression(ctx: BenchContext): Promise<ScenarioResult> {
  const keys = 100_000;
  ctx.log(`compression: ${keys}-WEP snapshot frames and delta frames of 1, 10, 100 KVs`);
  const sets: Array<[string, Buffer[]]> = [
    [`snapshot ${keys} WEPs`, await snapshotFrames(keys)],
    ['delta 1 KV', deltaFrames(1, 500, keys)],
    ['delta 10 KVs', deltaFrames(10, 200, keys)],
    ['delta 100 KVs', deltaFrames(100, 40, keys)],
  ];
  const dictionary = trainDictionary(keys);
  const figures: Record<string, number | string> = {};
  const notes: string[] = [];
  for (const [name, frames] of sets) {
    const plainBytes = frames.reduce((s, f) => s + f.length, 0);
    figures[`${name}: frames`] = frames.length;
    figures[`${name}: plain MiB`] = Math.round((plainBytes / MB) * 100) / 100;
    const variants: Array<[string, Measured]> = [
      ['zstd-1', measure(frames, atLevel(1), plainDecompress())],
      ['zstd-3 (protocol)', measure(frames, compressFrame, (b, n) => decompressFrame(b, n))],
      ['zstd-9', measure(frames, atLevel(9), plainDecompress())],
    ];
    if (dictionary !== undefined) variants.push([`zstd-3 + ${dictionary.length}-byte dictionary`, measure(frames, atLevel(3, dictionary), plainDecompress(dictionary))]);
    for (const [variant, m] of variants) {
      figures[`${name}, ${variant}: ratio`] = Math.round(m.ratio * 100) / 100;
      figures[`${name}, ${variant}: compress MB/s`] = Math.round(m.compressMBps);
      figures[`${name}, ${variant}: decompress MB/s`] = Math.round(m.decompressMBps);
      notes.push(`${name} (${frames.length} frames, ${(plainBytes / MB).toFixed(2)} MiB), ${variant}: ${m.ratio.toFixed(2)}:1, compress ${m.compressMBps.toFixed(0)} MB/s, decompress ${m.decompressMBps.toFixed(0)} MB/s`);
    }
  }
  if (dictionary === undefined) notes.push('no zstd command: the dictionary variant was not measured');
  return { scenario: 'compression', title: 'compression (zstd per frame, one core)', figures, targets: [], notes };
}
