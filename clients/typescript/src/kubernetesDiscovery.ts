import { DEFAULT_SYNC_PATH } from '../../../src/protocol/index.ts';
import { joinHostPort, localFirst, type Discovery } from './discovery.ts';
import { CattailClientError } from './errors.ts';
import type { ServerAddress } from './types.ts';

/** The fields of a discovery.k8s.io/v1 EndpointSlice this module reads (structural, so no type import). */
export interface EndpointSliceLike {
  readonly ports?: readonly { readonly name?: string | null; readonly port?: number | null }[] | null;
  readonly endpoints?: readonly {
    readonly addresses?: readonly string[] | null;
    readonly conditions?: { readonly ready?: boolean | null } | null;
    readonly nodeName?: string | null;
  }[] | null;
}

/** Lists the EndpointSlices of a namespace matching a label selector. */
export type EndpointSliceLister = (namespace: string, labelSelector: string) => Promise<readonly EndpointSliceLike[]>;

export interface KubernetesDiscoveryOptions {
  /** The Service in front of the replicas; its EndpointSlices carry `kubernetes.io/service-name`. */
  readonly serviceName: string;
  /** Default `kube-system`. */
  readonly namespace?: string;
  /** The Service port's name; default `cattail`. */
  readonly portName?: string;
  /** This client's node, so same-node replicas are tried first (e.g. from the downward API). */
  readonly nodeName?: string;
  /**
   * A `KubeConfig` from `@kubernetes/client-node`. Without it the library loads the default
   * (in-cluster service account, else `KUBECONFIG` / `~/.kube/config`).
   */
  readonly kubeConfig?: unknown;
  /** Replaces the API client entirely (custom clients, tests). */
  readonly lister?: EndpointSliceLister;
  /** Per-list timeout, default 30 s as Typha's. */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_NAMESPACE = 'kube-system';
export const DEFAULT_PORT_NAME = 'cattail';
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Replicas from a Service's EndpointSlices: only ready endpoints (the API's rule: an unset
 * `ready` means ready), only the named port, same-node endpoints first, each group shuffled.
 * The Kubernetes client is an optional peer dependency, imported on first use only, so agents
 * that use static or DNS discovery never load it.
 */
export class KubernetesDiscovery implements Discovery {
  readonly #options: KubernetesDiscoveryOptions;
  readonly #secure: boolean;
  readonly #random: () => number;
  #lister: EndpointSliceLister | undefined;
  readonly description: string;

  constructor(options: KubernetesDiscoveryOptions, settings: { secure: boolean; random: () => number }) {
    if (!options.serviceName) throw new CattailClientError('INVALID_OPTIONS', 'kubernetes.serviceName must be set');
    this.#options = options;
    this.#secure = settings.secure;
    this.#random = settings.random;
    this.#lister = options.lister;
    this.description = `kubernetes service ${options.namespace ?? DEFAULT_NAMESPACE}/${options.serviceName} port ${options.portName ?? DEFAULT_PORT_NAME}`;
  }

  async load(): Promise<readonly ServerAddress[]> {
    const namespace = this.#options.namespace ?? DEFAULT_NAMESPACE;
    const selector = `kubernetes.io/service-name=${this.#options.serviceName}`;
    let slices: readonly EndpointSliceLike[];
    try {
      const lister = this.#lister ??= await defaultLister(this.#options.kubeConfig);
      slices = await withTimeout(lister(namespace, selector), this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof CattailClientError) throw err;
      throw new CattailClientError('DISCOVERY_FAILED', `${this.description}: cannot list EndpointSlices: ${(err as Error).message}`, { cause: err });
    }
    const addresses = endpointAddresses(slices, this.#options.portName ?? DEFAULT_PORT_NAME, this.#secure);
    if (addresses.length === 0) {
      throw new CattailClientError('DISCOVERY_FAILED', `${this.description}: no ready endpoints with that port`);
    }
    return localFirst(addresses, this.#options.nodeName, this.#random);
  }
}

/** Ready endpoint addresses of the slices that expose `portName`, deduplicated, in slice order. */
export function endpointAddresses(slices: readonly EndpointSliceLike[], portName: string, secure: boolean): ServerAddress[] {
  const scheme = secure ? 'wss' : 'ws';
  const seen = new Set<string>();
  const out: ServerAddress[] = [];
  for (const slice of slices) {
    const port = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (typeof port !== 'number') continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const ip of endpoint.addresses ?? []) {
        const url = `${scheme}://${joinHostPort(ip, port)}${DEFAULT_SYNC_PATH}`;
        if (seen.has(url)) continue;
        seen.add(url);
        out.push(endpoint.nodeName ? { url, nodeName: endpoint.nodeName } : { url });
      }
    }
  }
  return out;
}

async function defaultLister(kubeConfig: unknown): Promise<EndpointSliceLister> {
  let k8s: typeof import('@kubernetes/client-node');
  try {
    k8s = await import('@kubernetes/client-node');
  } catch (err) {
    throw new CattailClientError('DEPENDENCY_UNAVAILABLE', clientNodeLoadFailure(err), { cause: err });
  }
  let config = kubeConfig as InstanceType<typeof k8s.KubeConfig> | undefined;
  if (config === undefined) {
    config = new k8s.KubeConfig();
    config.loadFromDefault();
  }
  const api = config.makeApiClient(k8s.DiscoveryV1Api);
  return async (namespace, labelSelector) => (await api.listNamespacedEndpointSlice({ namespace, labelSelector })).items;
}

/**
 * What went wrong loading `@kubernetes/client-node`, with the real error and its cause: not
 * installed, or installed but failing on this Node (client-node 2.x needs Node 22.19 or newer
 * through undici 8; 1.x runs on Node 20).
 */
export function clientNodeLoadFailure(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { message?: string } } | undefined;
  const detail = `${e?.message ?? String(err)}${e?.cause?.message === undefined ? '' : ` (cause: ${e.cause.message})`}`;
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && (e.message ?? '').includes('@kubernetes/client-node')) {
    return `Kubernetes discovery needs the optional peer dependency @kubernetes/client-node, which is not installed: npm install @kubernetes/client-node@1 next to @cattail/client (${detail})`;
  }
  return `Kubernetes discovery could not load @kubernetes/client-node on Node ${process.versions.node}: ${detail}; version 2.x needs Node 22.19 or newer, 1.x runs on Node 20`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
