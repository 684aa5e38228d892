import { DEFAULT_MAX_VALUE_BYTES, DEFAULT_SYNC_PORT, MAX_INBOUND_FRAME_BYTES } from '../protocol/index.ts';
import { DEFAULT_FILE_LIMITS } from '../datastore/file/index.ts';
import { SYNCER_TYPES } from '../syncer/types.ts';

/**
 * Every setting, its type, default and meaning: the one table that parsing, `--help`, the
 * logged effective config and docs/OPERATIONS.md follow. Durations end in `Ms`, sizes in
 * `Bytes`. Each option is set by the flag `--kebab-case-name` or the variable
 * `CATTAIL_SCREAMING_SNAKE_NAME`; a flag wins over the variable.
 */
export type OptionType =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'duration' }
  | { kind: 'string' }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; values?: readonly string[] };

export interface OptionSpec {
  readonly type: OptionType;
  readonly default: number | string | boolean | readonly string[];
  readonly help: string;
  /** Never logged in full (paths to keys are fine; nothing here holds key material itself). */
  readonly secret?: boolean;
}

const port = { kind: 'int', min: 0, max: 65535 } as const;
const count = (min: number, max = 1_000_000_000) => ({ kind: 'int', min, max }) as const;
const duration = { kind: 'duration' } as const;
const str = { kind: 'string' } as const;
const bool = { kind: 'bool' } as const;

export const OPTIONS = {
  datastore: { type: { kind: 'enum', values: ['file', 'kubernetes', 'etcdv3'] }, default: 'file', help: 'Where objects come from: a directory of YAML manifests, a Kubernetes API server, or etcd v3 in Calico\'s etcd layout.' },
  fileDir: { type: str, default: 'examples/cluster', help: 'Directory of YAML manifests read (recursively) and watched by the file datastore.' },
  fileDirMissing: { type: { kind: 'enum', values: ['fail', 'wait'] }, default: 'fail', help: 'When --file-dir does not exist at start-up: fail (exit 1 naming it) or wait for it to appear, not ready until then.' },
  fileDebounceMs: { type: duration, default: 100, help: 'Quiet time after a file change before the directory is re-read.' },
  fileMaxFileBytes: { type: count(1024, 1024 * 1024 * 1024), default: DEFAULT_FILE_LIMITS.maxFileBytes, help: 'Largest manifest file read; a larger one is broken (not read; objects last read from it kept).' },
  fileMaxDocuments: { type: count(1), default: DEFAULT_FILE_LIMITS.maxDocuments, help: 'Most documents per manifest file (each List item counts one); a file with more is broken.' },
  fileMaxMapKeys: { type: count(1), default: DEFAULT_FILE_LIMITS.maxMapKeys, help: 'Most keys in one YAML map; a file with a larger map is broken.' },
  fileMaxDepth: { type: count(1, 10_000), default: DEFAULT_FILE_LIMITS.maxDepth, help: 'Deepest nesting of maps and sequences in one document; a file nested deeper is broken.' },
  fileMaxEntries: { type: count(1), default: DEFAULT_FILE_LIMITS.maxEntries, help: 'Most directory entries one scan visits; over it, the scan changes nothing and syncers are out of sync.' },
  fileMaxSymlinkDepth: { type: count(0, 1000), default: DEFAULT_FILE_LIMITS.maxSymlinkDepth, help: 'Most symlinked directories followed along one path; a deeper link is broken (so are cycles and links leaving the directory).' },
  fileParseTimeoutMs: { type: duration, default: DEFAULT_FILE_LIMITS.parseTimeoutMs, help: 'A manifest file whose parse takes longer is broken and the parser worker is restarted.' },
  fileParserHeapBytes: { type: count(16 * 1024 * 1024, 64 * 1024 * 1024 * 1024), default: DEFAULT_FILE_LIMITS.parserHeapBytes, help: 'Heap of the manifest parser worker thread; a file needing more is broken, the process is unaffected.' },
  fileScanTimeoutMs: { type: duration, default: DEFAULT_FILE_LIMITS.scanTimeoutMs, help: 'A directory scan taking longer marks every kind stale (syncers out of sync) until it finishes.' },
  etcdEndpoints: { type: { kind: 'list' }, default: ['http://127.0.0.1:2379'], help: 'Client URLs of the etcd members for the etcdv3 datastore (comma-separated, http:// or https://); a failed member is left for the next.' },
  etcdCaFile: { type: str, default: '', help: 'CA bundle (PEM) that etcd\'s server certificate must chain to (https:// endpoints).' },
  etcdCertFile: { type: str, default: '', help: 'Client certificate (PEM) presented to etcd.' },
  etcdKeyFile: { type: str, default: '', help: 'Private key (PEM) of the etcd client certificate.', secret: true },
  etcdUsername: { type: str, default: '', help: 'etcd user (etcd auth enabled); its token is sent with every request. Empty: no etcd auth.' },
  etcdPassword: { type: str, default: '', help: 'Password of --etcd-username; set it with the variable rather than the flag.', secret: true },
  kubeconfig: { type: str, default: '', help: 'Kubeconfig file for the kubernetes datastore; empty means in-cluster config, else KUBECONFIG.' },
  syncerTypes: { type: { kind: 'list', values: SYNCER_TYPES }, default: ['felix', 'bgp', 'tunnel-ip-allocation'], help: 'Syncer types served (comma-separated).' },
  logLevel: { type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }, default: 'info', help: 'Log level.' },

  syncHost: { type: str, default: '0.0.0.0', help: 'Address the sync (WebSocket) listener binds.' },
  syncPort: { type: port, default: DEFAULT_SYNC_PORT, help: 'Port of the sync listener; 0 picks a free port.' },
  opsHost: { type: str, default: '0.0.0.0', help: 'Address the ops HTTP listener (health, metrics, status) binds.' },
  opsPort: { type: port, default: 9098, help: 'Port of the ops HTTP listener; 0 picks a free port.' },
  opsCacheMs: { type: duration, default: 1000, help: '/status and /metrics are computed at most once per interval; every request within it is served the same bytes. 0 computes them per request.' },
  statusAccess: { type: { kind: 'enum', values: ['loopback', 'any'] }, default: 'loopback', help: 'Who may read /status, which names every client: loopback peers only (kubectl exec or port-forward), or any peer that reaches the ops port.' },

  maxBatchSize: { type: count(1, 100_000), default: 100, help: 'Most updates per breadcrumb.' },
  maxMessageKvs: { type: count(1, 100_000), default: 100, help: 'Most KVs per delta frame; deltas of breadcrumbs already minted are coalesced up to this, so a client that is behind catches up in fewer frames.' },
  snapshotFrameKvs: { type: count(1, 100_000), default: 1000, help: 'Most KVs per snapshot frame.' },
  snapshotReuseMs: { type: duration, default: 1000, help: 'A shared snapshot is reused by clients joining within this time, until a newer breadcrumb exists.' },
  maxValueBytes: { type: count(4096, 64 * 1024 * 1024), default: DEFAULT_MAX_VALUE_BYTES, help: 'Largest encoded update (MessagePack key, value and revision) published; a larger value is invalid: its key is deleted, logged and counted. Clients must accept frames of this plus 65,553 bytes.' },

  pingIntervalMs: { type: duration, default: 10_000, help: 'Interval between server pings.' },
  pongTimeoutMs: { type: duration, default: 60_000, help: 'A session without a pong for this long is terminated.' },
  handshakeTimeoutMs: { type: duration, default: 10_000, help: 'Time allowed from TCP accept (including TLS) to the hello.' },
  writeTimeoutMs: { type: duration, default: 120_000, help: 'A session whose socket accepts no bytes for this long is terminated.' },
  sendHighWaterMarkBytes: { type: count(1024), default: 4 * 1024 * 1024, help: 'A session stops pulling frames while its socket buffers more than this.' },
  maxInboundFrameBytes: { type: count(256, 16 * 1024 * 1024), default: MAX_INBOUND_FRAME_BYTES, help: 'Largest client frame accepted; larger frames close the connection before being buffered.' },
  maxInboundFramesPerSecond: { type: count(1, 1_000_000), default: 10, help: 'Sustained rate of client frames (messages, pings, pongs) allowed per connection; faster clients are closed with 4008.' },
  inboundFrameBurst: { type: count(1, 1_000_000), default: 100, help: 'Client frames allowed in a burst above that rate.' },

  maxFallBehindMs: { type: duration, default: 300_000, help: 'A client further behind than this (between breadcrumb timestamps) is disconnected.' },
  newClientGracePeriodMs: { type: duration, default: 300_000, help: 'After a client acknowledges its snapshot, fall-behind is tolerated for this long (once per connection).' },
  resumeRetentionMs: { type: duration, default: 300_000, help: 'Breadcrumbs superseded less than this long ago stay retained, so a client that reconnects to this replica within it resumes with only the deltas it missed (no snapshot). 0 disables resume.' },
  resumeRetentionBytes: { type: count(0), default: 32 * 1024 * 1024, help: 'Most encoded bytes of deltas retained for resume (the history behind the newest breadcrumb); at most --max-backlog-bytes. 0 disables resume.' },
  digestCatchup: { type: bool, default: true, help: 'Answer a client that uploads bucket digests with only the buckets that differ (digest catch-up on any replica); false: such clients get a full snapshot.' },
  maxBacklogBytes: { type: count(1024), default: 64 * 1024 * 1024, help: 'A client with more than this many encoded bytes of deltas minted but not yet sent to it is disconnected (4010), in any phase and even in its grace period: it bounds the history one session keeps alive.' },

  maxConnectionsUpperLimit: { type: count(1), default: 10_000, help: 'Connection limit with one replica, on lookup errors, and the clamp ceiling.' },
  maxConnectionsLowerLimit: { type: count(1), default: 400, help: 'Clamp floor of the computed connection limit.' },
  connectionDropIntervalMs: { type: duration, default: 1000, help: 'While over the connection limit, one session is dropped per interval (jittered), from the sources holding more than their share first.' },
  maxConnectionsPerSource: { type: count(0), default: 16, help: 'Most connections one source (peer IP address) may hold; more are refused with HTTP 429 at the upgrade. 0 means no cap.' },
  handshakeFailureLogIntervalMs: { type: duration, default: 10_000, help: 'Failed TLS handshakes and refused upgrades are logged at most once per interval, as a summary with counts.' },
  connectionRebalancing: { type: { kind: 'enum', values: ['none', 'kubernetes'] }, default: 'none', help: 'kubernetes: compute the connection limit from replicas (EndpointSlices) and nodes.' },
  k8sPollIntervalMs: { type: duration, default: 30_000, help: 'Interval of the connection-limit computation.' },
  k8sServiceName: { type: str, default: 'cattail', help: 'Service whose EndpointSlices count the replicas.' },
  k8sPortName: { type: str, default: 'cattail', help: 'Name of the sync port in those EndpointSlices; only slices with it count.' },
  k8sNamespace: { type: str, default: '', help: 'Namespace of that Service; empty means the POD_NAMESPACE variable, else "default".' },

  shutdownTimeoutMs: { type: duration, default: 300_000, help: 'On SIGTERM, sessions are dropped spread over 95% of this.' },
  shutdownMaxDropIntervalMs: { type: duration, default: 1000, help: 'Cap on the interval between drops during shutdown.' },
  staleUpstreamMs: { type: duration, default: 60_000, help: 'A kind whose list/watch has been down this long marks the syncer out of sync and readiness false.' },

  tlsCertFile: { type: str, default: '', help: 'Server certificate (PEM) for TLS on the sync port.' },
  tlsKeyFile: { type: str, default: '', help: 'Server private key (PEM).', secret: true },
  tlsCaFile: { type: str, default: '', help: 'CA bundle (PEM) that client certificates must chain to (mTLS).' },
  tlsClientCommonNames: { type: { kind: 'list' }, default: [], help: 'Allowed client certificate Common Names.' },
  tlsClientUriSans: { type: { kind: 'list' }, default: [], help: 'Allowed client certificate URI SANs (either list matching is enough).' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

type ValueOf<T extends OptionType> = T extends { kind: 'int' | 'duration' } ? number
  : T extends { kind: 'bool' } ? boolean
  : T extends { kind: 'list' } ? readonly string[]
  : T extends { kind: 'enum'; values: readonly (infer V)[] } ? V
  : string;

/** The validated, frozen configuration. */
export type Config = { readonly [K in OptionName]: ValueOf<(typeof OPTIONS)[K]['type']> } & {
  readonly syncerTypes: readonly (typeof SYNCER_TYPES)[number][];
};

export const flagName = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const envName = (name: string): string => `CATTAIL_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
