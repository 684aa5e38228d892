/**
 * The parser worker's entry point: reads one manifest file at a time, hashes it, and parses it
 * if its content changed, off the main event loop. Parsing costs about 0.2 ms per pod-sized
 * document, so a 2,000-pod file held the event loop for over a second and a 60,000-pod start
 * for tens of seconds; here it costs the main thread only the deserialisation of the results,
 * sent in chunks so that no single message is large.
 *
 * Protocol (structured-clone messages, one request in flight at a time):
 *   main → worker  ReadRequest
 *   worker → main  { id, type: 'objects', objects } × n, then exactly one { id, type: 'done', ... }
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { parseManifest } from './manifestParser.ts';
import type { DoneReply, ReadRequest, WorkerReply, WireObject } from './manifestReader.ts';

/** Objects per message: a chunk deserialises in a few milliseconds on the main thread. */
const CHUNK = 500;

const port = parentPort;
if (port === null) throw new Error('manifestWorker.ts runs only as a worker thread');

port.on('message', (request: ReadRequest) => {
  void handle(request).then(
    (replies) => { for (const reply of replies) port.postMessage(reply); },
    (err: unknown) => {
      port.postMessage({ id: request.id, type: 'done', outcome: 'failed', problem: { file: request.file, reason: `parser failed: ${(err as Error).message}` } } satisfies WorkerReply);
    },
  );
});

async function handle(request: ReadRequest): Promise<WorkerReply[]> {
  const { id, file, limits } = request;
  const text = await readBounded(request);
  if (typeof text !== 'string') return [{ id, type: 'done', ...text }];
  const hash = createHash('sha256').update(text).digest('base64');
  if (hash === request.knownHash) return [{ id, type: 'done', outcome: 'unchanged', hash }];
  const parsed = parseManifest(file, text, limits);
  if (!parsed.ok) return [{ id, type: 'done', outcome: 'failed', problem: parsed.problem }];
  const replies: WorkerReply[] = [];
  const wire: WireObject[] = parsed.objects.map(({ kind, ...rest }) => ({ ...rest, kindId: kind.id }));
  for (let i = 0; i < wire.length; i += CHUNK) replies.push({ id, type: 'objects', objects: wire.slice(i, i + CHUNK) });
  replies.push({ id, type: 'done', outcome: 'parsed', hash, problems: parsed.problems, ignored: parsed.ignored });
  return replies;
}

/** The file's text, or why it could not be read. Never reads more than the size limit allows. */
async function readBounded(request: ReadRequest): Promise<string | DoneReply> {
  const { file, path, limits } = request;
  let handle;
  try {
    // Non-blocking: opening a FIFO that took a manifest's name would otherwise wait forever for
    // a writer, holding a libuv thread. For regular files the flag changes nothing.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { outcome: 'missing' };
    return { outcome: 'failed', problem: { file, reason: `cannot read file: ${(err as Error).message}` } };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { outcome: 'failed', problem: { file, reason: 'cannot read file: not a regular file' } };
    const tooBig = { outcome: 'failed', problem: { file, limit: 'fileSize', reason: `file larger than ${limits.maxFileBytes} bytes` } } as const;
    if (info.size > limits.maxFileBytes) return tooBig;
    // The file may grow between stat and read: read to the end, but never past the limit.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(info.size - total + 1, 64 * 1024), limits.maxFileBytes + 1 - total, 1024 * 1024));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limits.maxFileBytes) return tooBig;
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (err) {
    return { outcome: 'failed', problem: { file, reason: `cannot read file: ${(err as Error).message}` } };
  } finally {
    await handle.close().catch(() => {});
  }
}
