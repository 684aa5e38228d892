import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  KubeApiError,
  KubeClient,
  KubeConfigError,
  loadKubeConfig,
  loadKubeConfigWithSource,
} from '../../src/datastore/kubernetes/index.ts';
import { KubeConfig } from '@kubernetes/client-node';
import type { RawObject } from '../../src/datastore/types.ts';
import { K8sEmulator } from '../support/k8sEmulator.ts';

const dir = mkdtempSync(join(tmpdir(), 'cattail-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function endpointSlice(name: string, service: string, ready: boolean): RawObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'calico-system', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready } }],
  };
}

describe('loadKubeConfig', () => {
  it('refuses to guess when there is no pod, no --kubeconfig and no KUBECONFIG', () => {
    assert.throws(
      () => loadKubeConfig({ env: {}, serviceAccountDir: join(dir, 'none') }),
      (err: unknown) => err instanceof KubeConfigError && /KUBECONFIG/.test(err.message),
    );
  });

  it('uses the in-cluster service account when running in a pod', () => {
    const saDir = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(saDir, 'token'), 'secret-token');
    writeFileSync(join(saDir, 'ca.crt'), 'not a real CA');
    const { config, source } = loadKubeConfigWithSource({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', KUBECONFIG: '/nonexistent' },
      serviceAccountDir: saDir,
    });
    assert.equal(source.mode, 'in-cluster');
    assert.equal(source.server, 'https://[fd00::1]:6443');
    assert.equal(config.getCurrentCluster()?.caFile, join(saDir, 'ca.crt'));
    assert.equal(config.getCurrentUser()?.authProvider?.config?.tokenFile, join(saDir, 'token'));
  });

  it('prefers --kubeconfig over KUBECONFIG and reports a missing file clearly', async () => {
    const api = new K8sEmulator();
    await api.start();
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, api.kubeConfigYaml());
      const noPod = { serviceAccountDir: join(dir, 'none') };
      const fromFlag = loadKubeConfigWithSource({ ...noPod, kubeconfigPath: file, env: { KUBECONFIG: '/nonexistent' } });
      assert.equal(fromFlag.source.mode, 'kubeconfig');
      assert.equal(fromFlag.source.server, api.url);
      const fromEnv = loadKubeConfigWithSource({ ...noPod, env: { KUBECONFIG: file } });
      assert.equal(fromEnv.source.path, file);
      assert.throws(() => loadKubeConfig({ ...noPod, env: { KUBECONFIG: join(dir, 'missing.yaml') } }), KubeConfigError);

      // The loaded configuration really authenticates against the server.
      const client = new KubeClient({ kubeConfig: fromEnv.config });
      const list = await client.getJson<{ items: unknown[] }>('/api/v1/pods');
      assert.deepEqual(list.items, []);
      client.close();
    } finally {
      await api.stop();
    }
  });
});

describe('KubeClient.getJson', () => {
  it('reads any API path with the datastore credentials, selectors included', async () => {
    const api = new K8sEmulator();
    await api.start();
    const client = new KubeClient({ kubeConfig: api.kubeConfig() });
    try {
      api.create(endpointSlice('typha-abc', 'calico-typha', true));
      api.create(endpointSlice('typha-def', 'calico-typha', false));
      api.create(endpointSlice('other-1', 'other', true));
      const list = await client.getJson<{ items: Array<{ metadata: { name: string } }> }>(
        '/apis/discovery.k8s.io/v1/namespaces/calico-system/endpointslices',
        { labelSelector: 'kubernetes.io/service-name=calico-typha' },
      );
      assert.deepEqual(list.items.map((i) => i.metadata.name), ['typha-abc', 'typha-def']);

      const one = await client.getJson<{ metadata: { name: string } }>('/apis/discovery.k8s.io/v1/namespaces/calico-system/endpointslices/other-1');
      assert.equal(one.metadata.name, 'other-1');
      await assert.rejects(
        client.getJson('/api/v1/namespaces/default/pods/missing'),
        (err: unknown) => err instanceof KubeApiError && err.status === 404 && err.reason === 'NotFound',
      );
    } finally {
      client.close();
      await api.stop();
    }
  });

  it('fails with 401 when the credentials are wrong', async () => {
    const api = new K8sEmulator({ token: 'right' });
    await api.start();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const client = new KubeClient({ kubeConfig: kc });
    try {
      await assert.rejects(client.getJson('/api/v1/nodes'), (err: unknown) => err instanceof KubeApiError && err.status === 401);
    } finally {
      client.close();
      await api.stop();
    }
  });

  it('times out a request that gets no answer', async () => {
    const api = new K8sEmulator();
    await api.start();
    // A watch request to a stalled server never completes: use it as a hanging GET.
    api.stallWatches(true);
    const client = new KubeClient({ kubeConfig: api.kubeConfig(), requestTimeoutMs: 100 });
    try {
      await assert.rejects(client.getJson('/api/v1/pods', { watch: 'true' }), /no complete response within 100 ms/);
    } finally {
      client.close();
      await api.stop();
    }
  });
});
