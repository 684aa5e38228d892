import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { KINDS } from '../../src/datastore/kinds.ts';
import { KubeApiError } from '../../src/datastore/kubernetes/index.ts';
import { pod, startHarness, watchPods } from '../support/k8sHarness.ts';
import { RecordingListener, settle, waitFor } from '../support/k8sRecorder.ts';

const PODS = '/api/v1/pods';

describe('Kubernetes datastore failures', () => {
  for (const status of [500, 503, 403]) {
    it(`retries watches failing with ${status} with backoff and reports one down and one up`, async () => {
      const h = await startHarness();
      try {
        h.api.create(pod('a'));
        const rec = await watchPods(h);

        h.api.failNext(5, status, { verb: 'watch' });
        h.api.dropWatches();
        h.api.create(pod('b'));
        await waitFor(() => rec.state.has('default/b'), 'recovered and caught up');

        assert.equal(h.api.count({ verb: 'watch', path: PODS }), 7, 'first watch, five failures, one success');
        assert.deepEqual(rec.calls.filter((c) => c.call === 'connection').map((c) => c.call === 'connection' && c.state), ['up', 'down', 'up']);
        const down = rec.calls.find((c) => c.call === 'connection' && c.state === 'down');
        assert.ok(down?.call === 'connection' && down.error instanceof KubeApiError && down.error.status === status);
        assert.equal(h.api.count({ verb: 'list', path: PODS }), 1, 'errors other than 410 never relist');
      } finally {
        await h.close();
      }
    });
  }

  it('backs off exponentially with jitter between attempts', async () => {
    const h = await startHarness({ backoffInitialMs: 40, backoffMaxMs: 160, random: () => 0 });
    try {
      h.api.failNext(5, 500, { verb: 'list' });
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      const started = Date.now();
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1, 'listed after five failures');
      // random() = 0 takes the low end of each window: 20 + 40 + 80 + 80 + 80 = 300 ms.
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 290, `waited ${elapsed} ms`);
      assert.ok(elapsed < 2000, `waited ${elapsed} ms`);
      assert.deepEqual(rec.trace().filter((t) => t.startsWith('connection')), ['connection down', 'connection up']);
    } finally {
      await h.close();
    }
  });

  it('logs a failure once when it starts and once when it ends, not once per retry', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
        done();
      },
    });
    const h = await startHarness({ logger: pino({ level: 'info' }, sink) });
    try {
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      h.api.failNext(6, 503, { verb: 'list' });
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1, 'listed');
      await settle(20);
      const warnings = lines.filter((l) => l.level >= 40);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(lines.filter((l) => /reachable again/.test(l.msg)).length, 1);
    } finally {
      await h.close();
    }
  });

  it('reports down once when the first list is forbidden, then up once it is allowed', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('a'));
      h.api.failNext(3, 403, { verb: 'list' });
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1, 'listed');
      assert.deepEqual(rec.trace(), ['connection down', 'connection up', `replaced ${h.api.revision} default/a`]);
    } finally {
      await h.close();
    }
  });

  it('falls back to a consistent list when the server cannot serve a relist not older than what was delivered', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('a'));
      const rec = await watchPods(h);
      h.api.failNext(1, 504, { verb: 'list' }); // "Too large resource version" from a lagging server
      h.api.expireWatches();
      await waitFor(() => rec.count('replaced') === 2, 'relisted');
      const lists = h.api.requests.filter((r) => r.verb === 'list');
      assert.deepEqual(lists.map((r) => [r.query.resourceVersion, r.query.resourceVersionMatch, r.status]), [
        ['0', undefined, 200],
        [String(h.api.revision), 'NotOlderThan', 504],
        [undefined, undefined, 200],
      ]);
    } finally {
      await h.close();
    }
  });

  it('restarts a list from the first page when its continue token expires', async () => {
    const h = await startHarness({ pageSize: 2 });
    try {
      for (let i = 0; i < 5; i++) h.api.create(pod(`p${i}`));
      h.api.failNext(1, 410, { verb: 'list', continued: true });
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1, 'listed');

      const lists = h.api.requests.filter((r) => r.verb === 'list');
      assert.deepEqual(lists.map((r) => [r.query.continue ? 'next' : 'first', r.status]), [
        ['first', 200], ['next', 410], ['first', 200], ['next', 200], ['next', 200],
      ]);
      assert.equal(rec.names().length, 5);
      assert.equal(rec.count('connection', 'down'), 0, 'an expired token is not an outage');
    } finally {
      await h.close();
    }
  });

  it('restarts a list whose revision was compacted between pages', async () => {
    const h = await startHarness({ pageSize: 2 });
    try {
      for (let i = 0; i < 5; i++) h.api.create(pod(`p${i}`));
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      // The first page pins the list to the current revision; a write plus compaction before
      // the second page makes its token expire for real.
      let compacted = false;
      h.api.onRequest((r) => {
        if (compacted || !r.query.continue) return;
        compacted = true;
        h.api.create(pod('p5'));
        h.api.compact();
      });
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1, 'listed');
      assert.equal(rec.names().length, 6, 'the restarted list sees the newer state');
      assert.ok(h.api.requests.some((r) => r.status === 410));
    } finally {
      await h.close();
    }
  });

  for (const mode of ['refuse', 'reset'] as const) {
    it(`keeps subscriber state through an outage (${mode}) and resumes without relisting`, async () => {
      const h = await startHarness();
      try {
        for (const n of ['a', 'b']) h.api.create(pod(n));
        const rec = await watchPods(h);

        await h.api.outage(true, mode);
        await waitFor(() => rec.count('connection', 'down') === 1, 'down reported');
        h.api.create(pod('c')); // written while the datastore cannot see the server
        await settle(300); // several retries while down
        assert.deepEqual(rec.names(), ['default/a', 'default/b'], 'state kept, nothing replaced');
        assert.equal(rec.count('connection', 'down'), 1, 'down reported once, not per retry');

        await h.api.outage(false);
        await waitFor(() => rec.state.has('default/c'), 'caught up');
        assert.deepEqual(rec.trace().filter((t) => t.startsWith('connection')), ['connection up', 'connection down', 'connection up']);
        assert.equal(rec.count('replaced'), 1);
        assert.equal(h.api.count({ verb: 'list', path: PODS }), 1, 'no relist after the outage');
      } finally {
        await h.close();
      }
    });
  }

  it('relists after an outage long enough for its revision to be compacted', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('a'));
      const rec = await watchPods(h);
      await h.api.outage(true);
      h.api.delete(pod('a'));
      h.api.create(pod('b'));
      h.api.compact();
      await waitFor(() => rec.count('connection', 'down') === 1, 'down');
      await h.api.outage(false);
      await waitFor(() => rec.count('replaced') === 2, 'relisted');
      assert.deepEqual(rec.diffs[1], { added: ['default/b'], removed: ['default/a'], modified: [] });
    } finally {
      await h.close();
    }
  });

  it('keeps delivering to other subscribers when one subscriber throws', async () => {
    const h = await startHarness();
    try {
      const good = new RecordingListener();
      h.ds.subscribe(KINDS.pods, {
        replaced: () => { throw new Error('bad subscriber'); },
        changed: () => { throw new Error('bad subscriber'); },
        connection: () => {},
      });
      h.ds.subscribe(KINDS.pods, good);
      await h.ds.start();
      await waitFor(() => h.api.openWatches(PODS) === 1, 'watching');
      h.api.create(pod('a'));
      await waitFor(() => good.state.has('default/a'), 'delivered');
    } finally {
      await h.close();
    }
  });

  it('stops every request promptly on close, also while backing off, and close is idempotent', async () => {
    const h = await startHarness({ backoffInitialMs: 10_000, backoffMaxMs: 10_000 });
    try {
      for (const kind of [KINDS.pods, KINDS.nodes, KINDS.ipPools]) h.ds.subscribe(kind, new RecordingListener());
      await h.ds.start();
      await waitFor(() => h.api.openWatches() === 3, 'three watches');
      h.api.failNext(1, 500, { verb: 'watch', path: PODS });
      h.api.dropWatches({ abrupt: false });
      await waitFor(() => h.api.openWatches() === 2, 'pods is backing off for 10 s');

      const started = Date.now();
      await h.ds.close();
      assert.ok(Date.now() - started < 1000, 'close did not wait for the backoff');
      await waitFor(() => h.api.openWatches() === 0, 'all watches closed', 2000);
      const before = h.api.requests.length;
      await settle(200);
      assert.equal(h.api.requests.length, before, 'no request after close');
      await h.ds.close();
      assert.throws(() => h.ds.subscribe(KINDS.pods, new RecordingListener()));
    } finally {
      await h.close();
    }
  });
});
