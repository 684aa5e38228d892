/** Parent side of the physical limit: a sender and a receiver process, one 64 KiB-message ws stream. */
import path from 'node:path';
import { ChildHandle } from './ipc.ts';

const ENTRY = path.join(import.meta.dirname, 'rawStreamProcess.ts');

/** Bytes per second of one raw ws stream between two processes, over `totalBytes`. */
export async function measureRawStream(totalBytes: number): Promise<{ bytesPerSec: number; bytes: number; seconds: number }> {
  const sender = new ChildHandle(ENTRY);
  const receiver = new ChildHandle(ENTRY);
  try {
    const port = await sender.request<number>('listen', { totalBytes });
    const r = await receiver.request<{ bytes: number; seconds: number }>('receive', { port, totalBytes });
    return { ...r, bytesPerSec: r.bytes / r.seconds };
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}
