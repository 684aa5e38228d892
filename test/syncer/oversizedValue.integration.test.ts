/**
 * One oversized object must not lock every agent out (issue 11): a pod with a 70 MB label,
 * through the real server and the real TypeScript client with its default frame limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncClient } from '../../clients/typescript/src/index.ts';
import type { SyncStatus, Update } from '../../clients/typescript/src/types.ts';
import { syncerSpecs } from '../../src/calico/index.ts';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { DEFAULT_MAX_VALUE_BYTES, KVEncoder } from '../../src/protocol/index.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';

function pod(name: string, ip: string, labels: Record<string, string>): RawObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: { nodeName: 'node-1', serviceAccountName: 'default' },
    status: { podIP: ip, phase: 'Running' },
  } as unknown as RawObject;
}

const wepKey = (name: string) => `/calico/v1/host/node-1/workload/k8s/default%2f${name}/endpoint/eth0`;

/** A pod whose WorkloadEndpoint entry encodes to `bytes` (give or take a digit of revision). */
function podOfEntrySize(name: string, ip: string, bytes: number, revision: string): RawObject {
  const encoder = new KVEncoder();
  const sizeWith = (n: number): number => {
    const [kv] = syncerSpecs().felix.convert(KINDS.pods, pod(name, ip, { filler: 'f'.repeat(n) })).filter((k) => k.key === wepKey(name));
    return encoder.encode(wepKey(name), kv?.value, revision).bytes.length;
  };
  let n = bytes - sizeWith(0);
  n -= sizeWith(n) - bytes;
  assert.equal(sizeWith(n), bytes, 'calibrated the filler label');
  return pod(name, ip, { filler: 'f'.repeat(n) });
}

test('a pod with a 70 MB label is published as a deletion and counted, while the client stays connected and in sync and a value just under the bound arrives intact', async () => {
  const datastore = new MemoryDatastore();
  datastore.upsert(KINDS.pods, pod('small', '10.65.0.1', { app: 'web' }));
  const h = await startCattail({ datastore, flags: ['--syncer-types', 'felix'] });
  const held = new Map<string, unknown>();
  let status: SyncStatus | undefined;
  const client = new SyncClient({
    servers: [h.syncUrl], syncerType: 'felix', hostname: 'agent-1',
    handler: {
      onUpdates: (updates: readonly Update[]) => {
        for (const u of updates) {
          if (u.type === 'deleted') held.delete(u.key);
          else held.set(u.key, u.value);
        }
      },
      onStatus: (s: SyncStatus) => { status = s; },
    },
  });
  let disconnects = 0;
  const errors: string[] = [];
  client.on('disconnected', () => { disconnects++; });
  client.on('error', (e) => { errors.push(`${e.code}: ${e.message}`); });
  try {
    client.start();
    await eventually(() => status === 'in-sync' && held.has(wepKey('small')), 'the client is in sync with the first pod');

    // Revisions: the memory datastore numbers its writes; 'small' was 1, these are 2 and 3.
    datastore.upsert(KINDS.pods, pod('huge', '10.65.0.2', { app: 'web', blob: 'x'.repeat(70_000_000) }));
    const nearBound = podOfEntrySize('near', '10.65.0.3', DEFAULT_MAX_VALUE_BYTES - 16, '3');
    datastore.upsert(KINDS.pods, nearBound);
    datastore.upsert(KINDS.pods, pod('after', '10.65.0.4', { app: 'web' }));

    await eventually(() => held.has(wepKey('after')), 'a pod published after the oversized one arrives');
    assert.equal(held.has(wepKey('huge')), false, 'the oversized value never reached the client');
    assert.equal(h.model('felix').has(wepKey('huge')), false, 'nor the cache');
    const near = held.get(wepKey('near')) as { labels?: Record<string, string> } | undefined;
    assert.ok(near, 'the value just under the bound was delivered');
    assert.deepEqual(near, h.model('felix').get(wepKey('near')), 'intact, byte for byte as the server holds it');
    assert.equal(near.labels?.filler, nearBound.metadata.labels?.filler);

    const invalid = (await h.app.metrics.updatesInvalid.get()).values.find((v) => v.labels.syncer === 'felix' && v.labels.kind === 'WorkloadEndpoint');
    assert.equal(invalid?.value, 1, 'cattail_updates_invalid_total counts the oversized value');
    assert.equal(status, 'in-sync');
    assert.equal(disconnects, 0, `the client stayed connected (errors: ${errors.join('; ')})`);
    assert.ok(client.connection !== undefined);
  } finally {
    await client.close();
    await h.close();
  }
});
