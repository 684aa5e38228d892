import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertPair;
  readonly otherCa: CertPair;
  issue(name: string, options: { cn: string; uri?: string; ip?: string; by?: 'ca' | 'otherCa' }): CertPair;
}

/** A throwaway PKI made with the openssl CLI at test time (no certificates are committed). */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'cattail-pki-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const pair = (name: string): CertPair => ({
    certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`),
    cert: readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  });
  const makeCa = (name: string) => {
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
    return pair(name);
  };
  const ca = makeCa('ca');
  const otherCa = makeCa('otherCa');
  return {
    dir, ca, otherCa,
    issue: (name, o) => {
      const by = o.by ?? 'ca';
      const sans = [o.uri !== undefined ? `URI:${o.uri}` : undefined, o.ip !== undefined ? `IP:${o.ip}` : undefined].filter((x) => x !== undefined);
      writeFileSync(path.join(dir, `${name}.ext`), sans.length > 0 ? `subjectAltName=${sans.join(',')}\n` : '');
      run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${o.cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
      run(['x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.crt`, '-CAkey', `${by}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
      return pair(name);
    },
  };
}
