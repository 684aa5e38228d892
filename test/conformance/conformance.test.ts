/**
 * The conformance suite: every scenario in scenarios/ against the TypeScript client and the Go
 * client, through their adapters, over real WebSockets. Also runs the Go module's `go vet` and
 * `go test`, building everything once, offline, from Debian's packaged Go sources.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SyncClient, type SyncerType } from '../../clients/typescript/src/index.ts';
import { eventually } from '../support/eventually.ts';
import { startCattail } from '../support/harness.ts';
import { createTestPki } from '../support/certs.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';
import type { Scenario, Step } from './scenario.ts';
import { ScenarioServer } from './scenarioServer.ts';
import { GO_MODULE_DIR, go, prepareGoWorkspace, type GoWorkspace } from './goToolchain.ts';
import { loadScenarios } from './scenario.ts';
import { runScenario } from './runScenario.ts';

const scenarios = loadScenarios();
const node = process.execPath;
let ws: GoWorkspace | undefined;
let goSetupError: Error | undefined;

before(() => {
  try {
    ws = prepareGoWorkspace();
    go(ws, ['build', '-o', 'bin/', './cmd/conformance-adapter', './examples/agent']);
  } catch (err) {
    goSetupError = err as Error;
  }
});

after(() => {
  if (ws !== undefined) rmSync(ws.dir, { recursive: true, force: true });
});

function goWorkspace(): GoWorkspace {
  if (goSetupError !== undefined) throw goSetupError;
  return ws!;
}

describe('the Go client module', () => {
  test('is gofmt-clean and go vet finds nothing', () => {
    goWorkspace();
    const gofmt = spawnSync('gofmt', ['-l', GO_MODULE_DIR, path.join(import.meta.dirname, 'adapters', 'go')], { encoding: 'utf8' });
    assert.equal(gofmt.status, 0, gofmt.stderr);
    assert.equal(gofmt.stdout, '', `files gofmt would change:\n${gofmt.stdout}`);
    go(goWorkspace(), ['vet', './...']);
  });

  test('passes its own go test', () => {
    const output = go(goWorkspace(), ['test', '-count=1', './...']);
    assert.match(output, /^ok\s+github\.com\/cattail\/cattail\/clients\/go\s/m);
  });
});

const clients: { name: string; command: () => string[] }[] = [
  { name: 'TypeScript client', command: () => [node, path.join(import.meta.dirname, 'adapters', 'typescript.ts')] },
  { name: 'Go client', command: () => [path.join(goWorkspace().dir, 'bin', 'conformance-adapter')] },
];

for (const client of clients) {
  // Scenarios mostly wait (pauses, backoff, read timeouts), so a few run side by side; each has
  // its own server on its own port.
  describe(`the ${client.name} passes the conformance scenario`, { concurrency: 4 }, () => {
    for (const scenario of scenarios) {
      test(`${scenario.name}: ${scenario.description}`, async () => {
        const result = await runScenario(scenario, client.command());
        assert.deepEqual(result.problems, [], `events: ${JSON.stringify(result.events).slice(0, 3000)}`);
      });
    }
  });
}

/** Runs a command without blocking the event loop (the server under test runs in this process). */
function runAsync(command: string, args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** What the TypeScript client holds once in sync, as JSON (both sides decode independently). */
async function typescriptModel(url: string, syncerType: SyncerType): Promise<unknown> {
  let inSync!: () => void;
  const done = new Promise<void>((r) => { inSync = r; });
  const client = new SyncClient({
    servers: [url], syncerType, hostname: 'e2e-ts',
    handler: { onUpdates() {}, onStatus(s) { if (s === 'in-sync') inSync(); } },
  });
  client.start();
  await done;
  const entries = [...client.state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await client.close();
  return JSON.parse(JSON.stringify(Object.fromEntries(entries)));
}

describe('the Go example agent against the real server on the demo cluster', () => {
  const types: SyncerType[] = ['felix', 'bgp', 'tunnel-ip-allocation', 'node-status'];

  test('prints the same model as the TypeScript client for every syncer type with zstd negotiated, and follows live edits', async (t) => {
    const agent = path.join(goWorkspace().dir, 'bin', 'agent');
    const dir = mkdtempSync(path.join(tmpdir(), 'cattail-go-e2e-'));
    cpSync(path.join(import.meta.dirname, '..', '..', 'examples', 'cluster'), dir, { recursive: true });
    // The demo cluster has no CalicoNodeStatus; one gives the node-status syncer something to send.
    writeFileSync(path.join(dir, 'node-status.yaml'), 'apiVersion: projectcalico.org/v3\nkind: CalicoNodeStatus\nmetadata:\n  name: node-1-status\nspec:\n  node: node-1\n  classes: [Agent, BGP]\n  updatePeriodSeconds: 10\n');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startCattail({ dir, flags: ['--syncer-types', types.join(',')] });
    t.after(() => server.close());
    for (const syncerType of types) {
      const ts = await typescriptModel(server.syncUrl, syncerType);
      const r = await runAsync(agent, ['-server', server.syncUrl, '-syncer', syncerType, '-dump']);
      assert.equal(r.status, 0, `${syncerType}: agent exited ${r.status}: ${r.stderr}`);
      // The agent offers zstd by default and the server chooses it, so its kvs frames arrive compressed (§7.1).
      assert.match(r.stderr, /server answered .*"compression"="zstd"/, `${syncerType}: the serverHello did not choose zstd: ${r.stderr}`);
      const go = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.ok(Object.keys(go).length > 0, `${syncerType}: an empty model`);
      assert.deepEqual(go, ts, `${syncerType}: the Go agent's model differs from the TypeScript client's`);
    }

    // Follow mode: a new GlobalNetworkSet appears, then its removal is a deletion.
    const child = spawn(agent, ['-server', server.syncUrl, '-syncer', 'felix'], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => { child.kill(); });
    let log = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => { log += c; });
    await eventually(() => log.includes('status in-sync'), 'the following agent to be in sync', 60_000);
    writeFileSync(path.join(dir, 'go-live.yaml'), 'apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkSet\nmetadata:\n  name: go-live\n  labels: {role: test}\nspec:\n  nets: [192.0.2.0/24]\n');
    await eventually(() => log.includes('new /calico/v1/netset/go-live'), 'the agent to receive the new network set', 60_000);
    unlinkSync(path.join(dir, 'go-live.yaml'));
    await eventually(() => log.includes('deleted /calico/v1/netset/go-live'), 'the agent to receive its deletion', 60_000);
  });
});

describe('the Go client discovers replicas from EndpointSlices through the Kubernetes API', () => {
  test('with the service-account token, same-node first, ready endpoints only, and a shed client moves to a replica it has not tried', async (t) => {
    const agent = path.join(goWorkspace().dir, 'bin', 'agent');
    const api = new K8sEmulator();
    await api.start();
    t.after(() => api.stop());
    const session = (then: Step[]): Scenario => ({
      name: 'replica', description: '', client: {},
      connections: [{ instanceId: 'replica', steps: [
        { recv: 'hello' }, { serverHello: {} }, { kvs: [['/calico/v1/Ready', 'true', '1', 1]] },
        { snapshotEnd: { seq: 1, keys: 1 } }, { recv: 'ack' }, { status: 'in-sync' }, ...then,
      ] }],
      expect: { statuses: [], stopped: false, state: {}, connections: 1, errors: [] },
    });
    // The same-node replica sheds the client once it is in sync; its endpoint stays listed.
    const local = new ScenarioServer(session([{ pauseMs: 300 }, { close: [4021, 'server shutting down; connect to another replica'] }]));
    const remote = new ScenarioServer(session([]));
    const notReady = new ScenarioServer(session([]));
    t.after(() => Promise.all([local.close(), remote.close(), notReady.close()]));
    const slice = async (name: string, server: ScenarioServer, nodeName: string, ready: boolean, service = 'cattail'): Promise<void> => {
      api.create({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name, namespace: 'kube-system', labels: { 'kubernetes.io/service-name': service } },
        addressType: 'IPv4',
        ports: [{ name: 'cattail', port: Number(new URL(await server.listening()).port), protocol: 'TCP' }],
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready }, nodeName }],
      } as never);
    };
    await slice('cattail-remote', remote, 'node-b', true);
    await slice('cattail-local', local, 'node-a', true);
    await slice('cattail-not-ready', notReady, 'node-a', false);
    await slice('other-service', notReady, 'node-a', true, 'other');
    const dir = mkdtempSync(path.join(tmpdir(), 'cattail-go-k8s-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'token'), 'cattail-emulator-token\n');

    const child = spawn(agent, ['-k8s-service', 'cattail', '-k8s-api', api.url, '-k8s-token-file', path.join(dir, 'token'), '-node', 'node-a', '-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => { child.kill(); });
    let log = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => { log += c; });
    await eventually(() => local.allScriptsDone && remote.allScriptsDone, `both ready replicas to serve the agent in turn; log:\n${log}`, 60_000);
    await eventually(() => (log.match(/status in-sync/g) ?? []).length === 2, 'the agent to be in sync again after the move', 60_000);
    assert.equal(local.connections, 1, 'the same-node replica is tried first, once');
    assert.equal(remote.connections, 1);
    assert.equal(notReady.connections, 0, 'a not-ready endpoint (or another Service\'s) is never tried');
    assert.deepEqual([...local.failures, ...remote.failures], []);
    assert.ok(api.requests.some((r) => r.path.includes('/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices') && r.status === 200), 'listed with the token');
  });
});

describe('the Go client over TLS against the real server', () => {
  test('with mTLS it checks the server certificate CN or URI SAN instead of the address, and an unlisted client certificate is refused for good', async (t) => {
    const agent = path.join(goWorkspace().dir, 'bin', 'agent');
    const pki = createTestPki();
    t.after(() => rmSync(pki.dir, { recursive: true, force: true }));
    // No IP SAN: a host-name check against 127.0.0.1 would fail, so only the CN / URI SAN check passes it.
    const serverCert = pki.issue('server', { cn: 'cattail-server', uri: 'spiffe://cluster.local/ns/calico-system/sa/cattail' });
    const client = pki.issue('client', { cn: 'felix-agent' });
    const stranger = pki.issue('stranger', { cn: 'someone-else' });
    const server = await startCattail({
      dir: path.join(import.meta.dirname, '..', '..', 'examples', 'cluster'),
      flags: ['--tls-cert-file', serverCert.certFile, '--tls-key-file', serverCert.keyFile, '--tls-ca-file', pki.ca.certFile, '--tls-client-common-names', 'felix-agent'],
    });
    t.after(() => server.close());
    const url = server.syncUrl.replace('ws://', 'wss://');
    const tlsArgs = (pair: { certFile: string; keyFile: string }, check: string[]): string[] =>
      ['-server', url, '-ca', pki.ca.certFile, '-cert', pair.certFile, '-key', pair.keyFile, '-dump', '-dump-timeout', '60s', ...check];

    for (const check of [['-server-cn', 'cattail-server'], ['-server-uri-san', 'spiffe://cluster.local/ns/calico-system/sa/cattail']]) {
      const ok = await runAsync(agent, tlsArgs(client, check));
      assert.equal(ok.status, 0, `${check.join(' ')}: ${ok.stderr}`);
      // The agent printed at in-sync, so the server's model is complete by now (the file datastore is quiet).
      assert.equal(Object.keys(JSON.parse(ok.stdout) as object).length, server.model('felix').size);
    }
    const wrongName = await runAsync(agent, tlsArgs(client, ['-server-cn', 'not-the-server', '-dump-timeout', '5s']));
    assert.equal(wrongName.status, 5, wrongName.stderr);
    assert.match(wrongName.stderr, /TLS_NAME_MISMATCH.*identity mismatch/);
    const refused = await runAsync(agent, tlsArgs(stranger, ['-server-cn', 'cattail-server']));
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /REFUSED .*\(403\).*not on the allow-list/);
  });
});
