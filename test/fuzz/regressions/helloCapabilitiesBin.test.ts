/**
 * Regression (found by the protocol fuzzer, case "hello.capabilities = <Buffer 01 02 03>"): a
 * hello whose `capabilities` is a MessagePack bin (not a map) was accepted and served, where
 * docs/PROTOCOL.md §3/§9 say a field of the wrong type closes the connection with 4001.
 * Cause: src/protocol/codec.ts validateHello checks `typeof caps !== 'object' || Array.isArray(caps)`,
 * and a decoded bin is a Uint8Array, an object that is not an array.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KINDS } from '../../../src/datastore/kinds.ts';
import { CloseCode } from '../../../src/protocol/index.ts';
import { startCattail } from '../../support/harness.ts';
import { MemoryDatastore } from '../../support/memoryDatastore.ts';
import { HELLO } from '../frames.ts';
import { RawSocket } from '../rawSocket.ts';

test('a hello whose capabilities is a MessagePack bin is closed with 4001 (bad frame)', async () => {
  const h = await startCattail({
    datastore: new MemoryDatastore(),
    specs: { felix: { name: 'felix', kinds: [KINDS.globalNetworkSets], convert: () => [] } },
    flags: ['--syncer-types', 'felix', '--handshake-timeout-ms', '1000'],
  });
  try {
    const s = await RawSocket.open(h.app.syncAddress.port);
    s.sendValue({ ...HELLO, capabilities: Buffer.from([1, 2, 3]) });
    const r = await Promise.race([s.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 800))]);
    s.destroy();
    assert.notEqual(r, undefined, `the connection was served (${s.messages.map((m) => m.type).join(', ')}) instead of closed`);
    assert.equal(r?.code, CloseCode.badFrame);
  } finally {
    await h.close();
  }
});
