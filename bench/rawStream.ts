/**
 * Parent side of the physical limit: a sender and a receiver process, one 64 KiB-message ws
 * stream. Under `--pin` the sender runs on the server's CPUs and the receiver on the agents',
 * as Cattail and its agents run then.
 */
import path from 'node:path';
import { type CpuPinning, type CpuRole, spawnPinned } from './cpuPinning.ts';
import { ChildHandle } from './ipc.ts';

const ENTRY = path.join(import.meta.dirname, 'rawStreamProcess.ts');

/** Bytes per second of one raw ws stream between two processes, over `totalBytes`. */
export async function measureRawStream(totalBytes: number, pin?: CpuPinning): Promise<{ bytesPerSec: number; bytes: number; seconds: number }> {
  const spawn = (role: CpuRole) => spawnPinned(pin, role, () => new ChildHandle(ENTRY));
  const sender = spawn('server');
  const receiver = spawn('agents');
  try {
    const port = await sender.request<number>('listen', { totalBytes });
    const r = await receiver.request<{ bytes: number; seconds: number }>('receive', { port, totalBytes });
    return { ...r, bytesPerSec: r.bytes / r.seconds };
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}
