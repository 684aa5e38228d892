/**
 * docs/OPERATIONS.md against the code it documents: every option, every metric, the
 * connection-limit examples and its own links.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { envName, flagName, OPTIONS } from '../../src/config/index.ts';
import { createMetrics } from '../../src/metrics.ts';
import { computeConnectionLimit } from '../../src/server/index.ts';
import { repoPath } from './tools.ts';

const doc = readFileSync(repoPath('docs/OPERATIONS.md'), 'utf8');
const lines = doc.split('\n');

/** Table rows (`| a | b |`) as arrays of trimmed cells. */
function tableRows(): string[][] {
  return lines.filter((l) => l.startsWith('|') && !/^\|[-| ]+\|$/.test(l)).map((l) => l.slice(1, -1).split('|').map((c) => c.trim()));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(): Set<string> {
  return new Set(lines.filter((l) => /^#{1,6} /.test(l)).map((l) => l.replace(/^#+ /, '').toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
}

describe('docs/OPERATIONS.md', () => {
  test('documents every option with its flag, its variable and its default in one table row', () => {
    const rows = tableRows();
    for (const [name, spec] of Object.entries(OPTIONS)) {
      const row = rows.find((r) => r[0] === `\`${flagName(name)}\``);
      assert.ok(row, `a row for ${flagName(name)}`);
      assert.equal(row[1], `\`${envName(name)}\``, `${flagName(name)} names its variable`);
      const d = spec.default as unknown;
      const shown = Array.isArray(d) ? (d.length === 0 ? '(empty)' : d.join(',')) : d === '' ? '(empty)' : String(d);
      assert.ok(row[2]!.startsWith(`\`${shown}\``), `${flagName(name)} shows its default ${shown}, got ${row[2]}`);
      assert.ok((row[3] ?? '').length > 40, `${flagName(name)} says what it protects against`);
    }
  });

  test('explains every cattail metric the server registers', () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    const rows = new Map(tableRows().map((r) => [r[0], r]));
    for (const metric of registry.getMetricsAsArray()) {
      const row = rows.get(`\`${metric.name}\``);
      assert.ok(row, `a row for ${metric.name}`);
      assert.ok((row[3] ?? '').length > 20, `${metric.name} has a meaning`);
    }
  });

  test('names, in its row, every value of each metric\'s reason, limit and endpoint labels', async () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    const rows = new Map(tableRows().map((r) => [r[0], r]));
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const value of metric.values) {
        for (const label of ['reason', 'limit', 'endpoint']) {
          const v = value.labels[label];
          if (v === undefined) continue;
          assert.ok((rows.get(`\`${metric.name}\``)?.[3] ?? '').includes(`\`${v}\``), `${metric.name}'s row names ${label} \`${v}\``);
        }
      }
    }
  });

  test('the connection-limit examples are what the code computes', () => {
    const header = lines.findIndex((l) => l.startsWith('| syncer types | nodes | replicas | limit |'));
    assert.ok(header > 0, 'the examples table exists');
    let checked = 0;
    for (const line of lines.slice(header + 2)) {
      if (!line.startsWith('|')) break;
      const [types, nodes, replicas, limit, why] = line.slice(1, -1).split('|').map((c) => c.trim());
      const decision = computeConnectionLimit({
        syncerTypes: Number(types), nodes: Number(nodes), replicas: Number(replicas),
        lower: OPTIONS.maxConnectionsLowerLimit.default, upper: OPTIONS.maxConnectionsUpperLimit.default,
      });
      assert.deepEqual([decision.limit, decision.reason], [Number(limit), why], line);
      checked++;
    }
    assert.ok(checked >= 5);
  });

  test('every link to a section of the page has a heading to land on', () => {
    const known = anchors();
    for (const m of doc.matchAll(/\]\(#([^)]+)\)/g)) assert.ok(known.has(m[1]!), `#${m[1]} exists`);
  });

  test('the default termination grace period and shutdown timeout it describes are the ones deployed', () => {
    const deployment = readFileSync(repoPath('deploy/kubernetes/base/deployment.yaml'), 'utf8');
    const grace = /terminationGracePeriodSeconds: (\d+)/.exec(deployment)?.[1];
    assert.ok(doc.includes(`terminationGracePeriodSeconds: ${grace}\``), 'the page quotes the deployed grace period');
    assert.equal(Number(grace) * 1000, OPTIONS.shutdownTimeoutMs.default);
  });
});
