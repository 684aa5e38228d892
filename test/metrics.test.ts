/**
 * Counters with labels start at zero for every value of their bounded label set, so a rule's
 * `increase()` sees the first event of a process (a counter born at 1 has no earlier sample).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ETCD_KINDS, KINDS } from '../src/datastore/kinds.ts';
import { CATCH_UP_OUTCOMES } from '../src/server/catchUpPlan.ts';
import { startCattail } from './support/harness.ts';

/** Sample lines of `/metrics` text, by metric name. */
function samples(text: string): Map<string, { labels: string; value: number }[]> {
  const out = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? '', value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

describe('metrics at start-up', () => {
  test('before any client connects, every cattail counter has series, closed connections have one at 0 per reason and invalid objects one at 0 per kind', async () => {
    const h = await startCattail({ files: { 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: metrics-test\n' } });
    try {
      const text = await (await fetch(`${h.opsUrl}/metrics`)).text();
      const series = samples(text);
      const counters = [...text.matchAll(/^# TYPE (cattail_\S+) counter$/gm)].map((m) => m[1]!);
      assert.ok(counters.length > 5, `found ${counters.length} cattail counters`);
      for (const name of counters) assert.ok((series.get(name) ?? []).length > 0, `${name} has a series before its first event`);

      const closed = series.get('cattail_connections_closed_total') ?? [];
      for (const reason of ['client', 'protocol', 'handshake-timeout', 'fell-behind', 'write-timeout', 'pong-timeout', 'rebalance', 'shutdown', 'error', 'left-stale']) {
        assert.deepEqual(closed.filter((s) => s.labels === `{reason="${reason}"}`).map((s) => s.value), [0], `closed{reason="${reason}"} is 0`);
      }
      const invalid = series.get('cattail_datastore_invalid_objects_total') ?? [];
      assert.deepEqual(invalid.map((s) => s.labels).sort(), [...Object.values(KINDS), ...Object.values(ETCD_KINDS)].map((k) => `{kind="${k.id}"}`).sort());
      assert.ok(invalid.every((s) => s.value === 0), 'no object was invalid');

      const catchUps = new Set((series.get('cattail_catchup_total') ?? []).filter((s) => s.value === 0).map((s) => s.labels));
      for (const syncer of ['felix', 'bgp', 'tunnel-ip-allocation']) {
        for (const [path, reasons] of Object.entries(CATCH_UP_OUTCOMES)) {
          for (const reason of reasons) assert.ok(catchUps.has(`{syncer="${syncer}",path="${path}",reason="${reason}"}`), `catchup_total{${syncer},${path},${reason}} is 0`);
        }
        const probes = (series.get('cattail_probes_total') ?? []).filter((s) => s.labels.startsWith(`{syncer="${syncer}"`));
        assert.deepEqual(probes.map((s) => s.labels).sort(), ['in-sync', 'resync-in-progress', 'wait-for-datastore'].map((st) => `{syncer="${syncer}",status="${st}"}`));
      }
    } finally {
      await h.close();
    }
  });
});
