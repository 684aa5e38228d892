import { parseArgs } from 'node:util';
import type { SyncClientOptions } from './options.ts';
import type { TlsOptions } from './tls.ts';
import type { SyncerType } from './types.ts';

export type CliMode = 'dump' | 'follow' | 'stats';

/** What the command line asked for; `clientOptions` lacks only the handler. */
export interface CliCommand {
  readonly mode: CliMode;
  readonly clientOptions: Omit<SyncClientOptions, 'handler'>;
  /** KUBECONFIG to use for --k8s-service, when given. */
  readonly kubeconfig: string | undefined;
  /** --dump gives up (exit 5) when not in sync within this long. */
  readonly dumpTimeoutMs: number;
}

export const DEFAULT_DUMP_TIMEOUT_MS = 60_000;

export type ParsedCli =
  | { readonly kind: 'run'; readonly command: CliCommand }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly problems: readonly string[] };

export const USAGE = `Usage: cattail-client (--server URL... | --dns NAME[:PORT] | --k8s-service [NS/]NAME) [options]

Connects to a Cattail (or compatible) sync server like a node agent would and reports what it receives.

Where the servers are (exactly one):
  --server URL            ws://host:port, wss://host:port or host:port; repeat for several replicas
  --dns NAME[:PORT]       a DNS name resolved before every attempt (port 5473 by default)
  --k8s-service [NS/]NAME a Service's EndpointSlices (namespace kube-system by default)
    --k8s-port-name NAME  the Service port's name (default cattail)
    --node-name NAME      this node, to prefer a same-node replica (default $NODENAME)
    --kubeconfig PATH     default: in-cluster, then $KUBECONFIG, then ~/.kube/config

What to ask for:
  --syncer TYPE           syncer type: felix, bgp, tunnel-ip-allocation, node-status (default felix)
  --hostname NAME         hostname sent in the hello (default this machine's)

TLS:
  --ca-file PATH          CA bundle that signs the servers (implies wss://)
  --cert-file PATH        client certificate for mTLS
  --key-file PATH         its key
  --server-cn NAME        required Common Name of the server certificate
  --server-uri-san URI    required URI SAN of the server certificate (either name may match)

What to do (default --stats):
  --dump                  print the whole state as JSON once in sync, then exit 0
    --dump-timeout-ms MS  give up with exit 5 if not in sync by then (default 60000)
  --follow                print every update and status as a JSON line
  --stats                 print counts per second, like typha-client

Timeouts:
  --read-timeout-ms MS    silence that means a dead connection (default 30000)
  --connect-timeout-ms MS (default 10000)

Catch-up (PROTOCOL.md §11):
  --no-catch-up           offer neither resume nor digests: every reconnect is a full snapshot
  --leave-stale-after-ms MS
                          probe another replica once the current one has not been in sync for
                          this long, and move if it is (default 120000; 0 = never)

  --help, --version

Exit codes: 0 done; 1 internal error; 2 refused by the server (unknown syncer type, or 403 for the certificate);
3 no server reachable; 4 TLS failure; 5 --dump timed out before in-sync; 64 bad command line.`;

/** Parses argv (without node and the script) and the environment. Pure: no I/O. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCli {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string', multiple: true },
        dns: { type: 'string' },
        'k8s-service': { type: 'string' },
        'k8s-port-name': { type: 'string' },
        'node-name': { type: 'string' },
        kubeconfig: { type: 'string' },
        syncer: { type: 'string' },
        hostname: { type: 'string' },
        'ca-file': { type: 'string' },
        'cert-file': { type: 'string' },
        'key-file': { type: 'string' },
        'server-cn': { type: 'string' },
        'server-uri-san': { type: 'string' },
        dump: { type: 'boolean' },
        follow: { type: 'boolean' },
        stats: { type: 'boolean' },
        'read-timeout-ms': { type: 'string' },
        'connect-timeout-ms': { type: 'string' },
        'dump-timeout-ms': { type: 'string' },
        'no-catch-up': { type: 'boolean' },
        'leave-stale-after-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }));
  } catch (err) {
    return { kind: 'usage-error', problems: [(err as Error).message] };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };

  const problems: string[] = [];
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const servers = values.server as string[] | undefined;
  const sources = [servers !== undefined, str('dns') !== undefined, str('k8s-service') !== undefined].filter(Boolean).length;
  if (sources !== 1) problems.push('give exactly one of --server, --dns, --k8s-service');
  const modes = (['dump', 'follow', 'stats'] as const).filter((m) => values[m] === true);
  if (modes.length > 1) problems.push('--dump, --follow and --stats exclude each other');
  const ms = (name: string): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) problems.push(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const readTimeoutMs = ms('read-timeout-ms');
  const connectTimeoutMs = ms('connect-timeout-ms');
  const dumpTimeoutMs = ms('dump-timeout-ms');
  const leaveStale = str('leave-stale-after-ms');
  const leaveStaleAfterMs = leaveStale === undefined ? undefined : Number(leaveStale);
  if (leaveStaleAfterMs !== undefined && !(Number.isInteger(leaveStaleAfterMs) && leaveStaleAfterMs >= 0)) {
    problems.push(`--leave-stale-after-ms must be 0 (never) or a positive integer, got ${leaveStale}`);
  }
  if (dumpTimeoutMs !== undefined && modes[0] !== 'dump') problems.push('--dump-timeout-ms goes with --dump');

  const tlsFlags = ['ca-file', 'cert-file', 'key-file', 'server-cn', 'server-uri-san'];
  let tls: TlsOptions | undefined;
  if (tlsFlags.some((f) => str(f) !== undefined)) {
    tls = {
      ...(str('ca-file') === undefined ? {} : { caFile: str('ca-file') }),
      ...(str('cert-file') === undefined ? {} : { certFile: str('cert-file') }),
      ...(str('key-file') === undefined ? {} : { keyFile: str('key-file') }),
      ...(str('server-cn') === undefined ? {} : { serverCommonName: str('server-cn') }),
      ...(str('server-uri-san') === undefined ? {} : { serverUriSan: str('server-uri-san') }),
    };
  }

  let where: Partial<SyncClientOptions> = {};
  if (servers !== undefined) where = { servers };
  const dns = str('dns');
  if (dns !== undefined) {
    const m = /^(.+?)(?::(\d+))?$/.exec(dns);
    where = { dns: { name: m?.[1] ?? dns, ...(m?.[2] === undefined ? {} : { port: Number(m[2]) }) } };
  }
  const service = str('k8s-service');
  if (service !== undefined) {
    const [ns, name] = service.includes('/') ? service.split('/', 2) as [string, string] : [undefined, service];
    const nodeName = str('node-name') ?? env.NODENAME;
    where = {
      kubernetes: {
        serviceName: name,
        ...(ns === undefined ? {} : { namespace: ns }),
        ...(str('k8s-port-name') === undefined ? {} : { portName: str('k8s-port-name') }),
        ...(nodeName === undefined ? {} : { nodeName }),
      },
    };
  }
  if (problems.length > 0) return { kind: 'usage-error', problems };
  return {
    kind: 'run',
    command: {
      mode: modes[0] ?? 'stats',
      kubeconfig: str('kubeconfig'),
      dumpTimeoutMs: dumpTimeoutMs ?? DEFAULT_DUMP_TIMEOUT_MS,
      clientOptions: {
        ...where,
        // Not checked here: the server is the judge, and refuses an unknown type (exit 2).
        syncerType: (str('syncer') ?? 'felix') as SyncerType,
        ...(str('hostname') === undefined ? {} : { hostname: str('hostname') }),
        clientInfo: 'cattail-client CLI',
        ...(tls === undefined ? {} : { tls }),
        ...(readTimeoutMs === undefined ? {} : { readTimeoutMs }),
        ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
        ...(values['no-catch-up'] === true ? { catchUp: false } : {}),
        ...(leaveStaleAfterMs === undefined ? {} : { leaveStaleAfterMs }),
      },
    },
  };
}
