/**
 * The physical limit under `--pin`: the same one-stream measurement as rawStream.ts, with the
 * sender on the server's CPUs and the receiver on the agents', as Cattail and its agents run
 * then. Without a pinning it is rawStream.ts's measurement itself.
 */
import path from 'node:path';
import { type CpuPinning, spawnPinned } from './cpuPinning.ts';
import { ChildHandle } from './ipc.ts';
import { measureRawStream } from './rawStream.ts';

const ENTRY = path.join(import.meta.dirname, 'rawStreamProcess.ts');

export async function measureRawStreamPinned(totalBytes: number, pin: CpuPinning | undefined): Promise<{ bytesPerSec: number; bytes: number; seconds: number }> {
  if (pin === undefined) return measureRawStream(totalBytes);
  const sender = spawnPinned(pin, 'server', () => new ChildHandle(ENTRY));
  const receiver = spawnPinned(pin, 'agents', () => new ChildHandle(ENTRY));
  try {
    const port = await sender.request<number>('listen', { totalBytes });
    const r = await receiver.request<{ bytes: number; seconds: number }>('receive', { port, totalBytes });
    return { ...r, bytesPerSec: r.bytes / r.seconds };
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}
