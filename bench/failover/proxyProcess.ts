/**
 * Child-process entry: one TCP proxy per replica (test/support/tcpProxy.ts) between the agents
 * and the replicas, so the scenario can cut the network of every agent while the replicas keep
 * running. In its own process so that relaying every snapshot byte does not slow the
 * orchestrator's IPC. Argv[2] is the JSON array of upstream ports.
 */
import { TcpProxy } from '../../test/support/tcpProxy.ts';
import { serveIpc } from '../ipc.ts';

async function main(): Promise<void> {
  const upstreams = JSON.parse(process.argv[2] ?? '[]') as number[];
  const proxies = upstreams.map((port) => new TcpProxy(port));
  const ports = await Promise.all(proxies.map((p) => p.listen()));
  serveIpc({
    ports: () => ports,
    /** Destroys every connection through every proxy and refuses new ones. */
    block: () => {
      for (const p of proxies) p.block();
    },
    open: () => {
      for (const p of proxies) p.open();
    },
    exit: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  });
}

if (import.meta.main) await main();
