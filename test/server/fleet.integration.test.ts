import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { CloseCode } from '../../src/protocol/index.ts';
import type { SyncerTypeSpec } from '../../src/syncer/types.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';
import { TestClient } from '../support/testClient.ts';

/** Server-behaviour tests use a trivial model: one key per object carrying its `spec.blob`. */
const blobSpec: SyncerTypeSpec = {
  name: 'felix',
  kinds: [KINDS.globalNetworkSets],
  convert: (_kind, obj) => [{ key: `/blob/${obj.metadata.name}`, value: { blob: (obj.spec as { blob: string }).blob } }],
};

const blob = (name: string, bytes: number, salt = ''): RawObject => ({ metadata: { name }, spec: { blob: salt + 'x'.repeat(bytes) } });

async function start(flags: string[], preload: (ds: MemoryDatastore) => void = () => {}): Promise<{ h: Harness; ds: MemoryDatastore }> {
  const ds = new MemoryDatastore();
  preload(ds);
  const h = await startCattail({ datastore: ds, specs: { felix: blobSpec }, flags: ['--syncer-types', 'felix', ...flags] });
  await eventually(() => h.app.readiness().ready, 'ready');
  return { h, ds };
}

const socketOf = (c: TestClient) => (c.ws as unknown as { _socket: Socket })._socket;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function graceUsed(h: Harness): Promise<number> {
  return (await h.app.metrics.graceUsed.get()).values.reduce((s, v) => s + v.value, 0);
}

function ticker(fn: (i: number) => void, everyMs: number): () => void {
  let i = 0;
  const t = setInterval(() => fn(i++), everyMs);
  return () => clearInterval(t);
}

describe('fall-behind and the new-client grace period', () => {
  test('a client stalled during a 10 MB snapshot while breadcrumbs keep coming is kept by its grace period, gets everything, and grace is counted once', { timeout: 60_000 }, async () => {
    const { h, ds } = await start(['--max-fall-behind-ms', '1000', '--new-client-grace-period-ms', '15000', '--send-high-water-mark-bytes', '65536', '--write-timeout-ms', '30000'],
      (d) => { for (let i = 0; i < 100; i++) d.upsert(KINDS.globalNetworkSets, blob(`big-${i}`, 100_000)); });
    try {
      const c = new TestClient(h.syncUrl);
      await c.opened;
      socketOf(c).pause();
      c.hello();
      const stop = ticker((i) => ds.upsert(KINDS.globalNetworkSets, blob(`tick-${i % 5}`, 10, String(i))), 100);
      await sleep(2500);
      socketOf(c).resume();
      await sleep(500);
      stop();
      await eventually(() => c.inSync && c.state.size === h.model('felix').size, 'client to receive everything', 30_000);
      assert.equal(c.closed, undefined);
      assert.deepEqual([...c.state.keys()].sort(), [...h.model('felix').keys()].sort());
      assert.equal(await graceUsed(h), 1);
      c.close();
    } finally {
      await h.close();
    }
  });

  test('a client that stalls after its grace period has expired is disconnected as fallen behind, without using grace', { timeout: 60_000 }, async () => {
    const { h, ds } = await start(['--max-fall-behind-ms', '1000', '--new-client-grace-period-ms', '200', '--send-high-water-mark-bytes', '65536', '--write-timeout-ms', '30000']);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync');
      await sleep(400);
      socketOf(c).pause();
      const stop = ticker((i) => ds.upsert(KINDS.globalNetworkSets, blob(`churn-${i % 20}`, 400_000, String(i))), 40);
      await sleep(4000);
      socketOf(c).resume();
      await eventually(() => c.closed !== undefined, 'client dropped', 20_000);
      stop();
      assert.equal(c.closed!.code, CloseCode.fellBehind);
      assert.equal(await graceUsed(h), 0);
    } finally {
      await h.close();
    }
  });

  test('a quiet datastore never makes a stalled client fall behind', { timeout: 30_000 }, async () => {
    const { h, ds } = await start(['--max-fall-behind-ms', '300', '--new-client-grace-period-ms', '100']);
    try {
      const c = await TestClient.connect(h.syncUrl);
      await eventually(() => c.inSync, 'in sync');
      socketOf(c).pause();
      await sleep(1500);
      socketOf(c).resume();
      ds.upsert(KINDS.globalNetworkSets, blob('after-quiet', 10));
      await eventually(() => c.state.has('/blob/after-quiet'), 'delta after the quiet period');
      assert.equal(c.closed, undefined);
    } finally {
      await h.close();
    }
  });
});

describe('write progress', () => {
  test('a client that stops reading mid-snapshot is terminated after the write timeout, while a slow but steady reader is not', { timeout: 60_000 }, async () => {
    const { h } = await start(['--write-timeout-ms', '1000', '--send-high-water-mark-bytes', '65536'],
      (d) => { for (let i = 0; i < 100; i++) d.upsert(KINDS.globalNetworkSets, blob(`big-${i}`, 100_000)); });
    try {
      const stuck = new TestClient(h.syncUrl);
      const slow = new TestClient(h.syncUrl);
      await Promise.all([stuck.opened, slow.opened]);
      socketOf(stuck).pause();
      let reading = true;
      const started = Date.now();
      const pacer = (async () => {
        while (reading) {
          socketOf(slow).pause();
          await sleep(600);
          socketOf(slow).resume();
          await sleep(15);
        }
      })();
      stuck.hello();
      slow.hello();
      await eventually(() => h.app.server.sessions().length === 1, 'stuck session terminated', 15_000);
      const terminatedAfter = Date.now() - started;
      await eventually(() => slow.inSync, 'slow reader completes', 40_000);
      reading = false;
      await pacer;
      assert.ok(terminatedAfter >= 1000, `terminated after ${terminatedAfter} ms`);
      assert.equal(slow.closed, undefined);
      assert.equal(slow.state.size, 100);
      assert.ok(Date.now() - started > 1000, 'the slow read took longer than the write timeout');
      slow.close();
    } finally {
      await h.close();
    }
  });
});

describe('connection limit and shedding', () => {
  test('lowering the limit from 100 connections to 60 drops exactly 40 at the configured pace, and the survivors keep streaming through churn', { timeout: 60_000 }, async () => {
    const { h, ds } = await start(['--connection-drop-interval-ms', '50']);
    try {
      const clients = await Promise.all(Array.from({ length: 100 }, (_, i) => TestClient.connect(h.syncUrl, { hostname: `node-${i}` })));
      await eventually(() => clients.every((c) => c.inSync), 'all in sync');
      const closedAt: number[] = [];
      for (const c of clients) c.ws.on('close', () => closedAt.push(Date.now()));
      const stop = ticker((i) => ds.upsert(KINDS.globalNetworkSets, blob(`churn-${i % 10}`, 100, String(i))), 20);
      const started = Date.now();
      h.app.server.setMaxConnections(60);
      await eventually(() => clients.filter((c) => c.closed !== undefined).length === 40, '40 dropped', 20_000);
      await sleep(500);
      stop();
      const dropped = clients.filter((c) => c.closed !== undefined);
      assert.equal(dropped.length, 40);
      assert.ok(dropped.every((c) => c.closed!.code === CloseCode.rebalance));
      assert.equal(h.app.server.sessionCount(), 60);
      const elapsed = Math.max(...closedAt) - started;
      assert.ok(elapsed >= 39 * 50 * 0.9, `40 drops took ${elapsed} ms; at 50 ms each they cannot take less than ~1.8 s`);
      const survivors = clients.filter((c) => c.closed === undefined);
      await eventually(() => survivors.every((c) => c.state.size === h.model('felix').size && [...h.model('felix')].every(([k, v]) => JSON.stringify(c.state.get(k)) === JSON.stringify(v))), 'survivors converge');
      const dropMetric = (await h.app.metrics.connectionsDropped.get()).values.reduce((s, v) => s + v.value, 0);
      assert.equal(dropMetric, 40);
      for (const c of survivors) c.close();
    } finally {
      await h.close();
    }
  });
});
