import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigError } from './errors.ts';

/** Where Kubernetes mounts a pod's service-account credentials. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** The `--kubeconfig` flag; wins over `KUBECONFIG` but not over running in a pod. */
  kubeconfigPath?: string;
  /** Defaults to `process.env`; tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Where to look for the service-account token; tests point this at a temp dir. */
  serviceAccountDir?: string;
}

/** How the configuration was found, for the startup log line (never includes credentials). */
export interface KubeConfigSource {
  readonly mode: 'in-cluster' | 'kubeconfig';
  readonly server: string;
  readonly path?: string;
}

/**
 * Loads the API server address, credentials and TLS settings:
 * 1. in a pod (KUBERNETES_SERVICE_HOST set and the service-account token present): in-cluster;
 * 2. else `kubeconfigPath` (the `--kubeconfig` flag);
 * 3. else `KUBECONFIG` (colon-separated files are merged, as kubectl does).
 *
 * Why not `loadFromDefault()`: with nothing configured it silently talks to
 * http://localhost:8080, which turns a deployment mistake into a confusing "connection refused"
 * loop. We throw instead, saying what we looked for.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  return loadKubeConfigWithSource(options).config;
}

export function loadKubeConfigWithSource(
  options: LoadKubeConfigOptions = {},
): { config: KubeConfig; source: KubeConfigSource } {
  const env = options.env ?? process.env;
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const kc = new KubeConfig();

  const host = env.KUBERNETES_SERVICE_HOST;
  if (host && existsSync(`${saDir}/token`)) {
    // loadFromCluster reads KUBERNETES_SERVICE_HOST/PORT from process.env, not from our env
    // argument, so build the same configuration ourselves. The token is a tokenFile auth
    // provider, which the library re-reads from disk, so projected-token rotation works.
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    const bracketed = host.includes(':') ? `[${host}]` : host;
    const server = `https://${bracketed}:${port}`;
    kc.loadFromOptions({
      clusters: [{ name: 'in-cluster', server, caFile: `${saDir}/ca.crt`, skipTLSVerify: false }],
      users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: `${saDir}/token` } } }],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
      currentContext: 'in-cluster',
    });
    return { config: kc, source: { mode: 'in-cluster', server } };
  }

  const path = options.kubeconfigPath || env.KUBECONFIG;
  if (!path) {
    throw new KubeConfigError(
      'no Kubernetes configuration: not running in a pod (KUBERNETES_SERVICE_HOST unset or no ' +
        `service-account token in ${saDir}), no --kubeconfig given and KUBECONFIG unset`,
    );
  }
  const files = path.split(':').filter((p) => p !== '');
  try {
    for (const [i, file] of files.entries()) {
      if (!existsSync(file)) throw new Error(`file not found: ${file}`);
      if (i === 0) {
        kc.loadFromFile(file);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        // The first file that sets the current context wins, as with kubectl. (The library
        // rejects duplicate cluster/user names across files rather than taking the first.)
        kc.mergeConfig(more, Boolean(kc.getCurrentContext()));
      }
    }
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig ${path}: ${(err as Error).message}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`kubeconfig ${path} has no current context with a cluster`);
  }
  return { config: kc, source: { mode: 'kubeconfig', server: cluster.server, path } };
}
