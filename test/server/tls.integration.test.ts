import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { silentLogger } from '../../src/logger.ts';
import { Codec } from '../../src/protocol/index.ts';
import { createTlsSettings } from '../../src/server/index.ts';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { type CertPair, createTestPki, type TestPki } from '../support/certs.ts';

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
      resolve(`http ${res.statusCode}`);
      ws.terminate();
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

    test('a certificate with a name not on the allow-list is refused with 403', async () => {
      assert.equal(await tryConnect(h, pki, pki.issue('wrong', { cn: 'intruder', uri: 'spiffe://cluster.local/ns/default/sa/intruder' })), 'http 403');
    });

    test('a certificate from an untrusted CA is rejected in the TLS handshake', async () => {
      const result = await tryConnect(h, pki, pki.issue('untrusted', { cn: 'felix-agent', uri: 'spiffe://cluster.local/ns/calico-system/sa/calico-node', by: 'otherCa' }));
      assert.match(result, /^error: /);
    });

    test('a client without a certificate and a plain-TCP WebSocket client are both rejected', async () => {
      assert.match(await tryConnect(h, pki, undefined), /^error: /);
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
