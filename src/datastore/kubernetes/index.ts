/**
 * The Kubernetes datastore: list/watch of every subscribed kind against the API server, with
 * paging, bookmarks, randomized watch timeouts, an idle watchdog, 410 → relist and jittered
 * backoff. Import from here only; the other files are internal.
 */
export { KubernetesDatastore, KUBERNETES_DEFAULTS, type KubernetesDatastoreOptions } from './datastore.ts';
export { loadKubeConfig, loadKubeConfigWithSource, SERVICE_ACCOUNT_DIR, type LoadKubeConfigOptions, type KubeConfigSource } from './kubeConfig.ts';
export { KubeClient, type KubeClientOptions, type Query } from './kubeClient.ts';
export { collectionPath } from './listWatch.ts';
export {
  KubeError,
  KubeConfigError,
  KubeApiError,
  KubeBadResponseError,
  WatchIdleError,
  RequestTimeoutError,
  isGone,
  type KubeErrorCode,
} from './errors.ts';
