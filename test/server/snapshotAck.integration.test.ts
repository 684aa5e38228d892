import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';

const spec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_k, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};

// Regression: the session used to mark its snapshot finished one event-loop turn after queuing
// snapshotEnd, so a client that acked at once was closed as a protocol error (found by the
// reconnect-storm bench: 306 of 500 agents dropped).
test('clients that ack the moment snapshotEnd arrives are all accepted, with a multi-frame snapshot and many clients at once', { timeout: 60_000 }, async () => {
  const ds = new MemoryDatastore();
  for (let i = 0; i < 40; i++) ds.upsert(KINDS.globalNetworkSets, { metadata: { name: `b${i}` }, spec: { blob: 'y'.repeat(10_000) } });
  const h = await startCattail({ datastore: ds, specs: { felix: spec }, flags: ['--syncer-types', 'felix'] });
  try {
    await eventually(() => h.app.readiness().ready, 'ready');
    const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'snapshotAck.clients.ts');
    const runs = await Promise.all([0, 1].map(() => new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [child, h.syncUrl, '100'], { timeout: 45_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    })));
    for (const out of runs) assert.deepEqual(JSON.parse(out), { inSync: 100, closed: [] });
  } finally {
    await h.close();
  }
});
