import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { certificateNamesMatch, commonNames, uriSans } from '../../src/protocol/index.ts';

const cert = (cn: string | string[] | undefined, san: string | undefined) => ({ subject: cn === undefined ? {} : { CN: cn }, subjectaltname: san }) as unknown as PeerCertificate;

test('URI SANs are read from every entry, including ones Node quotes because they contain a comma', () => {
  assert.deepEqual(uriSans(cert('x', 'DNS:a.example, URI:spiffe://c/ns/a, IP Address:127.0.0.1, URI:"spiffe://c/odd,name"')), ['spiffe://c/ns/a', 'spiffe://c/odd,name']);
  assert.deepEqual(uriSans(cert('x', undefined)), []);
});

test('a certificate matches when its CN or any URI SAN is allowed, either being enough', () => {
  const c = cert(['felix', 'other'], 'URI:spiffe://c/ns/calico-system/sa/calico-node');
  assert.deepEqual(commonNames(c), ['felix', 'other']);
  assert.ok(certificateNamesMatch(c, ['felix'], []));
  assert.ok(certificateNamesMatch(c, [], ['spiffe://c/ns/calico-system/sa/calico-node']));
  assert.ok(certificateNamesMatch(c, ['nobody'], ['spiffe://c/ns/calico-system/sa/calico-node']));
  assert.ok(!certificateNamesMatch(c, ['nobody'], ['spiffe://c/other']));
  assert.ok(!certificateNamesMatch(cert(undefined, undefined), ['felix'], []));
});
