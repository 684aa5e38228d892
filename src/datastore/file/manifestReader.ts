/**
 * The main thread's side of the parser worker: one request at a time, a timeout per file, and
 * a fresh worker after any failure. Whatever a file does to the worker (runs it out of its
 * heap, hangs it, overflows its stack), the outcome is that file being broken; the process and
 * the other files are untouched.
 *
 * Why a worker thread and not slices on the main loop: the yaml library parses a document in
 * one synchronous call, and a single document may be megabytes; only another thread keeps
 * health probes, pings and deltas flowing whatever the file holds. Why one worker: the machine
 * this runs on gives the server about one core, and files are independent, so more workers
 * would only compete with the event loop.
 */
import { Worker } from 'node:worker_threads';
import type { Clock, Timer } from '../../clock.ts';
import { kindById } from '../kinds.ts';
import type { FileLimits } from './limits.ts';
import type { IgnoredDocument, ManifestObject, ManifestProblem, ParseLimits } from './manifestParser.ts';

export interface ReadRequest {
  readonly id: number;
  /** Absolute path to open. */
  readonly path: string;
  /** The name problems carry (the path as logs show it). */
  readonly file: string;
  /** Hash of the content last read; the same content comes back as `unchanged`, unparsed. */
  readonly knownHash: string | undefined;
  readonly limits: ParseLimits & Pick<FileLimits, 'maxFileBytes'>;
}

/** A ManifestObject as it crosses the thread boundary: the kind by id (KindInfo is shared by identity). */
export type WireObject = Omit<ManifestObject, 'kind'> & { readonly kindId: string };

/** The final reply to one request. */
export type DoneReply =
  | { readonly outcome: 'unchanged'; readonly hash: string }
  | { readonly outcome: 'parsed'; readonly hash: string; readonly problems: ManifestProblem[]; readonly ignored: IgnoredDocument[] }
  | { readonly outcome: 'failed'; readonly problem: ManifestProblem }
  | { readonly outcome: 'missing' };

export type WorkerReply =
  | { readonly id: number; readonly type: 'objects'; readonly objects: readonly WireObject[] }
  | ({ readonly id: number; readonly type: 'done' } & DoneReply);

/** What reading one file gave. */
export type ReadOutcome =
  | { readonly outcome: 'unchanged'; readonly hash: string }
  | { readonly outcome: 'parsed'; readonly hash: string; readonly objects: ManifestObject[]; readonly problems: ManifestProblem[]; readonly ignored: IgnoredDocument[] }
  /** Unreadable, too large, a YAML error, a limit crossed, the parser died: the file is broken. */
  | { readonly outcome: 'failed'; readonly problem: ManifestProblem }
  /** Gone between the directory walk and the read. */
  | { readonly outcome: 'missing' };

export interface ManifestReaderOptions {
  readonly limits: FileLimits;
  readonly clock: Clock;
}

interface InFlight {
  readonly request: ReadRequest;
  readonly objects: ManifestObject[];
  readonly resolve: (outcome: ReadOutcome) => void;
  readonly timer: Timer;
}

const WORKER_URL = new URL('./manifestWorker.ts', import.meta.url);

export class ManifestReader {
  readonly #limits: FileLimits;
  readonly #clock: Clock;
  #worker: Worker | undefined;
  #inFlight: InFlight | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;
  #closed = false;

  constructor(options: ManifestReaderOptions) {
    this.#limits = options.limits;
    this.#clock = options.clock;
  }

  /** Reads and parses one file. Never rejects: every failure is a `failed` outcome. */
  read(path: string, file: string, knownHash: string | undefined): Promise<ReadOutcome> {
    const run = this.#queue.then(() => this.#readNow(path, file, knownHash));
    this.#queue = run;
    return run;
  }

  /** Stops the worker. Idempotent; reads after close fail. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#finish({ outcome: 'failed', problem: { file: this.#inFlight?.request.file ?? '', reason: 'datastore closed' } });
    const worker = this.#worker;
    this.#worker = undefined;
    // Referenced until it has exited: an idle process awaiting an unreferenced worker's exit
    // would end with the promise still pending.
    worker?.ref();
    await worker?.terminate();
  }

  #readNow(path: string, file: string, knownHash: string | undefined): Promise<ReadOutcome> {
    if (this.#closed) return Promise.resolve({ outcome: 'failed', problem: { file, reason: 'datastore closed' } });
    const { maxFileBytes, maxDocuments, maxMapKeys, maxDepth } = this.#limits;
    const request: ReadRequest = { id: this.#nextId++, path, file, knownHash, limits: { maxFileBytes, maxDocuments, maxMapKeys, maxDepth } };
    const worker = this.#ensureWorker();
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        if (this.#inFlight?.request !== request) return;
        this.#replaceWorker();
        this.#finish({
          outcome: 'failed',
          problem: { file, limit: 'parseTime', reason: `parsing took longer than ${this.#limits.parseTimeoutMs} ms; the parser was restarted` },
        });
      }, this.#limits.parseTimeoutMs);
      this.#inFlight = { request, objects: [], resolve, timer };
      // Referenced while a read is in flight: something awaits it, and an idle process with only
      // this promise pending would otherwise exit under it. Unreferenced again when idle.
      worker.ref();
      worker.postMessage(request);
    });
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL, {
      // A 16 MiB young generation (V8 would size it from the machine): a parse that hits the old
      // generation limit then peaked at about 300 MiB of RSS instead of 390, for ~8 % more time.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(16, Math.floor(this.#limits.parserHeapBytes / (1024 * 1024))), maxYoungGenerationSizeMb: 16 },
    });
    // An idle parser must not be what keeps a process alive.
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (err: Error & { code?: string }) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const file = this.#inFlight?.request.file ?? '';
      this.#finish({
        outcome: 'failed',
        problem: err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { file, limit: 'parserHeap', reason: `parsing needed more than the parser's ${this.#limits.parserHeapBytes} bytes of heap` }
          : { file, reason: `parser failed: ${err.message}` },
      });
    });
    worker.on('exit', () => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#finish({ outcome: 'failed', problem: { file: this.#inFlight?.request.file ?? '', reason: 'parser stopped unexpectedly' } });
    });
    this.#worker = worker;
    return worker;
  }

  #replaceWorker(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    void worker?.terminate();
  }

  #onReply(reply: WorkerReply): void {
    const current = this.#inFlight;
    if (current === undefined || current.request.id !== reply.id) return;
    if (reply.type === 'objects') {
      for (const { kindId, ...rest } of reply.objects) {
        const kind = kindById(kindId);
        if (kind) current.objects.push({ ...rest, kind });
      }
      return;
    }
    if (reply.outcome === 'parsed') {
      this.#finish({ outcome: 'parsed', hash: reply.hash, objects: current.objects, problems: reply.problems, ignored: reply.ignored });
    } else if (reply.outcome === 'failed') {
      this.#finish({ outcome: 'failed', problem: reply.problem });
    } else {
      this.#finish(reply.outcome === 'unchanged' ? { outcome: 'unchanged', hash: reply.hash } : { outcome: 'missing' });
    }
  }

  #finish(outcome: ReadOutcome): void {
    const current = this.#inFlight;
    if (!current) return;
    this.#inFlight = undefined;
    this.#clock.clearTimeout(current.timer);
    this.#worker?.unref();
    current.resolve(outcome);
  }
}
