/**
 * Kubernetes discovery without its optional peer: the client stops at once with a message that
 * says what to install and keeps the real import error as `cause`, instead of retrying.
 * The peer is hidden by a resolve hook; this file runs in its own process under node --test.
 */
import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { describe, it } from 'node:test';
import { SyncClient, type CattailClientError } from '../src/index.ts';
import { RecordingHost } from './support/recordingHost.ts';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === '@kubernetes/client-node') {
      throw Object.assign(new Error(`Cannot find package '@kubernetes/client-node' imported from ${context.parentURL ?? '?'}`), { code: 'ERR_MODULE_NOT_FOUND' });
    }
    return nextResolve(specifier, context);
  },
});

describe('Kubernetes discovery without @kubernetes/client-node', () => {
  it('stops the client at once (misconfigured), naming the package to install and keeping the import error as cause', async () => {
    const errors: CattailClientError[] = [];
    const client = new SyncClient({ kubernetes: { serviceName: 'cattail' }, handler: new RecordingHost() });
    client.on('error', (e) => errors.push(e));
    client.start();
    const stopped = await client.stopped;
    assert.equal(stopped.reason, 'misconfigured');
    assert.equal(stopped.error?.code, 'DEPENDENCY_UNAVAILABLE');
    assert.match(stopped.error?.message ?? '', /not installed: npm install @kubernetes\/client-node@1/);
    assert.match(stopped.error?.message ?? '', /Cannot find package '@kubernetes\/client-node'/, 'the real error is in the message');
    assert.equal((stopped.error?.cause as { code?: string } | undefined)?.code, 'ERR_MODULE_NOT_FOUND');
    assert.equal(errors.length, 1, 'one error, no retries');
    assert.equal(client.stats.connections, 0);
    await client.close();
  });
});
