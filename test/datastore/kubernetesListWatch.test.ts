import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import { ipPool, namespace, pod, startHarness, watchPods } from '../support/k8sHarness.ts';
import { RecordingListener, settle, waitFor } from '../support/k8sRecorder.ts';

const PODS = '/api/v1/pods';

describe('Kubernetes datastore list/watch', () => {
  it('lists every object across pages and then watches from the list revision', async () => {
    const h = await startHarness({ pageSize: 3 });
    try {
      for (let i = 0; i < 7; i++) h.api.create(pod(`p${i}`, i % 2 ? 'a' : 'b'));
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      await h.ds.start();
      await waitFor(() => rec.count('replaced') === 1 && h.api.openWatches(PODS) === 1, 'listed and watching');

      const replaced = rec.calls.find((c) => c.call === 'replaced');
      assert.ok(replaced?.call === 'replaced');
      assert.equal(replaced.objects.length, 7);
      assert.equal(replaced.revision, String(h.api.revision));
      // Listed items get apiVersion/kind back so they look like watched objects.
      assert.ok(replaced.objects.every((o) => o.apiVersion === 'v1' && o.kind === 'Pod'));

      const lists = h.api.requests.filter((r) => r.verb === 'list' && r.path === PODS);
      assert.equal(lists.length, 3, '7 items in pages of 3');
      assert.equal(lists[0]!.query.limit, '3');
      assert.equal(lists[0]!.query.resourceVersion, '0', 'the first list is served from the watch cache');
      assert.equal(lists[1]!.query.resourceVersion, undefined, 'later pages carry only the continue token');
      assert.ok(lists[1]!.query.continue);

      const watch = h.api.requests.find((r) => r.verb === 'watch' && r.path === PODS)!;
      assert.equal(watch.query.resourceVersion, replaced.revision);
      assert.equal(watch.query.allowWatchBookmarks, 'true');
      assert.equal(watch.query.timeoutSeconds, '30');
      assert.deepEqual(rec.trace()[0], 'connection up');
    } finally {
      await h.close();
    }
  });

  it('delivers creations, updates and deletions as changed events in revision order', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('keep'));
      const rec = await watchPods(h);

      const created = h.api.create(pod('new', 'default', { app: 'x' }));
      const updated = h.api.update({ ...created, metadata: { ...created.metadata, labels: { app: 'y' } } });
      const deleted = h.api.delete(pod('keep'))!;
      await waitFor(() => rec.count('changed') === 3, 'three changes');

      assert.deepEqual(rec.trace().slice(-3), [
        `changed upsert default/new ${created.metadata.resourceVersion}`,
        `changed upsert default/new ${updated.metadata.resourceVersion}`,
        `changed delete default/keep ${deleted.metadata.resourceVersion}`,
      ]);
      assert.deepEqual(rec.names(), ['default/new']);
      assert.equal(rec.state.get('default/new')!.metadata.labels!.app, 'y');
    } finally {
      await h.close();
    }
  });

  for (const form of ['ERROR event', 'HTTP 410'] as const) {
    it(`relists after a 410 (${form}) and the new listing differs from the old state by exactly the missed changes`, async () => {
      const h = await startHarness({}, { watchGone: form === 'HTTP 410' ? 'status' : 'event' });
      try {
        for (const n of ['a', 'b', 'c']) h.api.create(pod(n));
        const rec = await watchPods(h);
        h.api.create(pod('seen'));
        await waitFor(() => rec.state.has('default/seen'), 'a change seen before the stall');
        const lastSeen = rec.calls.at(-1)!;

        // Changes the datastore cannot see (its watch is a black hole), then history is lost.
        h.api.stallWatches(true);
        h.api.create(pod('d'));
        const b = h.api.get(pod('b'))!;
        h.api.update({ ...b, spec: { nodeName: 'node-2' } });
        h.api.delete(pod('c'));
        h.api.stallWatches(false);
        h.api.compact();
        // The stalled watch ends; the re-watch from the old revision gets 410 in the chosen form.
        h.api.dropWatches();

        await waitFor(() => rec.count('replaced') === 2, 'relisted');
        assert.deepEqual(rec.diffs[1], { added: ['default/d'], removed: ['default/c'], modified: ['default/b'] });
        assert.equal(rec.count('changed'), 1, 'nothing was seen through the dead watch');
        assert.equal(rec.count('connection', 'down'), 0, 'a 410 is not an outage');

        const relist = h.api.requests.filter((r) => r.verb === 'list' && r.path === PODS)[1]!;
        assert.equal(relist.query.resourceVersionMatch, 'NotOlderThan', 'a relist never goes back in time');
        assert.ok(lastSeen.call === 'changed');
        assert.equal(relist.query.resourceVersion, lastSeen.revision, 'from the newest revision delivered');

        await waitFor(() => h.api.openWatches(PODS) === 1, 'watching again');
        h.api.create(pod('e'));
        await waitFor(() => rec.state.has('default/e'), 'changes flow after the relist');
      } finally {
        await h.close();
      }
    });
  }

  it('relists when an open watch receives an ERROR 410 event', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('a'));
      const rec = await watchPods(h);
      h.api.expireWatches();
      await waitFor(() => rec.count('replaced') === 2, 'relisted');
      assert.deepEqual(rec.diffs[1], { added: [], removed: [], modified: [] });
      assert.equal(h.api.count({ verb: 'list', path: PODS }), 2);
    } finally {
      await h.close();
    }
  });

  it('resumes a dropped watch from the last revision without relisting', async () => {
    const h = await startHarness();
    try {
      const rec = await watchPods(h);
      const seen = h.api.create(pod('a'));
      await waitFor(() => rec.count('changed') === 1, 'first change');

      h.api.dropWatches();
      // Written while no watch is open: the resumed watch must replay it.
      const missed = h.api.create(pod('b'));
      await waitFor(() => rec.state.has('default/b'), 'change made between watches');

      const watches = h.api.requests.filter((r) => r.verb === 'watch' && r.path === PODS);
      assert.equal(watches.length, 2);
      assert.equal(watches[1]!.query.resourceVersion, seen.metadata.resourceVersion);
      assert.equal(h.api.count({ verb: 'list', path: PODS }), 1, 'no relist');
      assert.equal(rec.count('replaced'), 1);
      assert.equal(rec.count('connection', 'down'), 0);
      const last = rec.calls.at(-1)!;
      assert.ok(last.call === 'changed');
      assert.equal(last.revision, missed.metadata.resourceVersion);
    } finally {
      await h.close();
    }
  });

  it('moves the resume revision forward on bookmarks', async () => {
    const h = await startHarness();
    try {
      const rec = await watchPods(h);
      h.api.create(namespace('elsewhere')); // moves the global revision, not the pods collection
      h.api.bookmark();
      const target = String(h.api.revision);
      await settle(50);
      h.api.dropWatches();
      await waitFor(() => h.api.count({ verb: 'watch', path: PODS }) === 2, 'watching again');
      const second = h.api.requests.filter((r) => r.verb === 'watch' && r.path === PODS)[1]!;
      assert.equal(second.query.resourceVersion, target);
      assert.equal(rec.count('changed'), 0, 'bookmarks are not changes');
    } finally {
      await h.close();
    }
  });

  it('watches again after the server ends a watch at its timeout, without relisting', async () => {
    const h = await startHarness({ watchTimeoutMinMs: 1000, watchTimeoutMaxMs: 1000 });
    try {
      const rec = new RecordingListener();
      h.ds.subscribe(KINDS.pods, rec);
      await h.ds.start();
      await waitFor(() => h.api.count({ verb: 'watch', path: PODS }) >= 3, 'three watches', 8000);
      assert.ok(h.api.requests.filter((r) => r.verb === 'watch').every((r) => r.query.timeoutSeconds === '1'));
      assert.equal(h.api.count({ verb: 'list', path: PODS }), 1);
      h.api.create(pod('late'));
      await waitFor(() => rec.state.has('default/late'), 'change after re-watches');
      assert.equal(rec.count('connection', 'down'), 0);
    } finally {
      await h.close();
    }
  });

  it('randomizes the watch timeout within the configured range', async () => {
    const draws = [0, 0.999, 0.5];
    const h = await startHarness({ watchTimeoutMinMs: 300_000, watchTimeoutMaxMs: 600_000, random: () => draws.shift() ?? 0.5 }, { maxWatchMs: 50 });
    try {
      h.ds.subscribe(KINDS.pods, new RecordingListener());
      await h.ds.start();
      await waitFor(() => h.api.count({ verb: 'watch' }) >= 3, 'three watches');
      const timeouts = h.api.requests.filter((r) => r.verb === 'watch').slice(0, 3).map((r) => Number(r.query.timeoutSeconds));
      assert.deepEqual(timeouts, [300, 600, 450]);
    } finally {
      await h.close();
    }
  });

  it('aborts a watch that goes silent past its timeout, reports the kind down, and is up again once traffic flows', async () => {
    const h = await startHarness({ watchTimeoutMinMs: 1000, watchTimeoutMaxMs: 1000, watchIdleMarginMs: 200 });
    try {
      const rec = await watchPods(h);
      h.api.stallWatches(true); // half-open: no events, no timeout end
      h.api.create(pod('during-stall'));
      await waitFor(() => h.api.count({ verb: 'watch', path: PODS }) >= 2, 'watchdog fired', 5000);
      h.api.stallWatches(false);
      await waitFor(() => rec.state.has('default/during-stall'), 'caught up after the stall', 5000);
      assert.equal(h.api.count({ verb: 'list', path: PODS }), 1);
      assert.equal(rec.count('connection', 'down'), 1, 'a silent watch counts as the upstream being down');
      await waitFor(() => rec.count('connection', 'up') === 2, 'up again after real traffic', 5000);
    } finally {
      await h.close();
    }
  });

  it('runs exactly one list and one watch per kind however many subscribers it has', async () => {
    const h = await startHarness();
    try {
      h.api.create(pod('a'));
      h.api.create(ipPool('pool-1', '10.0.0.0/16'));
      const kinds = [KINDS.pods, KINDS.ipPools, KINDS.nodes];
      const recs = kinds.map(() => Array.from({ length: 5 }, () => new RecordingListener()));
      kinds.forEach((kind, i) => recs[i]!.forEach((r) => h.ds.subscribe(kind, r)));
      await h.ds.start();
      await waitFor(() => h.api.openWatches() === 3, 'three watches');
      h.api.create(pod('b'));
      h.api.delete(ipPool('pool-1', ''));
      await waitFor(() => recs[0]!.every((r) => r.count('changed') === 1) && recs[1]!.every((r) => r.count('changed') === 1), 'fan-out');

      for (const path of [PODS, '/apis/crd.projectcalico.org/v1/ippools', '/api/v1/nodes']) {
        assert.equal(h.api.count({ verb: 'list', path }), 1, `one list of ${path}`);
        assert.equal(h.api.count({ verb: 'watch', path }), 1, `one watch of ${path}`);
      }
      for (const group of recs) for (const r of group) assert.deepEqual(r.trace(), group[0]!.trace());
      // One keep-alive pool: the three list requests and three watches need at most four sockets.
      assert.ok(h.api.connectionsAccepted <= 4, `sockets: ${h.api.connectionsAccepted}`);
    } finally {
      await h.close();
    }
  });
});
