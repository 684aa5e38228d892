/**
 * What the client and its CLI make of the real server's refusals: a client certificate the
 * server does not accept (wrong name, untrusted CA) is a refusal with the server's reason and
 * exit code 2, not a hung-up socket retried forever.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTestPki } from '../../../test/support/certs.ts';
import { startCattail } from '../../../test/support/harness.ts';
import { EXIT, runCli } from '../src/cli.ts';

const pool = 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}\n';

function capture(): { err: string[]; io: Parameters<typeof runCli>[1] } {
  const err: string[] = [];
  return { err, io: { stdout: () => undefined, stderr: (l) => err.push(l), env: {} } };
}

describe('refusals from the real server, as the CLI reports them', () => {
  it('a client certificate with the wrong name, or from an untrusted CA, exits 2 with the server\'s reason; the right one dumps', { timeout: 60_000 }, async (t) => {
    const pki = createTestPki();
    const server = pki.issue('server', { cn: 'cattail', ip: '127.0.0.1' });
    const h = await startCattail({ files: { 'p.yaml': pool }, flags: ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-file', pki.ca.certFile, '--tls-client-common-names', 'felix-agent'] });
    t.after(() => h.close());
    const url = `wss://127.0.0.1:${h.app.syncAddress.port}`;
    const run = async (cert: { certFile: string; keyFile: string }) => {
      const { err, io } = capture();
      const code = await runCli(['--server', url, '--dump', '--ca-file', pki.ca.certFile, '--server-cn', 'cattail', '--cert-file', cert.certFile, '--key-file', cert.keyFile], io);
      return { code, err: err.join('\n') };
    };
    const wrongName = await run(pki.issue('intruder', { cn: 'intruder' }));
    assert.equal(wrongName.code, EXIT.refused, wrongName.err);
    assert.match(wrongName.err, /refused by the server: .*HTTP 403.*CN \["intruder"\].*not on the allow-list/);
    const untrusted = await run(pki.issue('untrusted', { cn: 'felix-agent', by: 'otherCa' }));
    assert.equal(untrusted.code, EXIT.refused, untrusted.err);
    assert.match(untrusted.err, /refused by the server: .*HTTP 403.*client certificate not trusted/);
    const good = await run(pki.issue('agent', { cn: 'felix-agent' }));
    assert.equal(good.code, EXIT.ok, good.err);
  });
});
