/**
 * Unit tests of every alert in deploy/prometheus/rules.yaml, run by `promtool test rules`: each
 * alert is shown firing on the series a real incident produces, and staying silent on healthy
 * series and on look-alike series from other jobs (a generic Node.js service, a job whose name
 * merely contains "cattail", the annotation-based `kubernetes-pods` job). The promtool input is
 * written from the table below; the expected annotations are the rule's own, with `$labels`
 * filled in, so a test fails on the labels an alert carries as well as on whether it fires.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';
import { loadRules, PROMETHEUS_INSTALL, repoPath, requireTool, runTool } from './tools.ts';

type Labels = Record<string, string>;

interface Scenario {
  /** Completes "<alert> fires ..." or "<alert> stays silent ...". */
  readonly when: string;
  /** Series selector → promtool expanding notation (`0x10`, `0+1x30`, `stale`); one sample per minute. */
  readonly series: Readonly<Record<string, string>>;
  /** When the alert is checked, from the start of the series. */
  readonly at: string;
  /** Labels of each firing alert, without the rule's own labels; empty means silent. */
  readonly alerts: readonly Labels[];
}

const A = { job: 'cattail', instance: '10.0.0.1:9098' };
const B = { job: 'cattail', instance: '10.0.0.2:9098' };
const sel = (name: string, labels: Labels): string => `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;

const metricsRegistry = new Registry();
createMetrics(metricsRegistry, { defaultMetrics: false });

/**
 * The `_bucket` series of one of Cattail's histograms, with its real bucket bounds from
 * src/metrics.ts, after `observed` (one minute's observations) every minute: an alert on a
 * quantile is only as good as the buckets around its threshold.
 */
function histogram(name: string, labels: Labels, observed: readonly number[], minutes = 40): Record<string, string> {
  const metric = metricsRegistry.getSingleMetric(name);
  assert.ok(metric !== undefined, `${name} is defined in src/metrics.ts`);
  const bounds = [...(metric as unknown as { upperBounds: number[] }).upperBounds, Number.POSITIVE_INFINITY];
  return Object.fromEntries(bounds.map((le) => {
    const perMinute = observed.filter((v) => v <= le).length;
    return [sel(`${name}_bucket`, { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) }), `0+${perMinute}x${minutes}`];
  }));
}
const times = (n: number, value: number): number[] => new Array<number>(n).fill(value);

const CASES: Record<string, { fires: readonly Scenario[]; silent: readonly Scenario[] }> = {
  CattailDown: {
    fires: [{ when: 'when a Cattail target has been down for 5 minutes', series: { [sel('up', A)]: '1 0x10', [sel('up', B)]: '1x10' }, at: '7m', alerts: [A] }],
    silent: [
      { when: 'for down targets of other jobs, even one whose name contains "cattail"', series: { [sel('up', { job: 'kubernetes-pods', instance: '10.1.0.9:8080' })]: '0x10', [sel('up', { job: 'cattail-exporter', instance: '10.1.0.8:9100' })]: '0x10', [sel('up', A)]: '1x10' }, at: '8m', alerts: [] },
      { when: 'when a target was down for less than 5 minutes', series: { [sel('up', A)]: '1 0 0 0 1x6' }, at: '4m', alerts: [] },
    ],
  },
  CattailAbsent: {
    fires: [{ when: 'when no target has job="cattail" while other jobs are scraped', series: { [sel('up', { job: 'kubernetes-pods', instance: '10.0.0.1:9098' })]: '1x20' }, at: '17m', alerts: [{ job: 'cattail' }] }],
    silent: [{ when: 'while a Cattail target exists, even a down one', series: { [sel('up', A)]: '0x20' }, at: '17m', alerts: [] }],
  },
  CattailNotReady: {
    fires: [{ when: 'when one syncer type of a replica has been out of sync for 10 minutes', series: { [sel('cattail_syncer_status', { ...A, syncer: 'felix' })]: '1x20', [sel('cattail_syncer_status', { ...A, syncer: 'bgp' })]: '2x20' }, at: '12m', alerts: [A] }],
    silent: [
      { when: 'when every syncer type is in sync', series: { [sel('cattail_syncer_status', { ...A, syncer: 'felix' })]: '2x20' }, at: '12m', alerts: [] },
      { when: 'during a first sync shorter than 10 minutes', series: { [sel('cattail_syncer_status', { ...A, syncer: 'felix' })]: '0 1x5 2x10' }, at: '12m', alerts: [] },
    ],
  },
  CattailNoReadyReplica: {
    fires: [{ when: 'when no replica has been in sync for 5 minutes', series: { [sel('cattail_syncer_status', { ...A, syncer: 'felix' })]: '1x20', [sel('cattail_syncer_status', { ...B, syncer: 'felix' })]: '0x20' }, at: '8m', alerts: [{ job: 'cattail' }] }],
    silent: [{ when: 'while one replica is in sync', series: { [sel('cattail_syncer_status', { ...A, syncer: 'felix' })]: '1x20', [sel('cattail_syncer_status', { ...B, syncer: 'felix' })]: '2x20' }, at: '8m', alerts: [] }],
  },
  CattailUpstreamStale: {
    fires: [{ when: 'when a kind has been stale for 5 minutes', series: { [sel('cattail_datastore_kind_stale', { ...A, kind: 'pods' })]: '0 1x10', [sel('cattail_datastore_kind_stale', { ...A, kind: 'nodes' })]: '0x10' }, at: '8m', alerts: [{ ...A, kind: 'pods' }] }],
    silent: [{ when: 'when every kind is fresh', series: { [sel('cattail_datastore_kind_stale', { ...A, kind: 'pods' })]: '0x10' }, at: '8m', alerts: [] }],
  },
  CattailShedding: {
    fires: [{ when: 'when a replica has been dropping connections for 15 minutes', series: { [sel('cattail_connections_dropped_total', A)]: '0+60x30' }, at: '25m', alerts: [A] }],
    silent: [
      { when: 'once shedding has stopped', series: { [sel('cattail_connections_dropped_total', A)]: '0+60x5 300x25' }, at: '25m', alerts: [] },
      { when: 'for a short rebalance after a rollout', series: { [sel('cattail_connections_dropped_total', A)]: '0x10 0+30x5 150x15' }, at: '25m', alerts: [] },
    ],
  },
  CattailClientsBehind: {
    fires: [{
      when: 'when the slowest clients have been 90 s behind for 10 minutes',
      series: histogram('cattail_client_latency_seconds', { ...A, syncer: 'felix' }, [...times(95, 0.05), ...times(5, 90)]),
      at: '20m', alerts: [{ job: 'cattail', syncer: 'felix' }],
    }],
    silent: [{ when: 'when one client in a hundred is 2 s behind', series: histogram('cattail_client_latency_seconds', { ...A, syncer: 'felix' }, [...times(99, 0.05), 2]), at: '20m', alerts: [] }],
  },
  CattailClientsFallingBehind: {
    fires: [{
      when: 'on the first fell-behind close of a process, its counter having started at 0',
      series: { [sel('cattail_connections_closed_total', { ...A, reason: 'fell-behind' })]: '0x20 1x20', [sel('cattail_connections_closed_total', { ...A, reason: 'client' })]: '0x40' },
      at: '24m', alerts: [A],
    }],
    silent: [
      { when: 'when connections close for other reasons', series: { [sel('cattail_connections_closed_total', { ...A, reason: 'fell-behind' })]: '0x40', [sel('cattail_connections_closed_total', { ...A, reason: 'client' })]: '0+5x40' }, at: '24m', alerts: [] },
      { when: '15 minutes after the last fell-behind close', series: { [sel('cattail_connections_closed_total', { ...A, reason: 'fell-behind' })]: '0x5 2x35' }, at: '30m', alerts: [] },
    ],
  },
  CattailUpdateBacklog: {
    fires: [{
      when: 'when more than half the breadcrumbs have been full (100 updates, the default cap) for 15 minutes',
      series: histogram('cattail_breadcrumb_size', { ...A, syncer: 'felix' }, [...times(6, 100), ...times(4, 3)]),
      at: '30m', alerts: [{ job: 'cattail', syncer: 'felix' }],
    }],
    silent: [{ when: 'when fewer than half the breadcrumbs are full', series: histogram('cattail_breadcrumb_size', { ...A, syncer: 'felix' }, [...times(4, 100), ...times(6, 3)]), at: '30m', alerts: [] }],
  },
  CattailSlowSnapshots: {
    fires: [{
      when: 'when the slowest snapshots have taken 20 s for 15 minutes',
      series: histogram('cattail_snapshot_send_seconds', { ...A, syncer: 'felix' }, [...times(97, 0.2), ...times(3, 20)]),
      at: '30m', alerts: [{ job: 'cattail', syncer: 'felix' }],
    }],
    silent: [{ when: 'when the slowest snapshot takes 8 s', series: histogram('cattail_snapshot_send_seconds', { ...A, syncer: 'felix' }, [...times(99, 0.2), 8]), at: '30m', alerts: [] }],
  },
  CattailFullSnapshotsDominate: {
    fires: [{
      when: 'when two in three reconnects that offered catch-up got a full snapshot for 30 minutes',
      series: {
        [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'expired' })]: '0+2x60',
        [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'digest', reason: 'other-instance' })]: '0+1x60',
        [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'not-offered' })]: '0+10x60',
        [sel('cattail_catchup_total', { ...A, syncer: 'bgp', path: 'resume', reason: 'ok' })]: '0+3x60',
      },
      at: '40m', alerts: [{ ...A, syncer: 'felix' }],
    }],
    silent: [
      {
        when: 'when the full snapshots went to clients that offered no catch-up or held nothing',
        series: {
          [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'not-offered' })]: '0+10x60',
          [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'client-empty' })]: '0+10x60',
          [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'digest', reason: 'not-offered' })]: '0+1x60',
        },
        at: '40m', alerts: [],
      },
      {
        when: 'when resumes and digest catch-ups are most of them',
        series: {
          [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'resume', reason: 'ok' })]: '0+3x60',
          [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'too-many-differ' })]: '0+1x60',
        },
        at: '40m', alerts: [],
      },
      {
        when: 'when fewer than 10 such reconnects happened in 30 minutes, all full',
        series: { [sel('cattail_catchup_total', { ...A, syncer: 'felix', path: 'snapshot', reason: 'expired' })]: '0+0.2x60' },
        at: '40m', alerts: [],
      },
    ],
  },
  CattailPingLatencyHigh: {
    fires: [{ when: 'when the slowest ping round trips have taken 2 s for 10 minutes', series: histogram('cattail_ping_latency_seconds', A, [...times(95, 0.004), ...times(5, 2)]), at: '20m', alerts: [A] }],
    silent: [{ when: 'when the slowest ping takes 300 ms', series: histogram('cattail_ping_latency_seconds', A, [...times(99, 0.004), 0.3]), at: '20m', alerts: [] }],
  },
  CattailEventLoopDelay: {
    fires: [{ when: 'when a replica\'s event loop has been delayed over 0.5 s for 10 minutes', series: { [sel('nodejs_eventloop_lag_p99_seconds', A)]: '0.8x20' }, at: '12m', alerts: [A] }],
    silent: [{
      when: 'for another Node.js service with a delayed event loop',
      series: { [sel('nodejs_eventloop_lag_p99_seconds', { job: 'payments-api', instance: '10.2.0.1:3000' })]: '2x20', [sel('nodejs_eventloop_lag_p99_seconds', { job: 'kubernetes-pods', instance: '10.2.0.2:3000' })]: '2x20', [sel('nodejs_eventloop_lag_p99_seconds', A)]: '0.01x20' },
      at: '12m', alerts: [],
    }],
  },
  CattailRestarting: {
    fires: [
      { when: 'when a replica started three times in an hour', series: { [sel('process_start_time_seconds', A)]: '0 0 120 120 240 240 360 360' }, at: '7m', alerts: [A] },
      { when: 'while it crash-loops and its target is down between starts', series: { [sel('process_start_time_seconds', A)]: '0 stale 120 stale 240 stale 360 stale' }, at: '7m', alerts: [A] },
    ],
    silent: [
      {
        when: 'for other jobs restarting just as often, even one whose name contains "cattail"',
        series: { [sel('process_start_time_seconds', { job: 'kubernetes-pods', instance: '10.2.0.1:3000' })]: '0 0 120 120 240 240 360 360', [sel('process_start_time_seconds', { job: 'cattail-exporter', instance: '10.2.0.3:9100' })]: '0 0 120 120 240 240 360 360', [sel('process_start_time_seconds', A)]: '0x7' },
        at: '7m', alerts: [],
      },
      { when: 'after two restarts', series: { [sel('process_start_time_seconds', A)]: '0 0 120 120 240 240 240 240' }, at: '7m', alerts: [] },
    ],
  },
  CattailInvalidObjects: {
    fires: [
      {
        when: 'for invalid objects already present when a replica starts (counted before its first scrape)',
        series: { [sel('process_start_time_seconds', A)]: '0x30', [sel('cattail_datastore_invalid_objects_total', { ...A, kind: 'ippools.crd.projectcalico.org' })]: '3x30', [sel('cattail_datastore_invalid_objects_total', { ...A, kind: 'pods' })]: '0x30' },
        at: '5m', alerts: [{ job: 'cattail', kind: 'ippools.crd.projectcalico.org' }],
      },
      {
        when: 'when an object is rejected while running, its counter having started at 0',
        series: { [sel('process_start_time_seconds', A)]: '0x60', [sel('cattail_datastore_invalid_objects_total', { ...A, kind: 'pods' })]: '0x30 1x30' },
        at: '35m', alerts: [{ job: 'cattail', kind: 'pods' }],
      },
    ],
    silent: [
      {
        when: 'once start-up is over and nothing new was rejected',
        series: { [sel('process_start_time_seconds', A)]: '0x60', [sel('cattail_datastore_invalid_objects_total', { ...A, kind: 'pods' })]: '3x60' },
        at: '30m', alerts: [],
      },
      {
        when: 'when another job on the same instance address has just started',
        series: { [sel('process_start_time_seconds', A)]: '0x60', [sel('process_start_time_seconds', { job: 'kubernetes-pods', instance: A.instance })]: '3000x60', [sel('cattail_datastore_invalid_objects_total', { ...A, kind: 'pods' })]: '3x60' },
        at: '55m', alerts: [],
      },
    ],
  },
  CattailInvalidValues: {
    fires: [
      {
        when: 'for values withheld by the output filter when a replica starts',
        series: { [sel('process_start_time_seconds', A)]: '0x30', [sel('cattail_updates_invalid_total', { ...A, syncer: 'felix', kind: 'WorkloadEndpoint' })]: '2x30', [sel('cattail_updates_invalid_total', { ...A, syncer: 'felix', kind: 'Profile' })]: '0x30' },
        at: '5m', alerts: [{ job: 'cattail', syncer: 'felix', kind: 'WorkloadEndpoint' }],
      },
      {
        when: 'when a value is withheld while running, its counter having started at 0',
        series: { [sel('process_start_time_seconds', A)]: '0x60', [sel('cattail_updates_invalid_total', { ...A, syncer: 'bgp', kind: 'BGPPeer' })]: '0x30 1x30' },
        at: '35m', alerts: [{ job: 'cattail', syncer: 'bgp', kind: 'BGPPeer' }],
      },
    ],
    silent: [
      {
        when: 'once start-up is over and nothing new was withheld, even with another job just started on the same address',
        series: { [sel('process_start_time_seconds', A)]: '0x60', [sel('process_start_time_seconds', { job: 'kubernetes-pods', instance: A.instance })]: '3000x60', [sel('cattail_updates_invalid_total', { ...A, syncer: 'felix', kind: 'Profile' })]: '4x60' },
        at: '55m', alerts: [],
      },
    ],
  },
};

const rules = loadRules();
const alertRules = new Map(rules.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined).map((r) => [r.alert!, r] as const)));
const scratch = mkdtempSync(path.join(tmpdir(), 'cattail-alert-tests-'));

/** The rule's annotations with `{{ $labels.x }}` filled in, as Prometheus renders them. */
function rendered(annotations: Readonly<Record<string, string>>, labels: Labels): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, v.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, l: string) => labels[l] ?? '')]));
}

function promtoolTest(alert: string, scenarios: readonly Scenario[]): { file: string; text: string } {
  const rule = alertRules.get(alert)!;
  const doc = {
    rule_files: [repoPath('deploy/prometheus/rules.yaml')],
    evaluation_interval: '1m',
    tests: scenarios.map((s) => ({
      interval: '1m',
      input_series: Object.entries(s.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: [{
        eval_time: s.at,
        alertname: alert,
        exp_alerts: s.alerts.map((labels) => ({ exp_labels: { ...labels, ...rule.labels }, exp_annotations: rendered(rule.annotations ?? {}, labels) })),
      }],
    })),
  };
  const file = path.join(scratch, `${alert}.test.yaml`);
  const text = stringify(doc);
  writeFileSync(file, text);
  return { file, text };
}

describe('promtool unit tests of every alert', () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('every alert in rules.yaml has cases that show it firing and staying silent, and every case names a real alert', () => {
    assert.deepEqual([...alertRules.keys()].sort(), Object.keys(CASES).sort());
    for (const [alert, { fires, silent }] of Object.entries(CASES)) {
      assert.ok(fires.length > 0 && fires.every((s) => s.alerts.length > 0), `${alert} has a firing case`);
      assert.ok(silent.length > 0 && silent.every((s) => s.alerts.length === 0), `${alert} has a silent case`);
    }
  });

  for (const [alert, { fires, silent }] of Object.entries(CASES)) {
    test(`${alert} fires ${fires.map((s) => s.when).join('; ')}; and stays silent ${silent.map((s) => s.when).join('; ')}`, () => {
      const promtool = requireTool('promtool', PROMETHEUS_INSTALL);
      const { file, text } = promtoolTest(alert, [...fires, ...silent]);
      try {
        runTool(promtool, ['test', 'rules', file]);
      } catch (err) {
        throw new Error(`${(err as Error).message}\npromtool input:\n${text}`);
      }
    });
  }
});
