/**
 * Scenario results, target checks and their presentation: a plain-text table for the terminal,
 * a Markdown table for the README, and the JSON written to bench/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TargetCheck {
  readonly measure: string;
  readonly value: number;
  readonly unit: string;
  /** Human form, e.g. `≥ 3× Redis` or `≤ 20 ms`. */
  readonly target: string;
  /** value / target for an at-least target, target / value for an at-most one: ≥ 1 means met. */
  readonly ratio: number;
  readonly met: boolean;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly title: string;
  readonly figures: Readonly<Record<string, number | string | boolean>>;
  readonly targets: readonly TargetCheck[];
  readonly notes: readonly string[];
}

export function atLeast(measure: string, value: number, target: number, unit: string, targetText: string): TargetCheck {
  const ratio = value / target;
  return { measure, value, unit, target: targetText, ratio, met: ratio >= 1 };
}

export function atMost(measure: string, value: number, target: number, unit: string, targetText: string): TargetCheck {
  const ratio = value === 0 ? Infinity : target / value;
  return { measure, value, unit, target: targetText, ratio, met: value <= target };
}

export function machine(): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '∞' : String(n);
  const a = Math.abs(n);
  if (a >= 1e6) return n.toExponential(2);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

function rows(results: readonly ScenarioResult[]): string[][] {
  const out: string[][] = [];
  for (const r of results) {
    for (const t of r.targets) out.push([r.title, t.measure, `${fmt(t.value)} ${t.unit}`.trim(), t.target, `${fmt(t.ratio)}×`, t.met ? 'met' : 'NOT met']);
  }
  return out;
}

const HEADER = ['scenario', 'measure', 'value', 'target', 'ratio', 'result'];

export function textTable(results: readonly ScenarioResult[]): string {
  const all = [HEADER, ...rows(results)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ')).join('\n');
}

export function markdownTable(results: readonly ScenarioResult[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const r of rows(results)) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

export async function writeResults(dir: string, command: string, results: readonly ScenarioResult[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const at = new Date().toISOString();
  const file = path.join(dir, `bench-${at.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ at, command, machine: machine(), results }, null, 2) + '\n');
  await writeFile(path.join(dir, 'latest.md'), `${markdownTable(results)}\n`);
  return file;
}
