import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syncerSpecs } from '../../src/calico/index.ts';
import { SYNCER_TYPES } from '../../src/syncer/types.ts';
import { KINDS, convert, only } from './support.ts';

test('each syncer type reads the kinds Calico v3.20 declares, in its order', () => {
  const ids = (t: keyof ReturnType<typeof syncerSpecs>): string[] => syncerSpecs()[t].kinds.map((k) => k.id);
  assert.deepEqual(ids('felix'), [
    'clusterinformations.crd.projectcalico.org', 'felixconfigurations.crd.projectcalico.org', 'globalnetworkpolicies.crd.projectcalico.org',
    'globalnetworksets.crd.projectcalico.org', 'ippools.crd.projectcalico.org', 'nodes', 'namespaces', 'serviceaccounts', 'pods',
    'networkpolicies.crd.projectcalico.org', 'networksets.crd.projectcalico.org', 'hostendpoints.crd.projectcalico.org',
    'bgpconfigurations.crd.projectcalico.org', 'networkpolicies.networking.k8s.io', 'endpointslices.discovery.k8s.io',
    'ipamblocks.crd.projectcalico.org',
  ]);
  assert.deepEqual(ids('bgp'), [
    'ippools.crd.projectcalico.org', 'bgpconfigurations.crd.projectcalico.org', 'nodes', 'bgppeers.crd.projectcalico.org', 'blockaffinities.crd.projectcalico.org',
  ]);
  assert.deepEqual(ids('tunnel-ip-allocation'), ['ippools.crd.projectcalico.org', 'nodes']);
  assert.deepEqual(ids('node-status'), ['caliconodestatuses.crd.projectcalico.org']);
});

test('every syncer type has a spec named after it', () => {
  const specs = syncerSpecs();
  for (const t of SYNCER_TYPES) assert.equal(specs[t].name, t);
});

test('a syncer asked to convert a kind it does not read throws', () => {
  assert.throws(() => convert(KINDS.pods, { metadata: { name: 'p', namespace: 'n' } }, 'bgp'), /does not read pods/);
});

test('objects without metadata or a name throw instead of crashing', () => {
  assert.throws(() => convert(KINDS.namespaces, {}), /metadata/);
  assert.throws(() => convert(KINDS.namespaces, { metadata: {} }), /metadata.name/);
  assert.throws(() => convert(KINDS.namespaces, { metadata: { name: 5 } }), /metadata.name/);
});

test('every conversion survives a wrongly typed spec', () => {
  const specs = syncerSpecs();
  for (const t of SYNCER_TYPES) {
    for (const kind of specs[t].kinds) {
      const object = { metadata: { name: 'default', namespace: 'ns' }, spec: 'garbage', status: 7, endpoints: 3 };
      try {
        specs[t].convert(kind, object);
      } catch (err) {
        assert.ok(err instanceof Error, `${t}/${kind.id} threw a non-Error`);
        assert.doesNotMatch(err.message, /Cannot read|is not a function|is not iterable|Cannot convert/, `${t}/${kind.id}: ${err.message}`);
      }
    }
  }
});

test('no value ever carries a resourceVersion', () => {
  const node = { metadata: { name: 'n', resourceVersion: '5' } };
  const status = { metadata: { name: 'n', resourceVersion: '5' }, spec: { node: 'n' }, status: { agent: {} } };
  for (const kv of [...convert(KINDS.nodes, node), ...convert(KINDS.calicoNodeStatuses, status, 'node-status')]) {
    assert.equal(JSON.stringify(kv.value).includes('resourceVersion'), false, kv.key);
  }
  assert.equal(only(convert(KINDS.calicoNodeStatuses, status, 'node-status')).key, '/calico/resources/v3/projectcalico.org/caliconodestatuses/n');
});
