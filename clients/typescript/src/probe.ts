import { Connection, type ConnectionOptions } from './connection.ts';
import { CattailClientError } from './errors.ts';
import type { SyncStatus } from './types.ts';

export interface ProbeResult {
  /** The probed server's status from its serverHello, or undefined when the probe failed. */
  readonly status: SyncStatus | undefined;
  readonly error: CattailClientError | undefined;
}

/**
 * One probe (docs/PROTOCOL.md §11): a session whose hello asks only for the server's status
 * (`capabilities.probe`), ended by either side right after the serverHello. Nothing is streamed
 * and nothing reaches the resync buffer. A server that predates probes answers with a plain
 * serverHello (no status) and is counted as a failed probe.
 */
export class Probe {
  readonly #connection: Connection;
  #status: SyncStatus | undefined;

  constructor(options: Omit<ConnectionOptions, 'probe' | 'catchUp' | 'hashKvs' | 'compression'>) {
    this.#connection = new Connection({ ...options, compression: false, probe: true }, {
      onServerHello: (info) => { this.#status = info.serverStatus; },
      onKvs: () => undefined,
      onSnapshotEnd: () => undefined,
      onStatus: () => undefined,
    });
  }

  async run(): Promise<ProbeResult> {
    const outcome = await this.#connection.run();
    const url = outcome.url;
    if (this.#status !== undefined) return { status: this.#status, error: undefined };
    return { status: undefined, error: outcome.error ?? new CattailClientError('PROTOCOL', `${url}: the probe's serverHello carried no status`, { address: url }) };
  }

  close(): void {
    this.#connection.close();
  }
}
