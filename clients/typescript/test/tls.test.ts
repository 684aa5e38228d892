import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SyncClient, type CattailClientError, type TlsOptions } from '../src/index.ts';
import { loadTls } from '../src/tls.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, waitFor } from './support/recordingHost.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tls');
const file = (name: string): string => path.join(dir, name);
const SERVER_URI = 'spiffe://cluster.local/ns/kube-system/sa/cattail';

/** A fake server behind mTLS: it requires a client certificate signed by the test CA. */
async function tlsServer(): Promise<FakeServer> {
  const https = createServer({
    cert: readFileSync(file('server.crt')), key: readFileSync(file('server.key')),
    ca: readFileSync(file('ca.crt')), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
  });
  return FakeServer.start({ server: https });
}

/** Runs a client until it is in sync or reports an error; returns which happened. */
async function attempt(url: string, tls: TlsOptions): Promise<{ host: RecordingHost; error: CattailClientError | undefined }> {
  const host = new RecordingHost();
  const client = new SyncClient({ servers: [url], handler: host, tls, backoff: { initialDelayMs: 50, maxDelayMs: 200 } });
  let error: CattailClientError | undefined;
  client.on('error', (e) => { error ??= e; });
  client.start();
  try {
    await waitFor(() => host.lastStatus === 'in-sync' || error !== undefined, 'in-sync or an error');
  } finally {
    await client.close();
  }
  return { host, error };
}

const clientCert = { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') };

describe('TLS towards the server', () => {
  it('connects over mTLS when the server certificate carries the expected Common Name', async (t) => {
    const server = await tlsServer();
    t.after(() => server.close());
    server.set('k', 1);
    const { host, error } = await attempt(server.url, { ...clientCert, serverCommonName: 'cattail-server' });
    assert.equal(error, undefined);
    assert.deepEqual([...host.state], [['k', 1]]);
  });

  it('accepts a matching URI SAN, and either name when both are configured', async (t) => {
    const server = await tlsServer();
    t.after(() => server.close());
    assert.equal((await attempt(server.url, { ...clientCert, serverUriSan: SERVER_URI })).error, undefined);
    assert.equal((await attempt(server.url, { ...clientCert, serverCommonName: 'wrong', serverUriSan: SERVER_URI })).error, undefined);
    assert.equal((await attempt(server.url, { ...clientCert, serverCommonName: 'cattail-server', serverUriSan: 'spiffe://wrong' })).error, undefined);
  });

  it('refuses a server whose certificate names someone else, saying what it expected and found', async (t) => {
    const server = await tlsServer();
    t.after(() => server.close());
    const { error } = await attempt(server.url, { ...clientCert, serverCommonName: 'typha', serverUriSan: 'spiffe://other' });
    assert.equal(error?.code, 'TLS_NAME_MISMATCH');
    assert.match(error?.message ?? '', /wanted CN=typha or URI SAN spiffe:\/\/other/);
    assert.match(error?.message ?? '', /CN=\[cattail-server\]/);
    assert.ok(error?.message.includes(SERVER_URI));
  });

  it('refuses a server signed by a different CA with a clear message', async (t) => {
    const server = await tlsServer();
    t.after(() => server.close());
    const { error } = await attempt(server.url, { ...clientCert, caFile: file('other-ca.crt'), serverCommonName: 'cattail-server' });
    assert.equal(error?.code, 'TLS_UNTRUSTED');
    assert.match(error?.message ?? '', /not trusted/);
  });

  it('reports unreadable certificate files as a TLS configuration error', async () => {
    const { error } = await attempt('wss://127.0.0.1:1/sync', { ...clientCert, caFile: file('missing.crt') });
    assert.equal(error?.code, 'TLS_CONFIG');
    assert.match(error?.message ?? '', /missing\.crt/);
  });

  it('requires TLS 1.2 or newer', async () => {
    const options = await loadTls({ caFile: file('ca.crt') });
    assert.equal(options.minVersion, 'TLSv1.2');
  });

  it('rejects a certificate without its key at construction', () => {
    assert.throws(
      () => new SyncClient({ servers: ['h:1'], handler: new RecordingHost(), tls: { certFile: file('client.crt') } }),
      /needs its key/,
    );
  });
});
