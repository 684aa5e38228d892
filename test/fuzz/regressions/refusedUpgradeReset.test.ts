/**
 * Regression (found by the long torture run, which died with "Unhandled 'error' event ...
 * ECONNRESET" while a server restarted under reconnecting clients): a client whose upgrade the
 * server refuses (404 wrong path, 503 shutting down, 403 certificate not allowed) and which then
 * resets the connection crashes the whole server process.
 * Cause: src/server/syncServer.ts #onUpgrade answers with `socket.end(...)` on a socket that has
 * no 'error' listener (Node's http server removes its own on 'upgrade'; ws adds one only inside
 * handleUpgrade), so the ECONNRESET is an unhandled 'error' event.
 * The scenario runs in a child process because the bug kills the process it happens in.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

test('a client that resets its connection after a refused upgrade does not crash the server', () => {
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'refusedUpgradeReset.child.ts');
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `server process died:\n${r.stderr.split('\n').slice(-12).join('\n')}`);
  assert.match(r.stdout, /survived/);
});
