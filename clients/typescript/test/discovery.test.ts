import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttemptTracker, DnsDiscovery, KubernetesDiscovery, StaticDiscovery, localFirst, toSyncUrl, type Discovery, type EndpointSliceLike, type ServerAddress } from '../src/index.ts';
import { endpointAddresses } from '../src/kubernetesDiscovery.ts';

/** A discovery whose list the test changes between attempts. */
function listDiscovery(initial: string[]): Discovery & { urls: string[]; fail: boolean } {
  const d = {
    urls: initial, fail: false, description: 'test list',
    load: async (): Promise<ServerAddress[]> => {
      if (d.fail) throw new Error('api down');
      return d.urls.map((url) => ({ url }));
    },
  };
  return d;
}

describe('address normalisation and ordering', () => {
  it('turns host, host:port and URLs into sync URLs, bracketing IPv6', () => {
    assert.equal(toSyncUrl('10.0.0.1', false), 'ws://10.0.0.1:5473/sync');
    assert.equal(toSyncUrl('10.0.0.1:6000', true), 'wss://10.0.0.1:6000/sync');
    assert.equal(toSyncUrl('ws://h:1/custom', false), 'ws://h:1/custom');
    assert.equal(toSyncUrl('[fd00::1]:5473', false), 'ws://[fd00::1]:5473/sync');
    assert.throws(() => toSyncUrl('http://h:1', false), /ws:\/\//);
  });

  it('puts same-node servers first and shuffles each group', () => {
    const addrs = ['a', 'b', 'c', 'd', 'e'].map((n, i) => ({ url: `ws://${n}`, nodeName: i < 2 ? 'me' : `n${i}` }));
    const seenFirst = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const out = localFirst(addrs, 'me', Math.random);
      assert.deepEqual(out.slice(0, 2).map((a) => a.nodeName), ['me', 'me']);
      seenFirst.add(out[2]?.url ?? '');
    }
    assert.ok(seenFirst.size > 1, 'remote group is shuffled');
  });

  it('static discovery keeps the given order when shuffling is off', async () => {
    const d = new StaticDiscovery(['h1:1', 'h2:2', 'h3:3'], { secure: false, shuffle: false, random: Math.random });
    assert.deepEqual((await d.load()).map((a) => a.url), ['ws://h1:1/sync', 'ws://h2:2/sync', 'ws://h3:3/sync']);
  });

  it('DNS discovery resolves the name on every load', async () => {
    let calls = 0;
    const d = new DnsDiscovery({ name: 'svc.example', port: 7000 }, {
      secure: false, random: Math.random,
      lookup: async () => { calls++; return [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]; },
    });
    const urls = (await d.load()).map((a) => a.url).sort();
    await d.load();
    assert.deepEqual(urls, ['ws://127.0.0.1:7000/sync', 'ws://[::1]:7000/sync']);
    assert.equal(calls, 2);
  });

  it('DNS discovery resolves localhost through the OS resolver', async () => {
    const d = new DnsDiscovery({ name: 'localhost', port: 5473, family: 4 }, { secure: false, random: Math.random });
    assert.deepEqual((await d.load()).map((a) => a.url), ['ws://127.0.0.1:5473/sync']);
  });
});

describe('EndpointSlice discovery', () => {
  const slices: EndpointSliceLike[] = [
    {
      ports: [{ name: 'metrics', port: 9098 }, { name: 'cattail', port: 5473 }],
      endpoints: [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, nodeName: 'n1' },
        { addresses: ['10.0.0.2'], conditions: { ready: false }, nodeName: 'me' },
        { addresses: ['10.0.0.3'], conditions: {}, nodeName: 'me' },
        { addresses: ['fd00::4'], conditions: { ready: true }, nodeName: 'n4' },
      ],
    },
    { ports: [{ name: 'other', port: 1 }], endpoints: [{ addresses: ['10.9.9.9'], conditions: { ready: true } }] },
  ];

  it('keeps ready endpoints of the named port only, bracketing IPv6', () => {
    assert.deepEqual(endpointAddresses(slices, 'cattail', false).map((a) => a.url), [
      'ws://10.0.0.1:5473/sync', 'ws://10.0.0.3:5473/sync', 'ws://[fd00::4]:5473/sync',
    ]);
  });

  it('lists with the service-name label and puts this node\'s endpoint first', async () => {
    const calls: string[] = [];
    const d = new KubernetesDiscovery({
      serviceName: 'cattail', namespace: 'calico-system', nodeName: 'me',
      lister: async (ns, selector) => { calls.push(`${ns} ${selector}`); return slices; },
    }, { secure: true, random: Math.random });
    const out = await d.load();
    assert.equal(out[0]?.url, 'wss://10.0.0.3:5473/sync');
    assert.equal(out.length, 3);
    assert.deepEqual(calls, ['calico-system kubernetes.io/service-name=cattail']);
  });

  it('fails discovery clearly when no endpoint is ready', async () => {
    const d = new KubernetesDiscovery({ serviceName: 's', lister: async () => [] }, { secure: false, random: Math.random });
    await assert.rejects(d.load(), (err: Error & { code?: string }) => err.code === 'DISCOVERY_FAILED' && /no ready endpoints/.test(err.message));
  });
});

describe('AttemptTracker', () => {
  it('remembers tried addresses across connections and restarts the walk once all were tried', async () => {
    const d = listDiscovery(['ws://a', 'ws://b', 'ws://c']);
    const t = new AttemptTracker(d);
    const picks: string[] = [];
    for (let i = 0; i < 5; i++) {
      picks.push((await t.next()).address.url);
      t.succeeded(); // a long-lived connection in between does not reset the tried set
    }
    assert.deepEqual(picks, ['ws://a', 'ws://b', 'ws://c', 'ws://a', 'ws://b']);
  });

  it('does not go straight back to the replica tried last when a new pass starts', async () => {
    const d = listDiscovery(['ws://a', 'ws://b']);
    const t = new AttemptTracker(d);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      picks.push((await t.next()).address.url);
      d.urls = [...d.urls].reverse(); // a reshuffled list may put the last one first
    }
    for (let i = 1; i < picks.length; i++) assert.notEqual(picks[i], picks[i - 1], picks.join(','));
    const single = new AttemptTracker(listDiscovery(['ws://only']));
    assert.equal((await single.next()).address.url, 'ws://only');
    assert.equal((await single.next()).address.url, 'ws://only');
  });

  it('reloads the list before every attempt, so a vanished replica is not tried', async () => {
    const d = listDiscovery(['ws://a', 'ws://b', 'ws://c']);
    const t = new AttemptTracker(d);
    assert.equal((await t.next()).address.url, 'ws://a');
    d.urls = ['ws://a', 'ws://c', 'ws://new'];
    assert.equal((await t.next()).address.url, 'ws://c');
    assert.equal((await t.next()).address.url, 'ws://new');
  });

  it('forgets a tried address five minutes after it left the list', async () => {
    let now = 0;
    const d = listDiscovery(['ws://a', 'ws://b']);
    const t = new AttemptTracker(d, { now: () => now });
    await t.next();
    d.urls = ['ws://b'];
    await t.next();
    assert.deepEqual([...t.tried].sort(), ['ws://a', 'ws://b']);
    now = 5 * 60_000 + 1;
    await t.next();
    assert.deepEqual([...t.tried], ['ws://b']);
  });

  it('bounds a round at 2 × max(n, 3) failed attempts', async () => {
    const t = new AttemptTracker(listDiscovery(['ws://a', 'ws://b']));
    await t.next();
    const ends: number[] = [];
    for (let i = 1; i <= 13; i++) if (t.failed()) ends.push(i);
    assert.deepEqual(ends, [6, 12]);
  });

  it('falls back to the previous list when discovery fails, and fails when there is none', async () => {
    const d = listDiscovery(['ws://a']);
    const t = new AttemptTracker(d);
    d.fail = true;
    await assert.rejects(t.next(), /api down/);
    d.fail = false;
    await t.next();
    d.fail = true;
    const next = await t.next();
    assert.equal(next.address.url, 'ws://a');
    assert.equal(next.discoveryError?.code, 'DISCOVERY_FAILED');
  });
});
