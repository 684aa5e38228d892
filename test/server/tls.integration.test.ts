import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { silentLogger } from '../../src/logger.ts';
import { CloseCode, Codec } from '../../src/protocol/index.ts';
import { createTlsSettings } from '../../src/server/index.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { type CertPair, createTestPki, type TestPki } from '../support/certs.ts';
import { captureLogs } from '../support/logCapture.ts';

const pool = 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}\n';

/** Connects over wss with a client certificate and resolves with how it ended: 'synced', or the error/close. */
async function tryConnect(h: Harness, pki: TestPki, client: CertPair | undefined, url = h.syncUrl.replace('ws://', 'wss://')): Promise<string> {
  const codec = new Codec();
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { ca: pki.ca.cert, ...(client !== undefined ? { cert: client.cert, key: client.key } : {}), perMessageDeflate: false });
    ws.on('open', () => ws.send(codec.encode({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'tls-test', clientVersion: '', clientInfo: '', clientConnId: '', capabilities: {} })));
    ws.on('message', (d) => {
      if (codec.decodeServer(d as Buffer).type === 'snapshotEnd') {
        ws.close();
        resolve('synced');
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        resolve(`http ${res.statusCode}: ${body.trim()}`);
        ws.terminate();
      });
    });
    ws.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

const matrix = [
  { name: 'Common Name only', flags: ['--tls-client-common-names', 'felix-agent'] },
  { name: 'URI SAN only', flags: ['--tls-client-uri-sans', 'spiffe://cluster.local/ns/calico-system/sa/calico-node'] },
  { name: 'both (either matches)', flags: ['--tls-client-common-names', 'felix-agent', '--tls-client-uri-sans', 'spiffe://cluster.local/ns/calico-system/sa/calico-node'] },
];

for (const m of matrix) {
  describe(`TLS with an allow-list of ${m.name}`, () => {
    let pki: TestPki;
    let h: Harness;
    before(async () => {
      pki = createTestPki();
      const server = pki.issue('server', { cn: 'cattail', ip: '127.0.0.1' });
      h = await startCattail({ files: { 'p.yaml': pool }, flags: ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-file', pki.ca.certFile, '--handshake-timeout-ms', '700', ...m.flags] });
      await eventually(() => h.app.readiness().ready, 'ready');
    });
    after(async () => h.close());

    test('a certificate with the right name from the trusted CA is accepted', async () => {
      const cn = m.flags.includes('--tls-client-common-names');
      const good = cn ? pki.issue('good-cn', { cn: 'felix-agent' }) : pki.issue('good-uri', { cn: 'whatever', uri: 'spiffe://cluster.local/ns/calico-system/sa/calico-node' });
      assert.equal(await tryConnect(h, pki, good), 'synced');
    });

    test('a certificate with a name not on the allow-list is refused with 403 and the names it carries', async () => {
      const result = await tryConnect(h, pki, pki.issue('wrong', { cn: 'intruder', uri: 'spiffe://cluster.local/ns/default/sa/intruder' }));
      assert.match(result, /^http 403: client certificate \(CN \["intruder"\].*is not on the allow-list$/);
    });

    test('a certificate from an untrusted CA is refused with 403 saying it is not trusted, not a hung-up socket', async () => {
      const result = await tryConnect(h, pki, pki.issue('untrusted', { cn: 'felix-agent', uri: 'spiffe://cluster.local/ns/calico-system/sa/calico-node', by: 'otherCa' }));
      assert.match(result, /^http 403: client certificate not trusted \(/);
    });

    test('a client without a certificate is refused with 403, and a plain-TCP WebSocket client gets a connection error', async () => {
      assert.equal(await tryConnect(h, pki, undefined), 'http 403: no client certificate');
      assert.match(await tryConnect(h, pki, undefined, h.syncUrl), /^error: /);
    });

    test('a half-open TLS ClientHello is cut at the handshake timeout while other clients connect normally', async () => {
      const sock = net.connect(h.app.syncAddress.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      const started = Date.now();
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      sock.on('error', () => {});
      const good = m.flags.includes('--tls-client-common-names') ? pki.issue('other-good', { cn: 'felix-agent' }) : pki.issue('other-good', { cn: 'x', uri: 'spiffe://cluster.local/ns/calico-system/sa/calico-node' });
      assert.equal(await tryConnect(h, pki, good), 'synced', 'a healthy client connects while the stalled handshake is pending');
      await closed;
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 500 && elapsed < 5000, `cut after ${elapsed} ms`);
    });
  });
}

describe('the handshake budget with TLS', () => {
  test('one budget runs from TCP accept: a client that stalls in TLS for most of it and says hello late is cut at the budget, not twice it', { timeout: 30_000 }, async () => {
    const pki = createTestPki();
    const server = pki.issue('server', { cn: 'cattail', ip: '127.0.0.1' });
    const client = pki.issue('client', { cn: 'felix-agent' });
    const budget = 2000;
    const h = await startCattail({ files: { 'p.yaml': pool }, flags: ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-file', pki.ca.certFile, '--tls-client-common-names', 'felix-agent', '--handshake-timeout-ms', String(budget)] });
    try {
      const started = Date.now();
      const tcp = net.connect(h.app.syncAddress.port, '127.0.0.1');
      await new Promise((r) => tcp.once('connect', r));
      // Stall before TLS for 70 % of the budget, then handshake, upgrade, and say hello at 130 %.
      await new Promise((r) => setTimeout(r, budget * 0.7));
      const ws = new WebSocket(`wss://127.0.0.1:${h.app.syncAddress.port}/sync`, {
        ca: pki.ca.cert, cert: client.cert, key: client.key, perMessageDeflate: false,
        // TLS over the TCP connection opened (and left silent) above; identity is not this test's subject.
        createConnection: () => tls.connect({ socket: tcp, ca: pki.ca.cert, cert: client.cert, key: client.key, checkServerIdentity: () => undefined }),
      } as WebSocket.ClientOptions);
      const codec = new Codec();
      const frames: string[] = [];
      ws.on('message', (d) => frames.push(codec.decodeServer(d as Buffer).type));
      let failure = '';
      ws.on('error', (err) => { failure = err.message; });
      await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('close', () => reject(new Error(`closed before the upgrade: ${failure}`))); });
      const openedAt = Date.now() - started;
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      setTimeout(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(codec.encode({ type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'late', clientVersion: '', clientInfo: '', clientConnId: '', capabilities: {} }));
      }, budget * 1.3 - (Date.now() - started));
      const code = await closed;
      const elapsed = Date.now() - started;
      assert.ok(openedAt < budget, `the upgrade completed at ${openedAt} ms, inside the budget`);
      assert.equal(code, CloseCode.handshakeTimeout);
      assert.ok(elapsed >= budget * 0.9 && elapsed < budget * 1.3, `cut after ${elapsed} ms; the budget is ${budget} ms`);
      assert.deepEqual(frames, [], 'the late hello was never answered');
    } finally {
      await h.close();
    }
  });
});

describe('failed TLS handshakes', () => {
  test('a flood of them is logged as one line and then summaries, and counted in a metric', { timeout: 30_000 }, async () => {
    const pki = createTestPki();
    const server = pki.issue('server', { cn: 'cattail', ip: '127.0.0.1' });
    const logs = captureLogs();
    const h = await startCattail({ logger: logs.logger, files: { 'p.yaml': pool }, flags: ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-file', pki.ca.certFile, '--tls-client-common-names', 'felix-agent', '--handshake-failure-log-interval-ms', '500'] });
    try {
      const failures = async () => (await h.app.metrics.tlsHandshakeFailures.get()).values.reduce((s, v) => s + v.value, 0);
      assert.equal(await failures(), 0);
      // Plain HTTP to the TLS port: each is a TLS handshake failure.
      for (let i = 0; i < 200; i++) {
        const s = net.connect(h.app.syncAddress.port, '127.0.0.1');
        s.on('error', () => {});
        s.on('connect', () => s.write('GET /sync HTTP/1.1\r\nHost: x\r\n\r\n'));
      }
      await eventually(async () => (await failures()) === 200, '200 failures counted', 20_000);
      await new Promise((r) => setTimeout(r, 1200));
      const tlsLines = logs.lines.filter((l) => /TLS handshake failed|connection attempts rejected/.test(String(l.msg)));
      assert.ok(tlsLines.length >= 2 && tlsLines.length <= 6, `${tlsLines.length} lines for 200 failures`);
      assert.equal(tlsLines[0]!.msg, 'TLS handshake failed');
      assert.match(String(tlsLines[0]!.peer), /^127\.0\.0\.1:\d+$/);
      assert.equal(tlsLines.slice(1).reduce((s, l) => s + ((l.counts as Record<string, number>)['tls-handshake'] ?? 0), 0), 199);
    } finally {
      await h.close();
    }
  });
});

describe('TLS certificate rotation', () => {
  test('a rewritten server certificate is served to new connections without a restart', { timeout: 20_000 }, async () => {
    const pki = createTestPki();
    const first = pki.issue('first', { cn: 'cattail-old', ip: '127.0.0.1' });
    const second = pki.issue('second', { cn: 'cattail-new', ip: '127.0.0.1' });
    const client = pki.issue('client', { cn: 'felix-agent' });
    const live = { certFile: `${pki.dir}/live.crt`, keyFile: `${pki.dir}/live.key` };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    const settings = createTlsSettings({ ...live, caFile: pki.ca.certFile, allowedCommonNames: ['felix-agent'], allowedUriSans: [], logger: silentLogger(), reloadCheckMs: 50 });
    const server = settings.createServer(1000);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const peerCn = () => new Promise<string>((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca: pki.ca.cert, cert: client.cert, key: client.key }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.on('error', reject);
    });
    try {
      assert.equal(await peerCn(), 'cattail-old');
      copyFileSync(second.keyFile, live.keyFile);
      copyFileSync(second.certFile, live.certFile);
      await eventually(async () => (await peerCn()) === 'cattail-new', 'the new certificate to be served', 10_000);
    } finally {
      settings.close();
      server.close();
    }
  });
});
