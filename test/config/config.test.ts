import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, HELP_AREAS, helpAreaOf, helpText, OPTIONS, parseConfig, parseDurationMs, redactConfig } from '../../src/config/index.ts';

function parse(argv: string[], env: Record<string, string> = {}) {
  const r = parseConfig(argv, env);
  assert.equal(r.help, false);
  return (r as Extract<typeof r, { help: false }>).config;
}

function problems(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  test('with no flags or variables every option has its documented default', () => {
    const c = parse([]);
    assert.equal(c.syncPort, 5473);
    assert.equal(c.opsPort, 9098);
    assert.equal(c.maxBatchSize, 100);
    assert.equal(c.maxMessageKvs, 100);
    assert.equal(c.pingIntervalMs, 10_000);
    assert.equal(c.pongTimeoutMs, 60_000);
    assert.equal(c.handshakeTimeoutMs, 10_000);
    assert.equal(c.writeTimeoutMs, 120_000);
    assert.equal(c.maxFallBehindMs, 300_000);
    assert.equal(c.newClientGracePeriodMs, 300_000);
    assert.equal(c.connectionDropIntervalMs, 1000);
    assert.equal(c.shutdownTimeoutMs, 300_000);
    assert.equal(c.maxConnectionsUpperLimit, 10_000);
    assert.equal(c.maxConnectionsLowerLimit, 400);
    assert.equal(c.k8sPollIntervalMs, 30_000);
    assert.deepEqual(c.syncerTypes, ['felix', 'bgp', 'tunnel-ip-allocation']);
    for (const name of Object.keys(OPTIONS)) assert.ok(name in c, name);
  });

  test('the config object is frozen', () => {
    const c = parse([]);
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.syncerTypes));
  });

  test('flags win over CATTAIL_ variables, which win over defaults', () => {
    const c = parse(['--sync-port', '6000', '--ping-interval-ms=5s'], { CATTAIL_SYNC_PORT: '7000', CATTAIL_OPS_PORT: '9100', CATTAIL_LOG_LEVEL: 'debug' });
    assert.equal(c.syncPort, 6000);
    assert.equal(c.opsPort, 9100);
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.pingIntervalMs, 5000);
  });

  test('durations accept units and bare milliseconds', () => {
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs('10s'), 10_000);
    assert.equal(parseDurationMs('1.5m'), 90_000);
    assert.equal(parseDurationMs('2h'), 7_200_000);
    assert.equal(parseDurationMs('42'), 42);
    assert.equal(parseDurationMs('ten seconds'), undefined);
  });

  test('a duration longer than a Node timer can run (2^31 - 1 ms, about 24 days) is refused, not run after 1 ms', () => {
    assert.equal(parse(['--write-timeout-ms', '2147483647']).writeTimeoutMs, 2_147_483_647);
    const text = problems(['--handshake-timeout-ms', '1000h'], { CATTAIL_SHUTDOWN_TIMEOUT_MS: '2147483648' }).join('\n');
    assert.match(text, /--handshake-timeout-ms="1000h": must be at most 2147483647ms/);
    assert.match(text, /CATTAIL_SHUTDOWN_TIMEOUT_MS="2147483648": must be at most 2147483647ms/);
  });

  test('every problem is reported at once, each naming its flag or variable', () => {
    const p = problems(['--sync-port', 'abc', '--bogus', '--syncer-types', 'felix,nope', '--max-connections-lower-limit', '20000'], {
      CATTAIL_LOG_LEVEL: 'loud', CATTAIL_WRITE_TIMEOUT_MS: 'soon',
    });
    const text = p.join('\n');
    assert.match(text, /--sync-port="abc": must be an integer/);
    assert.match(text, /unknown argument "--bogus"/);
    assert.match(text, /--syncer-types="felix,nope": unknown nope/);
    assert.match(text, /CATTAIL_LOG_LEVEL="loud": must be one of/);
    assert.match(text, /CATTAIL_WRITE_TIMEOUT_MS="soon": must be a duration/);
    assert.match(text, /--max-connections-lower-limit \(20000\) must not exceed --max-connections-upper-limit/);
    assert.equal(p.length, 6);
  });

  test('TLS settings must come together and with a client name allow-list', () => {
    assert.match(problems(['--tls-cert-file', 'a.pem']).join('\n'), /must be set together/);
    assert.match(problems(['--tls-cert-file', 'a', '--tls-key-file', 'b', '--tls-ca-file', 'c']).join('\n'), /at least one of --tls-client-common-names or --tls-client-uri-sans/);
    const c = parse(['--tls-cert-file', 'a', '--tls-key-file', 'b', '--tls-ca-file', 'c', '--tls-client-common-names', 'typha-client,felix']);
    assert.deepEqual(c.tlsClientCommonNames, ['typha-client', 'felix']);
  });

  test('catch-up defaults to a 300 s, 32 MiB resume retention and digest catch-up on', () => {
    const c = parse([]);
    assert.equal(c.resumeRetentionMs, 300_000);
    assert.equal(c.resumeRetentionBytes, 32 * 1024 * 1024);
    assert.equal(c.digestCatchup, true);
  });

  test('catch-up options are set by flags and by their CATTAIL_ variables, and 0 retention is allowed (resume off)', () => {
    const c = parse(['--resume-retention-ms', '2m', '--digest-catchup', 'false'], { CATTAIL_RESUME_RETENTION_BYTES: '0', CATTAIL_DIGEST_CATCHUP: 'true' });
    assert.equal(c.resumeRetentionMs, 120_000);
    assert.equal(c.resumeRetentionBytes, 0);
    assert.equal(c.digestCatchup, false);
    assert.equal(parse([], { CATTAIL_DIGEST_CATCHUP: 'false', CATTAIL_RESUME_RETENTION_MS: '0' }).digestCatchup, false);
    assert.equal(parse(['--resume-retention-ms=0']).resumeRetentionMs, 0);
  });

  test('--digest-catchup takes only true or false, and its help line shows both', () => {
    assert.match(problems(['--digest-catchup', 'yes']).join('\n'), /--digest-catchup="yes": must be true or false/);
    assert.match(problems([], { CATTAIL_DIGEST_CATCHUP: '1' }).join('\n'), /CATTAIL_DIGEST_CATCHUP="1": must be true or false/);
    assert.match(helpText(), /--digest-catchup <true\|false> {2}\(CATTAIL_DIGEST_CATCHUP\)/);
  });

  test('a resume retention larger than the backlog bound is rejected, naming both flags', () => {
    const text = problems(['--resume-retention-bytes', String(65 * 1024 * 1024)]).join('\n');
    assert.match(text, /--resume-retention-bytes \(68157440\) must not exceed --max-backlog-bytes \(67108864\)/);
    assert.match(problems(['--max-backlog-bytes', String(16 * 1024 * 1024)]).join('\n'), /--resume-retention-bytes \(33554432\) must not exceed --max-backlog-bytes \(16777216\)/);
    assert.equal(parse(['--max-backlog-bytes', String(16 * 1024 * 1024), '--resume-retention-bytes', String(16 * 1024 * 1024)]).resumeRetentionBytes, 16 * 1024 * 1024);
  });

  test('a pong timeout not above twice the ping interval is rejected', () => {
    assert.match(problems(['--pong-timeout-ms', '15s']).join('\n'), /--pong-timeout-ms \(15000\) must be more than twice --ping-interval-ms/);
  });

  test('--help lists every option with its variable and default', () => {
    assert.deepEqual(parseConfig(['--help'], {}), { help: true, show: 'help' });
    const text = helpText();
    assert.match(text, /--sync-port <int> {2}\(CATTAIL_SYNC_PORT\)/);
    assert.match(text, /Default: 5473/);
    assert.equal((text.match(/^ {2}--/gm) ?? []).length, Object.keys(OPTIONS).length);
  });

  test('--version and -v ask for the version, before any other argument is judged', () => {
    assert.deepEqual(parseConfig(['--version'], {}), { help: true, show: 'version' });
    assert.deepEqual(parseConfig(['-v', '--no-such-flag'], {}), { help: true, show: 'version' });
  });

  test('--help groups every option under an area and shows the choices of every enum and list', () => {
    const text = helpText();
    for (const name of Object.keys(OPTIONS)) assert.notEqual(helpAreaOf(name), 'Other', `${name} has an area in HELP_AREAS`);
    const headings = [...text.matchAll(/^(\S[^:\n]*):$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, HELP_AREAS.map((a) => a.title), 'one heading per area, in order');
    for (const [name, spec] of Object.entries(OPTIONS) as [string, (typeof OPTIONS)[keyof typeof OPTIONS]][]) {
      const t = spec.type as { kind: string; values?: readonly string[] };
      if (t.values === undefined) continue;
      const line = text.split('\n').find((l) => l.startsWith(`  --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} `)) ?? '';
      for (const v of t.values) assert.ok(line.includes(v), `${name}: choice ${v} is listed (${line})`);
    }
    assert.match(text, /--datastore <file\|kubernetes\|etcdv3>/);
    assert.match(text, /--log-level <trace\|debug\|info\|warn\|error\|fatal>/);
  });

  test('the logged config masks the key file', () => {
    const c = parse(['--tls-cert-file', 'a', '--tls-key-file', '/secret/key.pem', '--tls-ca-file', 'c', '--tls-client-uri-sans', 'spiffe://x']);
    assert.equal(redactConfig(c).tlsKeyFile, '<set>');
  });
});
