import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodedEntrySize, KVEncoder } from '../../src/protocol/index.ts';

const encoder = new KVEncoder();
const exact = (key: string, value: unknown, revision: string): number => encoder.encode(key, value, revision).bytes.length;

const VALUES: Record<string, unknown> = {
  nil: null,
  'a short string': 'up',
  'a 31-byte string': 'x'.repeat(31),
  'a 32-byte string': 'x'.repeat(32),
  'a 255-byte string': 'y'.repeat(255),
  'a 256-byte string': 'y'.repeat(256),
  'a 65,536-byte string': 'z'.repeat(65_536),
  'multi-byte characters': 'é'.repeat(40) + '漢字'.repeat(20),
  'integers of every width': [0, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, -1, -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648],
  'large integers and floats': [4_294_967_296, 2 ** 53 - 1, -2_147_483_649, 0.5, -1.25, 1e300],
  'booleans': [true, false],
  'an undefined field': { present: 1, absent: undefined },
  'a 15- and a 16-element array': [new Array(15).fill(1), new Array(16).fill(1)],
  'a 65,536-element array': new Array(65_536).fill(0),
  'a 16-key map': Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
  'a workload endpoint': {
    state: 'active', name: 'cali1234567890a', active_instance_id: '', mac: null, profile_ids: ['kns.default', 'ksa.default.default'],
    ipv4_nets: ['10.65.0.7/32'], ipv6_nets: null, labels: { app: 'web', 'projectcalico.org/namespace': 'default' },
    ports: [{ name: 'http', protocol: 'tcp', port: 8080 }],
  },
};

for (const [what, value] of Object.entries(VALUES)) {
  test(`the computed entry size of ${what} equals the encoder's output`, () => {
    const key = '/calico/v1/host/node-1/workload/k8s/default%2fweb/endpoint/eth0';
    assert.equal(encodedEntrySize(key, value, '12345', Number.MAX_SAFE_INTEGER), exact(key, value, '12345'));
  });
}

test('the size walk stops early once the limit is passed, still reporting more than the limit', () => {
  const huge = { labels: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])) };
  const size = encodedEntrySize('/k', huge, '1', 10_000);
  assert.ok(size > 10_000);
  assert.ok(size < 20_000, `walk stopped near the limit, not at ${size}`);
});

test('a value exactly at the limit is not over it', () => {
  const key = '/calico/v1/config/LogSeverityScreen';
  const value = 'a'.repeat(1000);
  const n = exact(key, value, '7');
  assert.equal(encodedEntrySize(key, value, '7', n), n);
  assert.ok(encodedEntrySize(key, value, '7', n - 1) > n - 1);
});
