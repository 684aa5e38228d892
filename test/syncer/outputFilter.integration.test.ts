/**
 * Typha's output filter in the real composition root: what the v3 validator nulls in Typha
 * never reaches the cache, for every syncer type that emits it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { eventually, startCattail } from '../support/harness.ts';
import { MemoryDatastore } from '../support/memoryDatastore.ts';

const V3 = '/calico/resources/v3/projectcalico.org';

test('a ServiceAccount named over 63 characters yields its v1 profile keys but no v3 Profile, counted under felix × Profile', async () => {
  const sa = `builder-${'b'.repeat(60)}`;
  const datastore = new MemoryDatastore();
  datastore.upsert(KINDS.serviceAccounts, { metadata: { name: sa, namespace: 'ci' } } as unknown as RawObject);
  datastore.upsert(KINDS.serviceAccounts, { metadata: { name: 'deployer', namespace: 'ci' } } as unknown as RawObject);
  const h = await startCattail({ datastore, flags: ['--syncer-types', 'felix,bgp'] });
  try {
    await eventually(() => h.model('felix').has(`${V3}/profiles/ksa.ci.deployer`), 'the valid profile is published');
    const model = h.model('felix');
    assert.ok(model.has(`/calico/v1/policy/profile/ksa.ci.${sa}/rules`));
    assert.ok(model.has(`/calico/v1/policy/profile/ksa.ci.${sa}/labels`));
    assert.equal(model.has(`${V3}/profiles/ksa.ci.${sa}`), false);
    const values = (await h.app.metrics.updatesInvalid.get()).values;
    const count = (syncer: string, kind: string) => values.find((v) => v.labels.syncer === syncer && v.labels.kind === kind)?.value;
    assert.equal(count('felix', 'Profile'), 1);
    assert.equal(count('felix', 'ProfileLabels'), 0);
    assert.equal(count('bgp', 'Profile'), 0, 'the bgp syncer series exists at 0');
  } finally {
    await h.close();
  }
});

test('a BGPPeer naming both a node and a node selector is absent from the bgp syncer, which still reaches in-sync', async () => {
  const datastore = new MemoryDatastore();
  datastore.upsert(KINDS.bgpPeers, { metadata: { name: 'both' }, spec: { node: 'node-1', nodeSelector: 'all()', peerIP: '10.0.0.1', asNumber: 64512 } } as unknown as RawObject);
  datastore.upsert(KINDS.bgpPeers, { metadata: { name: 'rack-1' }, spec: { nodeSelector: 'rack == "1"', peerIP: '10.0.0.2', asNumber: 64512 } } as unknown as RawObject);
  const h = await startCattail({ datastore, flags: ['--syncer-types', 'bgp'] });
  try {
    await eventually(() => h.model('bgp').has(`${V3}/bgppeers/rack-1`) && h.app.syncers.get('bgp')?.status === 'in-sync', 'bgp in sync with the valid peer');
    assert.equal(h.model('bgp').has(`${V3}/bgppeers/both`), false);
  } finally {
    await h.close();
  }
});
