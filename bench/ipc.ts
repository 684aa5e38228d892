/**
 * Request/reply over Node's IPC channel between the bench orchestrator and its child processes
 * (server, client fleets, raw stream ends). The parent side is `ChildHandle`; a child answers
 * with `serveIpc`. Messages use the `advanced` serialization so typed arrays and nested objects
 * cross unchanged. A child exits when its parent goes away, so a crashed bench leaves nothing behind.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface RequestMessage {
  readonly kind: 'request';
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

interface ReplyMessage {
  readonly kind: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

interface EventMessage {
  readonly kind: 'event';
  readonly event: string;
  readonly data: unknown;
}

type Message = RequestMessage | ReplyMessage | EventMessage;

export type Handlers = Record<string, (args: never) => unknown>;

export interface SpawnOptions {
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** A child process that answers requests. */
export class ChildHandle {
  readonly child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Map<string, Set<(data: unknown) => void>>();
  readonly #exited: Promise<number | null>;
  #nextId = 1;

  constructor(file: string, argv: readonly string[] = [], options: SpawnOptions = {}) {
    this.child = fork(file, [...argv], {
      execArgv: [...(options.execArgv ?? [])],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: options.env ?? process.env,
    });
    this.child.on('message', (m: Message) => this.#onMessage(m));
    this.#exited = new Promise((resolve) => this.child.once('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${file} exited (code ${code}) with a request outstanding`));
      this.#pending.clear();
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request<T>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ kind: 'request', id, cmd, args } satisfies RequestMessage);
    });
  }

  /** Subscribes to events the child emits with `emit()`. */
  on(event: string, fn: (data: unknown) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Resolves with the first event named `event` whose data satisfies `accept`. */
  once<T>(event: string, accept: (data: T) => boolean = () => true): Promise<T> {
    return new Promise((resolve) => {
      const off = this.on(event, (data) => {
        if (!accept(data as T)) return;
        off();
        resolve(data as T);
      });
    });
  }

  /** Asks the child to exit (it runs its `exit` handler first), and kills it if it does not within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.request('exit').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #onMessage(m: Message): void {
    if (m.kind === 'reply') {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    } else if (m.kind === 'event') {
      for (const fn of this.#listeners.get(m.event) ?? []) fn(m.data);
    }
  }
}

/**
 * Child side: answers requests with `handlers`. An `exit` handler, if given, runs before the
 * process exits on an `exit` request; the process also exits when the parent disconnects.
 */
export function serveIpc(handlers: Handlers): void {
  process.on('message', (m: Message) => {
    if (m.kind !== 'request') return;
    const handler = handlers[m.cmd];
    void (async () => {
      try {
        const value = handler === undefined ? undefined : await (handler as (args: unknown) => unknown)(m.args);
        if (handler === undefined && m.cmd !== 'exit') throw new Error(`unknown command ${m.cmd}`);
        process.send?.({ kind: 'reply', id: m.id, ok: true, value } satisfies ReplyMessage);
      } catch (err) {
        process.send?.({ kind: 'reply', id: m.id, ok: false, error: (err as Error).stack ?? String(err) } satisfies ReplyMessage);
      }
      if (m.cmd === 'exit') setImmediate(() => process.exit(0));
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

/** Child side: sends an event to the parent. */
export function emit(event: string, data: unknown): void {
  process.send?.({ kind: 'event', event, data } satisfies EventMessage);
}
