import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncClient } from '../src/index.ts';
import { DEFAULT_MAX_VALUE_BYTES, largestServerFrameBytes } from '../../../src/protocol/index.ts';
import { worstCaseFrames } from '../../../test/support/worstCaseFrame.ts';
import { FakeServer } from './support/fakeServer.ts';
import { RecordingHost, waitFor } from './support/recordingHost.ts';

/** The largest frame a default server can send (PROTOCOL.md §1), or that plus `extra` bytes. */
function worstCaseFrame(prefix: string, extra: number): { frame: Buffer; keys: string[] } {
  const { frames, keys } = worstCaseFrames(`${prefix}/`, DEFAULT_MAX_VALUE_BYTES, extra);
  assert.equal(frames.length, 1);
  return { frame: frames[0] as Buffer, keys };
}

test('with its default maxFrameBytes the client accepts the largest frame a default server sends, and refuses one byte more', async () => {
  const server = await FakeServer.start();
  const host = new RecordingHost();
  const client = new SyncClient({ servers: [server.url], handler: host, hostname: 'node-1', syncerType: 'felix', backoff: { initialDelayMs: 10, maxDelayMs: 100 } });
  const closes: string[] = [];
  client.on('disconnected', (info) => closes.push(info.error?.message ?? `close ${info.code}`));
  try {
    client.start();
    await waitFor(() => host.lastStatus === 'in-sync', 'in sync with the fake server', 30_000);
    const largest = worstCaseFrame('a', 0);
    assert.equal(largest.frame.length, largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES));
    for (const s of server.sessions) s.sendRaw(largest.frame);
    await waitFor(() => largest.keys.every((k) => host.state.has(k)), 'every key of the largest frame delivered', 30_000);
    assert.deepEqual(closes, [], 'the largest frame did not cost the connection');

    const tooLarge = worstCaseFrame('b', 1);
    for (const s of server.sessions) s.sendRaw(tooLarge.frame);
    await waitFor(() => closes.length > 0, 'the client refused the oversized frame', 30_000);
    assert.match(closes[0] ?? '', /Max payload size exceeded/);
    assert.equal(host.state.has(tooLarge.keys[0] as string), false);
  } finally {
    await client.close();
    await server.close();
  }
});
