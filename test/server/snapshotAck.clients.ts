/**
 * Child process of snapshotAck.integration.test.ts: connects N clients that ack snapshotEnd the
 * moment it arrives, and prints how each ended. A separate process, because an in-process
 * client shares the server's event loop and cannot ack inside the server's window.
 */
import { eventually } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

const [url, count] = process.argv.slice(2) as [string, string];
const clients = await Promise.all(Array.from({ length: Number(count) }, (_, i) => TestClient.connect(url, { hostname: `n${i}` })));
await eventually(() => clients.every((c) => c.inSync || c.closed !== undefined), 'every client done', 30_000);
process.stdout.write(JSON.stringify({ inSync: clients.filter((c) => c.inSync && c.closed === undefined).length, closed: clients.filter((c) => c.closed !== undefined).map((c) => c.closed) }) + '\n');
for (const c of clients) c.close();
