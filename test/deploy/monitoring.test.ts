/**
 * The alert rules and the dashboard, checked by the real tools: promtool validates the rules,
 * and a real Prometheus on 127.0.0.1 scrapes a running Cattail (driven through snapshots,
 * reuse, a lagging client, a closed connection, a skipped update and an invalid object so every
 * labelled series exists) and evaluates the rules; every metric the dashboard and the rules read
 * must be among what it scraped.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';
import {
  dashboardExpressions, findObject, freePort, type K8sObject, kustomize, loadRules, metricNamesIn, podSpecOf, PROMETHEUS_INSTALL, repoPath, requireTool, runTool, stopProcess,
} from './tools.ts';

const rules = loadRules();
const dashboard = JSON.parse(readFileSync(repoPath('deploy/grafana/cattail.json'), 'utf8')) as {
  schemaVersion: number; uid: string; title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: { id: number; type: string; title: string; datasource?: { uid: string }; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
};
const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record === undefined ? [] : [r.record]))));
const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

/** The one job of deploy/prometheus/scrape-config.yaml, as a fresh object. */
function shippedScrapeJob(): Record<string, unknown> {
  const doc = parse(readFileSync(repoPath('deploy/prometheus/scrape-config.yaml'), 'utf8')) as { scrape_configs: Record<string, unknown>[] };
  assert.equal(doc.scrape_configs.length, 1);
  return doc.scrape_configs[0]!;
}

/** Metric names the dashboard and the alert/recording expressions read (recorded series excluded). */
function usedMetrics(): Map<string, string> {
  const used = new Map<string, string>();
  for (const expr of dashboardExpressions(dashboard)) for (const n of metricNamesIn(expr)) used.set(n, 'dashboard');
  for (const g of rules.groups) for (const r of g.rules) for (const n of metricNamesIn(r.expr)) if (!recorded.has(n)) used.set(n, `rule ${r.alert ?? r.record}`);
  return used;
}

/** Series names Cattail's own code defines, with the extra names a histogram exposes. */
function definedCattailSeries(): Set<string> {
  const registry = new Registry();
  createMetrics(registry, { defaultMetrics: false });
  const names = new Set<string>();
  for (const m of registry.getMetricsAsArray()) {
    names.add(m.name);
    if ((m as { type?: unknown }).type === 'histogram' || m.constructor.name === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe('alert rules and dashboard', () => {
  test('promtool accepts the recording and alerting rules', () => {
    const promtool = requireTool('promtool', PROMETHEUS_INSTALL);
    const out = runTool(promtool, ['check', 'rules', repoPath('deploy/prometheus/rules.yaml')]);
    assert.match(out, /SUCCESS: \d+ rules found/);
  });

  test('every alert has a severity, a summary and a description that points at its runbook in OPERATIONS.md', () => {
    const operations = readFileSync(repoPath('docs/OPERATIONS.md'), 'utf8');
    const required = ['CattailShedding', 'CattailClientsBehind', 'CattailSlowSnapshots', 'CattailPingLatencyHigh', 'CattailNotReady', 'CattailUpstreamStale', 'CattailEventLoopDelay', 'CattailRestarting', 'CattailFullSnapshotsDominate'];
    for (const name of required) assert.ok(alerts.some((a) => a.alert === name), `alert ${name} exists`);
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? '', /^(critical|warning|info)$/, `${a.alert} severity`);
      assert.ok((a.annotations?.summary ?? '').length > 10, `${a.alert} summary`);
      const description = a.annotations?.description ?? '';
      assert.ok(description.length > 80, `${a.alert} description says what to do`);
      const anchor = a.alert!.toLowerCase();
      assert.ok(description.includes(`docs/OPERATIONS.md#${anchor}`), `${a.alert} description links its runbook`);
      assert.match(operations, new RegExp(`^#{3,4} ${a.alert}$`, 'm'), `OPERATIONS.md has a runbook section "${a.alert}"`);
    }
  });

  test('the Prometheus ping threshold is Typha\'s documented 1 s and the p99 is used', () => {
    const ping = alerts.find((a) => a.alert === 'CattailPingLatencyHigh')!;
    assert.match(ping.expr, /> 1$/);
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => ping.expr.startsWith(r.record ?? '\u0000'));
    assert.match(rule?.expr ?? '', /histogram_quantile\(0\.99, .*cattail_ping_latency_seconds_bucket/);
  });

  test('the dashboard is Grafana JSON with datasource, job and instance variables and the panels an operator opens first', () => {
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
    assert.ok(dashboard.uid && dashboard.title);
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.type]));
    assert.equal(vars.datasource, 'datasource');
    assert.equal(vars.job, 'query');
    assert.equal(vars.instance, 'query');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${datasource}', `${p.title} uses the datasource variable`);
      for (const t of p.targets ?? []) {
        assert.equal(t.datasource?.uid, '${datasource}');
        if (/cattail_|nodejs_|process_/.test(t.expr)) assert.match(t.expr, /job=~"\$job"/, `${p.title} is filtered by job`);
      }
    }
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const wanted of ['active connections', 'streaming', 'accepted', 'dropped', 'grace', 'client lag', 'snapshot send', 'snapshot size', 'generated vs reused', 'breadcrumb rate', 'breadcrumb size', 'updates vs skipped', 'cache size', 'ping', 'event-loop', 'memory', 'datastore watch health', 'syncer status', 'catch-ups by path', 'bytes saved', 'retention memory', 'resume window']) {
      assert.ok(titles.includes(wanted), `a panel shows ${wanted}`);
    }
  });

  test('every cattail metric the dashboard and the rules read is defined in src/metrics.ts', () => {
    const defined = definedCattailSeries();
    for (const [name, where] of usedMetrics()) {
      if (name.startsWith('cattail_')) assert.ok(defined.has(name), `${name} (${where}) is defined in src/metrics.ts`);
    }
  });

  test('rules select the generic series (up, process_*, nodejs_*) by job="cattail", and the dashboard by joining a series only Cattail exports', () => {
    for (const g of rules.groups) for (const r of g.rules) {
      for (const m of r.expr.matchAll(/\b(up|process_[a-z_]+|nodejs_[a-z_0-9]+)(\{[^}]*\}|\b)/g)) {
        assert.ok(m[2]!.includes('job="cattail"') || /and on \(job, instance\)/.test(r.expr), `${r.alert ?? r.record}: ${m[1]} is selected by job="cattail" or joined to Cattail's own series`);
      }
    }
    for (const expr of dashboardExpressions(dashboard)) {
      if (/\b(up|process_[a-z_]+|nodejs_[a-z_0-9]+)\{/.test(expr)) assert.match(expr, /and on \(job, instance\) cattail_connections_active\{job=~"\$job"\}/, `only Cattail's pods: ${expr}`);
    }
  });

  test('the shipped PodMonitor and scrape job scrape the ops port of the pods the base deploys, under job="cattail", and the pods invite no second scrape', () => {
    const base = kustomize('deploy/kubernetes');
    const deployment = findObject(base, 'Deployment') as unknown as K8sObject & { spec: { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } } } };
    const template = deployment.spec.template.metadata;
    const namespace = deployment.metadata.namespace!;
    const opsPort = podSpecOf(deployment).containers[0]!.ports!.find((p) => p.name === 'ops');
    assert.ok(opsPort, 'the container has a port named ops');
    assert.deepEqual(Object.keys(template.annotations ?? {}).filter((k) => k.startsWith('prometheus.io/')), [], 'no prometheus.io annotations: a generic kubernetes-pods job would scrape the pods again under another job name');

    const monitor = parse(readFileSync(repoPath('deploy/prometheus/podmonitor.yaml'), 'utf8')) as K8sObject & {
      spec: { jobLabel: string; selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; podMetricsEndpoints: { port: string; path: string }[] };
    };
    assert.equal(monitor.kind, 'PodMonitor');
    assert.equal(monitor.metadata.namespace, namespace);
    assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [namespace]);
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(template.labels[k], v, `the PodMonitor selects the pods by ${k}`);
    assert.equal(template.labels[monitor.spec.jobLabel], 'cattail', 'the job label the PodMonitor sets is "cattail"');
    assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e) => [e.port, e.path]), [['ops', '/metrics']]);

    const job = shippedScrapeJob() as { job_name: string; metrics_path: string; kubernetes_sd_configs: { role: string; namespaces: { names: string[] }; selectors: { role: string; label: string }[] }[]; relabel_configs: { source_labels?: string[]; regex?: string; action?: string }[] };
    assert.equal(job.job_name, 'cattail');
    assert.equal(job.metrics_path, '/metrics');
    const sd = job.kubernetes_sd_configs[0]!;
    assert.equal(sd.role, 'pod');
    assert.deepEqual(sd.namespaces.names, [namespace]);
    for (const sel of sd.selectors) {
      const [k, v] = sel.label.split('=');
      assert.equal(template.labels[k!], v, `the scrape job selects the pods by ${k}`);
    }
    const keep = job.relabel_configs.find((r) => r.action === 'keep');
    assert.deepEqual([keep?.source_labels, keep?.regex], [['__meta_kubernetes_pod_container_port_name'], opsPort.name]);
  });

  describe('a real Prometheus scraping a running Cattail', () => {
    let harness: Harness | undefined;
    let prometheus: ChildProcess | undefined;
    let promUrl = '';
    let promLog = '';
    const clients: TestClient[] = [];
    const storage = mkdtempSync(path.join(tmpdir(), 'cattail-prometheus-'));

    before(async () => {
      const binary = requireTool('prometheus', PROMETHEUS_INSTALL);
      const files: Record<string, string> = {};
      for (const f of readdirSync(repoPath('examples/cluster'))) if (f.endsWith('.yaml')) files[f] = readFileSync(repoPath('examples/cluster', f), 'utf8');
      // Rejected by validation, so the invalid-objects counter has a series.
      files['zz-invalid.yaml'] = 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata:\n  name: not-a-pool\nspec:\n  cidr: not-a-cidr\n';
      // Fast pings so round trips are observed; no fall-behind allowance so a lagging client
      // uses its grace period.
      harness = await startCattail({ files, flags: ['--ping-interval-ms', '200', '--pong-timeout-ms', '5000', '--max-fall-behind-ms', '0'] });
      const h = harness;

      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      // The shipped scrape job, fed by a file of targets shaped as its Kubernetes pod discovery
      // yields them (one per container port, with the pod's meta labels), since the Debian
      // build of Prometheus has no kubernetes_sd: what is tested is the job and its relabeling.
      const targets = path.join(storage, 'targets.json');
      const pod = (port: number, portName: string) => ({
        targets: [`127.0.0.1:${port}`],
        labels: { __meta_kubernetes_namespace: 'kube-system', __meta_kubernetes_pod_name: 'cattail-7d9f-x2x', __meta_kubernetes_pod_node_name: 'node-1', __meta_kubernetes_pod_container_port_name: portName },
      });
      writeFileSync(targets, JSON.stringify([pod(h.app.opsAddress.port, 'ops'), pod(h.app.syncAddress.port, 'cattail')]));
      const job = shippedScrapeJob();
      delete job.kubernetes_sd_configs;
      Object.assign(job, { file_sd_configs: [{ files: [targets], refresh_interval: '1s' }], scrape_interval: '1s', scrape_timeout: '900ms' });
      const config = path.join(storage, 'prometheus.yml');
      writeFileSync(config, stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [repoPath('deploy/prometheus/rules.yaml')],
        scrape_configs: [job],
      }));
      prometheus = spawn(binary, [
        `--config.file=${config}`, `--storage.tsdb.path=${path.join(storage, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h', '--log.level=warn',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));

      // Traffic while Prometheus starts: every labelled series needs at least one event.
      await eventually(() => h.app.readiness().ready, 'Cattail in sync');
      for (const syncerType of ['felix', 'felix', 'bgp', 'tunnel-ip-allocation']) clients.push(new TestClient(h.syncUrl, { syncerType }));
      await Promise.all(clients.map(async (c) => { await c.opened; c.hello(); }));
      const lagging = await TestClient.connect(h.syncUrl, { syncerType: 'felix', hostname: 'lagging', noAck: true });
      clients.push(lagging);
      await eventually(() => clients.every((c) => c.snapshotDone), 'every client has its snapshot');
      // Two breadcrumbs while the lagging client has not acked: when it does, its first delta is
      // older than the newest breadcrumb, and with no fall-behind allowance it uses its grace.
      const seq = () => h.app.caches.get('felix')!.current().seq;
      for (const name of ['extra-a', 'extra-b']) {
        const was = seq();
        await h.writeManifest('zz-extra.yaml', `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`);
        await eventually(() => seq() > was, `breadcrumb for ${name}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      lagging.send({ type: 'ack' });
      // Same model value, new revision: skipped.
      await h.writeManifest('zz-extra.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra-b\n  annotations:\n    touched: "yes"\n');
      clients[0]!.close();
      await eventually(async () => {
        const text = await (await fetch(`${h.opsUrl}/metrics`)).text();
        return /^cattail_connections_grace_used_total\{/m.test(text) && /^cattail_updates_skipped_total\{/m.test(text) && /^cattail_connections_closed_total\{/m.test(text);
      }, 'grace, skipped and closed series exist');
    });

    after(async () => {
      for (const c of clients) c.close();
      if (prometheus !== undefined) await stopProcess(prometheus);
      await harness?.close();
      rmSync(storage, { recursive: true, force: true });
    });

    async function api<T>(pathAndQuery: string): Promise<T> {
      const res = await fetch(`${promUrl}${pathAndQuery}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      assert.equal(body.status, 'success', body.error);
      return body.data;
    }

    async function scrapedNames(): Promise<Set<string>> {
      return new Set(await api<string[]>('/api/v1/label/__name__/values'));
    }

    test('Prometheus scrapes Cattail, and every metric the dashboard and the rules read is in what it scraped', async () => {
      const used = usedMetrics();
      assert.ok(used.size > 20, `found ${used.size} metric names`);
      let missing: string[] = [];
      await eventually(async () => {
        if (prometheus!.exitCode !== null) assert.fail(`prometheus exited ${prometheus!.exitCode}:\n${promLog}`);
        try {
          const scraped = await scrapedNames();
          missing = [...used.keys()].filter((n) => !scraped.has(n));
          return missing.length === 0;
        } catch {
          return false; // not listening yet
        }
      }, 'Prometheus to have scraped every used metric', 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\nmissing: ${missing.map((n) => `${n} (${used.get(n)})`).join(', ')}\n${promLog}`);
      });
      type UpResult = { result: { metric: Record<string, string>; value: [number, string] }[] };
      // On a loaded machine a discovery refresh can briefly drop the target between scrapes (its
      // `up` goes stale), so the series is awaited rather than read once.
      let up: UpResult = { result: [] };
      await eventually(async () => {
        up = await api<UpResult>(`/api/v1/query?query=${encodeURIComponent('up{job="cattail"}')}`);
        return up.result.length > 0;
      }, 'the up series of the cattail job', 60_000).catch(() => {});
      assert.equal(up.result.length, 1, 'the shipped job keeps only the ops port of the pod');
      assert.equal(up.result[0]!.value[1], '1', 'the target is up');
      assert.deepEqual({ namespace: up.result[0]!.metric.namespace, pod: up.result[0]!.metric.pod, node: up.result[0]!.metric.node }, { namespace: 'kube-system', pod: 'cattail-7d9f-x2x', node: 'node-1' });
    });

    test('Prometheus evaluates every rule without error and records every recording rule', async () => {
      type Rule = { name: string; health: string; lastError?: string; type: string };
      let rulesNow: Rule[] = [];
      await eventually(async () => {
        const data = await api<{ groups: { rules: Rule[] }[] }>('/api/v1/rules');
        rulesNow = data.groups.flatMap((g) => g.rules);
        return rulesNow.length > 0 && rulesNow.every((r) => r.health !== 'unknown');
      }, 'every rule evaluated once', 60_000);
      assert.equal(rulesNow.length, rules.groups.reduce((n, g) => n + g.rules.length, 0), 'Prometheus loaded every rule');
      for (const r of rulesNow) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
      let absent: string[] = [];
      await eventually(async () => {
        const scraped = await scrapedNames();
        absent = [...recorded].filter((n) => !scraped.has(n));
        return absent.length === 0;
      }, 'recorded series', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; not recorded: ${absent.join(', ')}`);
      });
    });
  });
});
