import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { OUTPUT_KINDS } from '../../src/calico/index.ts';
import type { Logger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { KVEncoder } from '../../src/protocol/index.ts';
import { ValidationFilter, type SyncStatus, type Update } from '../../src/syncer/index.ts';

const MAX = 4096;

function setup(maxValueBytes = MAX) {
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } }) as unknown as Logger;
  const received: Update[] = [];
  const statuses: SyncStatus[] = [];
  const filter = new ValidationFilter({
    syncerType: 'felix', logger, metrics, maxValueBytes,
    sink: { onUpdates: (u) => received.push(...u), onStatus: (s) => statuses.push(s) },
  });
  const invalid = async (kind: string): Promise<number> => {
    const m = (await registry.getSingleMetric('cattail_updates_invalid_total')?.get())?.values ?? [];
    return m.find((v) => v.labels.syncer === 'felix' && v.labels.kind === kind)?.value ?? Number.NaN;
  };
  return { filter, received, statuses, lines, invalid, registry };
}

const PROFILE = '/calico/resources/v3/projectcalico.org/profiles/ksa.mill.robot';
const badProfile = { kind: 'Profile', apiVersion: 'projectcalico.org/v3', metadata: { name: 'ksa.mill.robot', creationTimestamp: null }, spec: { labelsToApply: { 'pcsa.projectcalico.org/name': 'r'.repeat(64) } } };
const goodRules = { key: '/calico/v1/policy/profile/ksa.mill.robot/rules', value: {}, revision: '5', updateType: 'new' } as const;

test('every syncer × kind series of cattail_updates_invalid_total exists at 0 before anything is filtered', async () => {
  const { invalid } = setup();
  for (const kind of OUTPUT_KINDS) assert.equal(await invalid(kind), 0, kind);
});

test('an invalid value becomes a deletion of its key, in place, while valid updates pass unchanged', async () => {
  const { filter, received, lines, invalid } = setup();
  filter.onUpdates([goodRules, { key: PROFILE, value: badProfile, revision: '5', updateType: 'new' }]);
  assert.deepEqual(received, [goodRules, { key: PROFILE, value: null, revision: '5', updateType: 'deleted' }]);
  assert.equal(await invalid('Profile'), 1);
  assert.equal(await invalid('ProfileRules'), 0);
  const line = lines.find((l) => l.msg === 'invalid value: published as a deletion of its key');
  assert.ok(line, 'a log line names the nulled value');
  assert.equal(line.key, PROFILE);
  assert.equal(line.kind, 'Profile');
  assert.equal(line.rule, 'validateLabels');
  assert.equal(line.syncer, 'felix');
  assert.equal(line.level, 40);
});

test('deletions and status pass through untouched and are not counted', async () => {
  const { filter, received, statuses, invalid } = setup();
  const deletion: Update = { key: PROFILE, value: null, revision: '6', updateType: 'deleted' };
  filter.onUpdates([deletion]);
  filter.onStatus('in-sync');
  assert.deepEqual(received, [deletion]);
  assert.deepEqual(statuses, ['in-sync']);
  assert.equal(await invalid('Profile'), 0);
});

/** A raw-text value whose encoded entry is exactly `bytes` long. */
function valueOfEntrySize(key: string, revision: string, bytes: number): string {
  const encoder = new KVEncoder();
  let len = bytes;
  for (;;) {
    const value = 'v'.repeat(len);
    const size = encoder.encode(key, value, revision).bytes.length;
    if (size === bytes) return value;
    len -= size - bytes;
  }
}

test('an entry of exactly maxValueBytes passes; one byte more is refused with rule maxValueBytes and published as a deletion', async () => {
  const { filter, received, lines, invalid } = setup();
  const key = '/calico/v1/config/LogFilePath';
  const fits = valueOfEntrySize(key, '9', MAX);
  const over = `${fits}v`;
  filter.onUpdates([{ key, value: fits, revision: '9', updateType: 'new' }, { key, value: over, revision: '10', updateType: 'updated' }]);
  assert.deepEqual(received, [
    { key, value: fits, revision: '9', updateType: 'new' },
    { key, value: null, revision: '10', updateType: 'deleted' },
  ]);
  assert.equal(await invalid('GlobalConfig'), 1);
  assert.equal(lines.at(-1)?.rule, 'maxValueBytes');
});

test('a 70 MB label is refused by size without the log line carrying it', async () => {
  const { filter, received, lines, invalid } = setup(2 * 1024 * 1024);
  const key = '/calico/v1/host/n1/workload/k8s/default%2fbig/endpoint/eth0';
  const value = { state: 'active', name: 'cali1', active_instance_id: '', mac: null, profile_ids: [], ipv4_nets: [], ipv6_nets: null, labels: { huge: 'x'.repeat(70_000_000) } };
  filter.onUpdates([{ key, value, revision: '3', updateType: 'new' }]);
  assert.deepEqual(received, [{ key, value: null, revision: '3', updateType: 'deleted' }]);
  assert.equal(await invalid('WorkloadEndpoint'), 1);
  assert.ok(JSON.stringify(lines).length < 10_000, 'the log line stays small');
});

test('a key so long that even its deletion is over the bound is not published at all, but counted and logged', async () => {
  const { filter, received, lines, invalid } = setup();
  const key = `/calico/v1/netset/${'n'.repeat(MAX)}`;
  filter.onUpdates([{ key, value: { nets: [] }, revision: '1', updateType: 'new' }, { key, value: null, revision: '2', updateType: 'deleted' }]);
  assert.deepEqual(received, []);
  assert.equal(await invalid('NetworkSet'), 2);
  assert.ok(String(lines.at(-1)?.key).length < 400, 'the logged key is clipped');
});
