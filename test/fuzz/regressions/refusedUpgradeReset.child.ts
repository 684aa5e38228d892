/** Child process of refusedUpgradeReset.test.ts: refused upgrades whose clients reset the connection. */
import net from 'node:net';
import { KINDS } from '../../../src/datastore/kinds.ts';
import { startCattail } from '../../support/harness.ts';
import { MemoryDatastore } from '../../support/memoryDatastore.ts';
const h = await startCattail({ datastore: new MemoryDatastore(), specs: { felix: { name: 'felix', kinds: [KINDS.globalNetworkSets], convert: () => [] } }, flags: ['--syncer-types','felix'] });

for (let i = 0; i < 200; i++) {
  const s = net.connect(h.app.syncAddress.port, '127.0.0.1');
  s.on('error', () => {});
  s.on('connect', () => {
    s.write(`GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n` + 'x'.repeat(100000));
    setTimeout(() => s.resetAndDestroy(), 1);
  });
}
await new Promise(r => setTimeout(r, 1500));
console.log('survived');
await h.close();
