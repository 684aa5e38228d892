import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syncerSpecs } from '../../src/calico/index.ts';
import { KINDS, assertKVs, convert } from './support.ts';

const ALLOW_RULES = { inbound_rules: [{ action: 'allow' }], outbound_rules: [{ action: 'allow' }] };
const V3_ALLOW = [{ action: 'Allow', source: {}, destination: {} }];

test('namespace default becomes profile kns.default with allow rules, pcns labels and the v3 Profile', () => {
  const kvs = convert(KINDS.namespaces, {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { name: 'default', uid: 'uid-1', resourceVersion: '77', creationTimestamp: '2021-06-01T00:00:00Z', labels: { team: 'a' } },
  });
  const labels = { 'pcns.projectcalico.org/name': 'default', 'pcns.team': 'a' };
  assertKVs(kvs, [
    { key: '/calico/v1/policy/profile/kns.default/rules', value: ALLOW_RULES },
    { key: '/calico/v1/policy/profile/kns.default/labels', value: labels },
    { key: '/calico/resources/v3/projectcalico.org/profiles/kns.default', value: {
      kind: 'Profile', apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'kns.default', uid: 'uid-1', creationTimestamp: '2021-06-01T00:00:00Z' },
      spec: { ingress: V3_ALLOW, egress: V3_ALLOW, labelsToApply: labels },
    } },
  ]);
});

test('the v3 Profile value never carries a resourceVersion', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'x', resourceVersion: '9' } });
  assert.equal(JSON.stringify(kvs).includes('resourceVersion'), false);
});

test('a namespace label cannot override the pcns name label', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'real', labels: { 'projectcalico.org/name': 'fake' } } });
  assert.deepEqual(kvs[1]?.value, { 'pcns.projectcalico.org/name': 'real' });
});

test('service account sa1 in ns1 becomes profile ksa.ns1.sa1 with empty rules and pcsa labels', () => {
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: 'sa1', namespace: 'ns1', uid: 'u2', labels: { role: 'db' } } });
  const labels = { 'pcsa.projectcalico.org/name': 'sa1', 'pcsa.role': 'db' };
  assertKVs(kvs, [
    { key: '/calico/v1/policy/profile/ksa.ns1.sa1/rules', value: {} },
    { key: '/calico/v1/policy/profile/ksa.ns1.sa1/labels', value: labels },
    { key: '/calico/resources/v3/projectcalico.org/profiles/ksa.ns1.sa1', value: {
      kind: 'Profile', apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'ksa.ns1.sa1', uid: 'u2', creationTimestamp: null },
      spec: { labelsToApply: labels },
    } },
  ]);
});

test('a service account name longer than 63 characters is kept whole in its profile (#1422)', () => {
  const sa = 'x'.repeat(70);
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: sa, namespace: 'ns' } });
  assert.equal(kvs[0]?.key, `/calico/v1/policy/profile/ksa.ns.${sa}/rules`);
  assert.deepEqual(kvs[1]?.value, { 'pcsa.projectcalico.org/name': sa });
});

test('the felix syncer always serves the projectcalico-default-allow profile without a labels key', () => {
  assertKVs(syncerSpecs().felix.staticKVs ?? [], [
    { key: '/calico/v1/policy/profile/projectcalico-default-allow/rules', value: ALLOW_RULES },
    { key: '/calico/resources/v3/projectcalico.org/profiles/projectcalico-default-allow', value: {
      kind: 'Profile', apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'projectcalico-default-allow', creationTimestamp: null },
      spec: { ingress: V3_ALLOW, egress: V3_ALLOW },
    } },
  ]);
});

test('profile names with a slash are escaped in v1 keys', () => {
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: 'a%b', namespace: 'ns' } });
  assert.equal(kvs[0]?.key, '/calico/v1/policy/profile/ksa.ns.a%25b/rules');
});

// Vectors worked out from libcalico-go e9d17133 conversion/conversion.go
// (serviceAccountNameToProfileName, ServiceAccountToProfile, NamespaceToProfile).
test('a service account with no namespace is filed under default, as serviceAccountNameToProfileName does', () => {
  const kvs = convert(KINDS.serviceAccounts, { metadata: { name: 'builder' } });
  assert.deepEqual(kvs.map((kv) => kv.key), [
    '/calico/v1/policy/profile/ksa.default.builder/rules',
    '/calico/v1/policy/profile/ksa.default.builder/labels',
    '/calico/resources/v3/projectcalico.org/profiles/ksa.default.builder',
  ]);
  assert.deepEqual(kvs[1]?.value, { 'pcsa.projectcalico.org/name': 'builder' });
});

test('a namespace without labels still has a labels key holding its name label', () => {
  const kvs = convert(KINDS.namespaces, { metadata: { name: 'bare' } });
  assert.deepEqual(kvs.find((kv) => kv.key === '/calico/v1/policy/profile/kns.bare/labels')?.value, { 'pcns.projectcalico.org/name': 'bare' });
});
