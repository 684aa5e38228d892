/**
 * Helpers for the deployment tests: locating external tools (failing loudly, naming the package,
 * when one is missing), rendering kustomizations with the real kubectl, reading the Dockerfile,
 * and pulling metric names out of PromQL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { findOnPath } from '../support/systemPackages.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const repoPath = (...parts: string[]): string => path.join(REPO, ...parts);

/**
 * The absolute path of `tool` on PATH. Throws (never skips) when it is missing, saying how to
 * install it, so a machine without the tool fails these tests instead of passing them silently.
 * (`npm test`'s pretest step installs the Debian packages the suite needs.)
 */
export function requireTool(tool: string, install: string): string {
  const found = findOnPath(tool);
  if (found === undefined) throw new Error(`${tool} is not on PATH; these tests need it. Install it with: ${install}`);
  return found;
}

export const PROMETHEUS_INSTALL = 'apt-get install -y prometheus (the Debian package provides prometheus and promtool; the pretest step of npm test does this as root)';
export const KUBECTL_INSTALL = 'kubectl 1.27 or newer (it embeds kustomize); these machines have it in /usr/bin';

/** Runs a command to completion; throws with its output when it exits non-zero. */
export function runTool(tool: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(tool, args, { cwd: options.cwd ?? REPO, encoding: 'utf8', timeout: options.timeoutMs ?? 30_000 });
  if (r.error !== undefined) throw new Error(`${tool} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// ---- Kubernetes manifests ---------------------------------------------------------------------

/** A rendered Kubernetes object: only the fields the tests read are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** `kubectl kustomize <dir>` parsed into objects. */
export function kustomize(dir: string): K8sObject[] {
  const kubectl = requireTool('kubectl', KUBECTL_INSTALL);
  const text = runTool(kubectl, ['kustomize', repoPath(dir)]);
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir} produced invalid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

export function findObject(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown; configMapKeyRef?: unknown };
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
  timeoutSeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
}
export interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface PodSpec {
  containers: Container[];
  hostNetwork?: boolean;
  serviceAccountName?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  topologySpreadConstraints?: { topologyKey: string; maxSkew: number; whenUnsatisfiable: string; labelSelector?: { matchLabels?: Record<string, string> } }[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}

export function podSpecOf(deployment: K8sObject): PodSpec {
  return (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

/**
 * The environment a container would see, as far as a test can know it: literal values as they
 * are, downward-API fields resolved against `pod`, anything else (Secret refs) left out.
 */
export function containerEnv(container: Container, pod: { namespace: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = pod.namespace;
  }
  return env;
}

// ---- Dockerfile -------------------------------------------------------------------------------

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly stage: number;
}

/** Instructions of a Dockerfile, with continuation lines joined and comments dropped. */
export function dockerfileInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m === null) continue;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2]!, stage });
  }
  return out;
}

/**
 * Docker's .dockerignore rule: patterns are matched in order against a path and each of its
 * parent directories, and the last pattern that matches decides (`!` re-includes).
 */
export function dockerIgnored(patterns: readonly string[], file: string): boolean {
  const rules = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#'))
    .map((p) => {
      const negate = p.startsWith('!');
      const body = path.posix.normalize((negate ? p.slice(1) : p).replace(/^\/+/, '')).replace(/\/+$/, '');
      const re = new RegExp(`^${body.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}$`);
      return { negate, re };
    });
  const parts = path.posix.normalize(file).split('/');
  let ignored = false;
  for (const rule of rules) {
    for (let i = 1; i <= parts.length; i++) {
      if (rule.re.test(parts.slice(0, i).join('/'))) {
        ignored = !rule.negate;
        break;
      }
    }
  }
  return ignored;
}

// ---- PromQL -----------------------------------------------------------------------------------

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric (or recorded series) names a PromQL expression reads. Label matchers, ranges,
 * strings and grouping clauses are removed first; what remains and is not a function call, a
 * keyword or part of a number is a metric name.
 */
export function metricNamesIn(expr: string): Set<string> {
  const labelValues = /^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(expr);
  if (labelValues !== null) return new Set([labelValues[1]!]);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = stripped[m.index - 1] ?? ' ';
    if (/[0-9.$]/.test(before)) continue;
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(')) continue;
    if (NOT_METRICS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return names;
}

/** Every expression in a Grafana dashboard: panel targets (rows included) and variable queries. */
export function dashboardExpressions(dashboard: unknown): string[] {
  const exprs: string[] = [];
  const d = dashboard as { panels?: unknown[]; templating?: { list?: { type: string; query?: unknown; definition?: string }[] } };
  const visit = (panels: unknown[] | undefined) => {
    for (const p of panels ?? []) {
      const panel = p as { targets?: { expr?: string }[]; panels?: unknown[] };
      for (const t of panel.targets ?? []) if (typeof t.expr === 'string') exprs.push(t.expr);
      visit(panel.panels);
    }
  };
  visit(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (typeof q === 'string') exprs.push(q);
  }
  return exprs;
}

export interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
}

export function loadRules(): RuleFile {
  return parseAllDocuments(readFileSync(repoPath('deploy/prometheus/rules.yaml'), 'utf8'))[0]!.toJS() as RuleFile;
}

// ---- processes and ports ----------------------------------------------------------------------

/** A port that was free a moment ago on 127.0.0.1 (for tools that cannot be told to use 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Sends SIGTERM, then SIGKILL if the process has not exited within `graceMs`. */
export async function stopProcess(child: ReturnType<typeof spawn>, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
