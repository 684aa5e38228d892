/**
 * The delta loop of a caught-up session stops and leaves a wait on the newest breadcrumb. A
 * breadcrumb published from a microtask, while a wake-up of that loop is already queued, once
 * spent the wake on a loop that had nothing left to send and left no wait behind: the session
 * never received another delta.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Update } from '../../src/syncer/types.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

const update = (key: string, value: Update['value']): Update => ({ key, value, revision: '1', updateType: 'new' });

describe('the delta loop of a caught-up session', () => {
  it('still delivers the next breadcrumb after one was published from a microtask while its wake-up was queued', async () => {
    const h = await startCattail({});
    try {
      const client = await TestClient.connect(h.syncUrl);
      try {
        await eventually(() => client.inSync, 'in sync');
        const cache = h.app.caches.get('felix');
        assert.ok(cache !== undefined);
        for (let round = 0; round < 5; round++) {
          cache.onUpdates([update(`/race/b${round}`, { v: 1 })]);
          cache.flush();
          queueMicrotask(() => {
            cache.onUpdates([update(`/race/c${round}`, { v: 2 })]);
            cache.flush();
          });
          await new Promise((resolve) => setTimeout(resolve, 50));
          cache.onUpdates([update(`/race/d${round}`, { v: 3 })]);
          await eventually(() => client.state.has(`/race/d${round}`), `round ${round}: the breadcrumb published after the race reaches the client`);
        }
      } finally {
        client.close();
      }
    } finally {
      await h.close();
    }
  });
});
