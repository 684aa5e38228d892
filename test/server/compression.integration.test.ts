import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, type Harness, startCattail } from '../support/harness.ts';
import { TestClient } from '../support/testClient.ts';

const netset = (i: number) =>
  `apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkSet\nmetadata:\n  name: set-${i}\n  labels: {role: test, team: team-${i % 7}}\nspec:\n  nets: [10.${i >> 8}.${i & 0xff}.0/24, 172.16.${i & 0xff}.0/28]\n`;
const manifest = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => netset(from + i)).join('---\n');

function sameState(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || JSON.stringify(v) !== JSON.stringify(b.get(k))) return false;
  return true;
}

async function counter(h: Harness, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${h.opsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  assert.ok(line !== undefined, `${name}{${labels}} is exported`);
  return Number(line.split(' ').pop());
}

describe('compression negotiated per connection, encoded once per shared frame', () => {
  let h: Harness;
  before(async () => {
    // A reuse window long enough that every client of a test shares one snapshot, on a busy machine too.
    h = await startCattail({ files: { 'sets.yaml': manifest(0, 2000) }, flags: ['--ops-cache-ms', '0', '--snapshot-reuse-ms', '600000'] });
    await eventually(() => h.app.readiness().ready, 'server ready');
  });
  after(async () => h.close());

  test('a client that offers zstd gets compressed frames and one that does not gets plain ones, both holding the same model', async () => {
    const labels = 'syncer="felix",frame="snapshot"';
    assert.equal(await counter(h, 'cattail_frame_plain_bytes_total', labels), 0, 'nothing compressed before a client asks');
    const zstd = await TestClient.connect(h.syncUrl, { hostname: 'node-z', compression: ['snappy', 'zstd'] });
    const plain = await TestClient.connect(h.syncUrl, { hostname: 'node-p' });
    await eventually(() => zstd.inSync && plain.inSync, 'both clients in sync');
    const model = h.model('felix');
    assert.ok(model.size >= 2000);
    assert.ok(sameState(zstd.state, model) && sameState(plain.state, model), 'both hold the server model');
    const hello = (c: TestClient) => c.messages[0]?.type === 'serverHello' ? c.messages[0].compression : 'no serverHello';
    assert.equal(hello(zstd), 'zstd');
    assert.equal(hello(plain), null);
    assert.equal(plain.compressedFrames, 0);
    assert.ok(zstd.compressedFrames >= 2, `snapshot frames arrived compressed (${zstd.compressedFrames})`);
    assert.ok(zstd.wireBytes * 3 < plain.wireBytes, `compressed ${zstd.wireBytes} bytes vs plain ${plain.wireBytes}`);

    // A second compressed client of the same shared snapshot is sent the bytes already made.
    const rawOnce = await counter(h, 'cattail_frame_plain_bytes_total', labels);
    const packedOnce = await counter(h, 'cattail_frame_compressed_bytes_total', labels);
    assert.ok(rawOnce > 0 && packedOnce > 0 && packedOnce * 3 < rawOnce, `ratio ${rawOnce}/${packedOnce}`);
    const again = await TestClient.connect(h.syncUrl, { hostname: 'node-z2', compression: ['zstd'] });
    await eventually(() => again.inSync, 'second compressed client in sync');
    assert.ok(sameState(again.state, model));
    assert.equal(again.wireBytes, zstd.wireBytes, 'the same bytes as the first compressed client');
    assert.equal(await counter(h, 'cattail_frame_plain_bytes_total', labels), rawOnce, 'nothing compressed again');

    // Deltas: a change of 300 keys reaches both, compressed for the one that asked.
    const before = zstd.compressedFrames;
    await h.writeManifest('sets.yaml', manifest(0, 1700) + '---\n' + manifest(5000, 5300));
    await eventually(() => h.model('felix').has('/calico/v1/netset/set-5299') && !h.model('felix').has('/calico/v1/netset/set-1999'), 'the server to read the change');
    await eventually(() => sameState(zstd.state, h.model('felix')) && sameState(plain.state, h.model('felix')) && sameState(again.state, h.model('felix')), 'the change to reach every client');
    assert.ok(zstd.compressedFrames > before, 'delta frames arrived compressed');
    assert.equal(plain.compressedFrames, 0);
    assert.ok(await counter(h, 'cattail_frame_plain_bytes_total', 'syncer="felix",frame="delta"') > 0);
    for (const c of [zstd, plain, again]) c.close();
  });
});
