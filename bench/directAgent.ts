/**
 * An agent without Cattail: it lists and watches every kind Felix reads straight from the
 * Kubernetes API, with Cattail's own list/watch code (the same paging, bookmarks and timeouts),
 * and counts the watch events it receives.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { syncerSpecs } from '../src/calico/index.ts';
import { KubernetesDatastore } from '../src/datastore/kubernetes/index.ts';
import { silentLogger } from '../src/logger.ts';

export class DirectAgent {
  events = 0;
  readonly #ds: KubernetesDatastore;
  readonly #listed: Promise<void>;

  constructor(kubeconfigYaml: string, onEvent: (agent: DirectAgent) => void) {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigYaml);
    this.#ds = new KubernetesDatastore({ kubeConfig: kc, logger: silentLogger() });
    const kinds = syncerSpecs().felix.kinds;
    let pending = kinds.length;
    this.#listed = new Promise((resolve) => {
      for (const kind of kinds) {
        let listed = false;
        this.#ds.subscribe(kind, {
          replaced: () => {
            if (!listed && (listed = true) && --pending === 0) resolve();
          },
          changed: () => {
            this.events++;
            onEvent(this);
          },
          connection: () => {},
        });
      }
    });
  }

  /** Starts listing and watching; resolves once every kind has been listed. */
  async start(): Promise<void> {
    await this.#ds.start();
    await this.#listed;
  }

  close(): Promise<void> {
    return this.#ds.close();
  }
}
