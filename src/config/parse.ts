import { type Config, envName, flagName, OPTIONS, type OptionName, type OptionSpec } from './options.ts';

/** Start-up configuration was invalid; `problems` lists every problem, each naming its flag or variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `help: true`: argv asked to be shown something (`--help`, `--version`) instead of a run. */
export type ParseResult = { readonly help: true; readonly show: 'help' | 'version' } | { readonly help: false; readonly config: Config };

const NAMES = Object.keys(OPTIONS) as OptionName[];
const BY_FLAG = new Map(NAMES.map((n) => [flagName(n), n]));

/**
 * Pure: turns argv (without node and script) and an environment into a validated, frozen
 * Config, or throws ConfigError listing every problem at once. Flags win over variables, which
 * win over defaults.
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const problems: string[] = [];
  const raw = new Map<OptionName, { text: string; source: string }>();

  for (const name of NAMES) {
    const text = env[envName(name)];
    if (text !== undefined && text !== '') raw.set(name, { text, source: envName(name) });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { help: true, show: 'help' };
    if (arg === '--version' || arg === '-v') return { help: true, show: 'version' };
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const name = BY_FLAG.get(flag);
    if (name === undefined) {
      problems.push(`unknown argument ${JSON.stringify(arg)} (see --help)`);
      continue;
    }
    const text = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (text === undefined) problems.push(`${flag} needs a value`);
    else raw.set(name, { text, source: flag });
  }

  const values: Record<string, unknown> = {};
  for (const name of NAMES) {
    const spec: OptionSpec = OPTIONS[name];
    const given = raw.get(name);
    if (given === undefined) {
      values[name] = spec.default;
      continue;
    }
    const parsed = parseValue(spec, given.text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      problems.push(`${given.source}=${JSON.stringify(given.text)}: ${parsed.error}`);
      // Cross-checks below still run, on the default, so one bad value does not hide others.
      values[name] = spec.default;
    } else values[name] = parsed;
  }
  problems.push(...crossCheck(values as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  for (const v of Object.values(values)) if (Array.isArray(v)) Object.freeze(v);
  return { help: false, config: Object.freeze(values) as Config };
}

type Parsed = number | string | boolean | readonly string[] | { error: string };

function parseValue(spec: OptionSpec, text: string): Parsed {
  const t = spec.type;
  switch (t.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(text.trim())) return { error: 'must be an integer' };
      const n = Number(text);
      if (n < t.min || n > t.max) return { error: `must be between ${t.min} and ${t.max}` };
      return n;
    }
    case 'duration': {
      const ms = parseDurationMs(text);
      if (ms === undefined) return { error: 'must be a duration such as 500ms, 10s, 5m or a number of milliseconds' };
      // Node runs a timer longer than this after 1 ms: `--handshake-timeout-ms 1000h` cut every connection at once.
      return ms > MAX_DURATION_MS ? { error: `must be at most ${MAX_DURATION_MS}ms (about 24 days)` } : ms;
    }
    case 'enum':
      return t.values.includes(text) ? text : { error: `must be one of ${t.values.join(', ')}` };
    case 'list': {
      const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const bad = t.values === undefined ? [] : items.filter((i) => !t.values!.includes(i));
      return bad.length > 0 ? { error: `unknown ${bad.join(', ')}; allowed: ${t.values!.join(', ')}` } : [...new Set(items)];
    }
    case 'bool':
      return text === 'true' ? true : text === 'false' ? false : { error: 'must be true or false' };
    case 'string':
      return text;
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest timer Node can run (a signed 32-bit number of milliseconds). */
const MAX_DURATION_MS = 2_147_483_647;

/** `250ms`, `10s`, `1.5m`, `2h`, or a bare number of milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!);
}

function crossCheck(c: Config): string[] {
  const problems: string[] = [];
  const f = flagName;
  if (c.syncerTypes.length === 0) problems.push(`${f('syncerTypes')}: at least one syncer type must be served`);
  if (c.maxConnectionsLowerLimit > c.maxConnectionsUpperLimit) {
    problems.push(`${f('maxConnectionsLowerLimit')} (${c.maxConnectionsLowerLimit}) must not exceed ${f('maxConnectionsUpperLimit')} (${c.maxConnectionsUpperLimit})`);
  }
  if (c.pongTimeoutMs <= 2 * c.pingIntervalMs) {
    problems.push(`${f('pongTimeoutMs')} (${c.pongTimeoutMs}) must be more than twice ${f('pingIntervalMs')} (${c.pingIntervalMs}), or healthy clients would be cut between pings`);
  }
  for (const name of ['pingIntervalMs', 'handshakeTimeoutMs', 'writeTimeoutMs', 'connectionDropIntervalMs', 'k8sPollIntervalMs'] as const) {
    if (c[name] <= 0) problems.push(`${f(name)} must be greater than 0`);
  }
  if (c.resumeRetentionBytes > c.maxBacklogBytes) {
    problems.push(`${f('resumeRetentionBytes')} (${c.resumeRetentionBytes}) must not exceed ${f('maxBacklogBytes')} (${c.maxBacklogBytes}): a resumed client would be closed (4010) for the deltas it was resumed to receive`);
  }
  if (c.datastore === 'file' && c.fileDir === '') problems.push(`${f('fileDir')} must name a directory when ${f('datastore')} is file`);
  if (c.datastore === 'etcdv3') {
    if (c.etcdEndpoints.length === 0) problems.push(`${f('etcdEndpoints')} must name at least one etcd member when ${f('datastore')} is etcdv3`);
    for (const e of c.etcdEndpoints) {
      if (!/^https?:\/\/[^/]+\/?$/.test(e)) problems.push(`${f('etcdEndpoints')}: ${e} must be http://host:port or https://host:port`);
    }
    if ((c.etcdCertFile === '') !== (c.etcdKeyFile === '')) problems.push(`${f('etcdCertFile')} and ${f('etcdKeyFile')} must be set together`);
    if (c.etcdPassword !== '' && c.etcdUsername === '') problems.push(`${f('etcdPassword')} needs ${f('etcdUsername')}`);
    const tlsFiles = c.etcdCaFile !== '' || c.etcdCertFile !== '';
    if (tlsFiles && c.etcdEndpoints.some((e) => e.startsWith('http://'))) {
      problems.push(`${f('etcdCaFile')} / ${f('etcdCertFile')} need https:// ${f('etcdEndpoints')} (a certificate is never sent over plain HTTP)`);
    }
  }
  if (c.connectionRebalancing === 'kubernetes' && c.datastore !== 'kubernetes') {
    problems.push(`${f('connectionRebalancing')}=kubernetes needs ${f('datastore')}=kubernetes (it counts nodes from the felix syncer)`);
  }
  const tls = [c.tlsCertFile, c.tlsKeyFile, c.tlsCaFile];
  if (tls.some((v) => v !== '') && tls.some((v) => v === '')) {
    problems.push(`${f('tlsCertFile')}, ${f('tlsKeyFile')} and ${f('tlsCaFile')} must be set together`);
  }
  if (c.tlsCertFile !== '' && c.tlsClientCommonNames.length === 0 && c.tlsClientUriSans.length === 0) {
    problems.push(`with TLS, at least one of ${f('tlsClientCommonNames')} or ${f('tlsClientUriSans')} must be set, or any certificate from the CA would be accepted`);
  }
  return problems;
}

/** The effective config for the start-up log line, with secrets masked. */
export function redactConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of NAMES) {
    const spec: OptionSpec = OPTIONS[name];
    out[name] = spec.secret === true && c[name] !== '' ? '<set>' : c[name];
  }
  return out;
}

/**
 * The areas `--help` groups options into, in order: an option belongs to the first area that
 * lists its name or one of its name's prefixes. An option in none lands in "Other" (tested
 * against, so a new option gets an area).
 */
export const HELP_AREAS: readonly { readonly title: string; readonly names: readonly string[]; readonly prefixes?: readonly string[] }[] = [
  { title: 'Datastore', names: ['datastore', 'kubeconfig', 'syncerTypes', 'staleUpstreamMs'], prefixes: ['file', 'etcd'] },
  { title: 'Listeners, ops port and logging', names: ['logLevel', 'statusAccess'], prefixes: ['sync', 'ops'] },
  { title: 'Breadcrumbs and snapshots', names: ['maxBatchSize', 'maxMessageKvs', 'maxValueBytes'], prefixes: ['snapshot'] },
  { title: 'Catch-up (resume and digest)', names: ['digestCatchup'], prefixes: ['resumeRetention'] },
  {
    title: 'Sessions (timeouts, frame limits, fall-behind)',
    names: ['pingIntervalMs', 'pongTimeoutMs', 'handshakeTimeoutMs', 'writeTimeoutMs', 'sendHighWaterMarkBytes', 'maxFallBehindMs', 'newClientGracePeriodMs', 'maxBacklogBytes'],
    prefixes: ['maxInbound', 'inbound'],
  },
  { title: 'Connection limit and rebalancing', names: ['connectionDropIntervalMs', 'connectionRebalancing', 'handshakeFailureLogIntervalMs'], prefixes: ['maxConnections', 'k8s'] },
  { title: 'Shutdown', names: [], prefixes: ['shutdown'] },
  { title: 'TLS on the sync port', names: [], prefixes: ['tls'] },
];

export function helpAreaOf(name: string): string {
  const area = HELP_AREAS.find((a) => a.names.includes(name) || (a.prefixes ?? []).some((p) => name.startsWith(p)));
  return area?.title ?? 'Other';
}

function valueHint(spec: OptionSpec): string {
  const t = spec.type;
  if (t.kind === 'enum') return t.values.join('|');
  if (t.kind === 'bool') return 'true|false';
  if (t.kind === 'list') return t.values === undefined ? 'a,b,...' : `comma-separated: ${t.values.join(',')}`;
  return t.kind;
}

/** `--help` text: every option, grouped by area, with its flag, variable, choices and default. */
export function helpText(): string {
  const lines = [
    'Usage: cattail [options]        (from a checkout: npm run cattail -- [options], on the pinned Node)',
    '       cattail --help | --version',
    '',
    'Every option can also be set with its CATTAIL_* variable; flags win. Durations take 500ms, 10s,',
    '5m or 1h (at most 2147483647ms, about 24 days); bare numbers are milliseconds.',
  ];
  const titles = [...HELP_AREAS.map((a) => a.title), 'Other'];
  for (const title of titles) {
    const names = NAMES.filter((n) => helpAreaOf(n) === title);
    if (names.length === 0) continue;
    lines.push('', `${title}:`);
    for (const name of names) {
      const spec: OptionSpec = OPTIONS[name];
      const def = Array.isArray(spec.default) ? spec.default.join(',') : `${String(spec.default)}${spec.type.kind === 'duration' ? 'ms' : ''}`;
      lines.push(`  ${flagName(name)} <${valueHint(spec)}>  (${envName(name)})`);
      lines.push(`      ${spec.help} Default: ${def === '' ? '(empty)' : def}`);
    }
  }
  return lines.join('\n');
}
