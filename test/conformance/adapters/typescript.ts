/**
 * Conformance adapter for the TypeScript client (clients/typescript). Usage:
 *   node adapters/typescript.ts '<config JSON>'
 * config: { url, syncerType?, readTimeoutMs? }. Prints one JSON line per event on stdout
 * ({event: 'status'|'error'|'stopped', ...}); when stdin ends it closes the client and prints
 * {event: 'final', state, statuses} built from what the client delivered to its handler.
 */
import { SyncClient, type SyncerType } from '../../../clients/typescript/src/index.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as { url: string; syncerType?: SyncerType; readTimeoutMs?: number };
const state: Record<string, unknown> = {};
const statuses: string[] = [];
const print = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

const client = new SyncClient({
  servers: [config.url],
  syncerType: config.syncerType ?? 'felix',
  hostname: 'conformance',
  ...(config.readTimeoutMs === undefined ? {} : { readTimeoutMs: config.readTimeoutMs }),
  backoff: { initialDelayMs: 50, maxDelayMs: 500, multiplier: 2, jitter: 0.5 },
  handler: {
    onUpdates(updates) {
      for (const u of updates) {
        if (u.type === 'deleted') delete state[u.key];
        else state[u.key] = u.value;
      }
    },
    onStatus(status) {
      statuses.push(status);
      print({ event: 'status', status });
    },
  },
});
client.on('error', (e) => print({ event: 'error', code: e.code, message: e.message }));
client.on('stopped', (s) => print({ event: 'stopped', reason: s.reason }));
client.start();

process.stdin.resume();
process.stdin.on('end', () => {
  void client.close().then(() => {
    // Exit once the (possibly large) final line has been flushed to the pipe.
    process.stdout.write(`${JSON.stringify({ event: 'final', state, statuses })}\n`, () => process.exit(0));
  });
});
