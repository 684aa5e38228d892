import { Counter, Gauge, Histogram, type Registry, collectDefaultMetrics } from 'prom-client';
import { ETCD_KINDS, KINDS } from './datastore/kinds.ts';
import { WIRE_SYNC_STATUSES } from './protocol/messages.ts';
import { CATCH_UP_OUTCOMES } from './server/catchUpPlan.ts';
import type { CloseReason } from './server/session.ts';

/**
 * Every value of `cattail_connections_closed_total{reason}`. A Record rather than a list so the
 * type checker insists on each CloseReason: a reason missing here would have no series until
 * its first close, and `increase()` never sees that first one.
 */
const CLOSE_REASONS: Record<CloseReason, true> = {
  client: true, protocol: true, 'handshake-timeout': true, 'fell-behind': true, 'write-timeout': true,
  'pong-timeout': true, rebalance: true, shutdown: true, error: true, 'rate-limit': true, 'left-stale': true, probe: true,
};

/** What the retention gauges read from one syncer type's cache (SnapshotCache.retentionStats). */
export interface RetentionStats {
  readonly breadcrumbs: number;
  readonly deltaBytes: number;
  readonly oldestAgeMs: number;
}

/**
 * Every Cattail metric, registered on the registry passed in (never the global one), so tests
 * and multiple servers in one process do not collide. Names mirror Typha's `typha_*` set with a
 * `cattail_` prefix; labels are bounded (`syncer`, `kind`, `reason`), never per client.
 */
export function createMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const registers = [registry];
  const syncer = ['syncer'] as const;
  // Read at scrape time, so the gauges cost nothing between scrapes (see watchRetention).
  const retention = new Map<string, () => RetentionStats>();
  const retentionGauge = (name: string, help: string, read: (s: RetentionStats) => number) => new Gauge({
    name, help, labelNames: syncer, registers,
    collect() {
      for (const [syncerType, stats] of retention) this.set({ syncer: syncerType }, read(stats()));
    },
  });
  const metrics = {
    breadcrumbSeq: new Gauge({ name: 'cattail_breadcrumb_seq_number', help: 'Sequence number of the newest breadcrumb.', labelNames: syncer, registers }),
    breadcrumbSize: new Histogram({ name: 'cattail_breadcrumb_size', help: 'Deltas per breadcrumb.', labelNames: syncer, buckets: [0, 1, 5, 10, 25, 50, 90, 100, 250, 1000], registers }),
    updatesTotal: new Counter({ name: 'cattail_updates_total', help: 'Updates received by the snapshot cache.', labelNames: syncer, registers }),
    updatesSkipped: new Counter({ name: 'cattail_updates_skipped_total', help: 'Updates skipped because their value was byte-identical to the stored one.', labelNames: syncer, registers }),
    cacheSize: new Gauge({ name: 'cattail_cache_size', help: 'Keys in the snapshot cache.', labelNames: syncer, registers }),
    snapshotsGenerated: new Counter({ name: 'cattail_snapshots_generated_total', help: 'Shared snapshots encoded.', labelNames: syncer, registers }),
    snapshotsReused: new Counter({ name: 'cattail_snapshots_reused_total', help: 'Client snapshots served from an already encoded shared snapshot.', labelNames: syncer, registers }),
    snapshotRawBytes: new Gauge({ name: 'cattail_snapshot_raw_bytes', help: 'Encoded size of the newest shared snapshot.', labelNames: syncer, registers }),
    snapshotSendSeconds: new Histogram({ name: 'cattail_snapshot_send_seconds', help: 'Time from hello to snapshotEnd written, per client.', labelNames: syncer, buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300], registers }),
    framePlainBytes: new Counter({ name: 'cattail_frame_plain_bytes_total', help: 'Plain bytes of shared frames compressed for clients that negotiated zstd, by syncer type and frame (snapshot, delta); counted once per frame, not per client.', labelNames: ['syncer', 'frame'] as const, registers }),
    frameCompressedBytes: new Counter({ name: 'cattail_frame_compressed_bytes_total', help: 'What those frames became (a frame that zstd does not shrink counts its plain size): plain ÷ compressed is the compression ratio.', labelNames: ['syncer', 'frame'] as const, registers }),
    snapshotBuildSeconds: new Histogram({ name: 'cattail_snapshot_build_seconds', help: 'Time to encode one shared snapshot.', labelNames: syncer, buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers }),
    connectionsAccepted: new Counter({ name: 'cattail_connections_accepted_total', help: 'Connections accepted on the sync port.', registers }),
    connectionsActive: new Gauge({ name: 'cattail_connections_active', help: 'Open sync connections, including those still in handshake.', registers }),
    connectionsStreaming: new Gauge({ name: 'cattail_connections_streaming', help: 'Connections past their snapshot, receiving deltas.', labelNames: syncer, registers }),
    connectionsDropped: new Counter({ name: 'cattail_connections_dropped_total', help: 'Connections shed because the server was over its connection limit.', registers }),
    connectionsRefused: new Counter({ name: 'cattail_connections_refused_total', help: 'WebSocket upgrades refused with an HTTP error, by reason.', labelNames: ['reason'] as const, registers }),
    tlsHandshakeFailures: new Counter({ name: 'cattail_tls_handshake_failures_total', help: 'TLS handshakes on the sync port that failed, by reason.', labelNames: ['reason'] as const, registers }),
    duplicateHellos: new Counter({ name: 'cattail_connections_duplicate_total', help: 'Hellos claiming a hostname and syncer type that a live session already claims.', labelNames: syncer, registers }),
    connectionsClosed: new Counter({ name: 'cattail_connections_closed_total', help: 'Connections ended, by reason.', labelNames: ['reason'] as const, registers }),
    backlogExceeded: new Counter({ name: 'cattail_connections_backlog_exceeded_total', help: 'Connections closed (4010) because the deltas waiting for them exceeded --max-backlog-bytes.', labelNames: syncer, registers }),
    graceUsed: new Counter({ name: 'cattail_connections_grace_used_total', help: 'Connections kept only because they were in their new-client grace period (counted once per connection).', labelNames: syncer, registers }),
    maxConnections: new Gauge({ name: 'cattail_connections_max', help: 'Current connection limit.', registers }),
    clientLatency: new Histogram({ name: 'cattail_client_latency_seconds', help: 'Lag of a client: newest breadcrumb timestamp minus the one being sent.', labelNames: syncer, buckets: [0.001, 0.01, 0.1, 1, 5, 10, 30, 60, 120, 300, 600], registers }),
    kvsPerMessage: new Histogram({ name: 'cattail_kvs_per_message', help: 'KVs per delta frame.', labelNames: syncer, buckets: [1, 5, 10, 50, 100, 200, 500, 1000], registers }),
    pingLatency: new Histogram({ name: 'cattail_ping_latency_seconds', help: 'Round trip from ping to pong.', buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers }),
    writeLatency: new Histogram({ name: 'cattail_write_latency_seconds', help: 'Time from queuing a frame to the socket accepting it (sampled: one frame in eight).', buckets: [0.0001, 0.001, 0.01, 0.1, 1, 10, 60], registers }),
    syncerStatus: new Gauge({ name: 'cattail_syncer_status', help: 'Sync status per syncer type: 0 wait-for-datastore, 1 resync-in-progress, 2 in-sync.', labelNames: syncer, registers }),
    kindUp: new Gauge({ name: 'cattail_datastore_kind_up', help: '1 while the list/watch of a kind is healthy.', labelNames: ['kind'] as const, registers }),
    kindStale: new Gauge({ name: 'cattail_datastore_kind_stale', help: '1 when a kind has been unable to list/watch for longer than the stale bound.', labelNames: ['kind'] as const, registers }),
    fileLimitExceeded: new Counter({ name: 'cattail_file_limit_exceeded_total', help: 'Times a manifest file, path or scan crossed a file-datastore limit (and was treated as broken), by limit.', labelNames: ['limit'] as const, registers }),
    fileBlockers: new Gauge({ name: 'cattail_file_blockers', help: 'Manifest paths broken and never read successfully in this process; while above 0 every syncer is out of sync.', registers }),
    opsRenders: new Counter({ name: 'cattail_ops_renders_total', help: 'Times /status or /metrics was computed; requests within --ops-cache-ms of a computation are served its bytes.', labelNames: ['endpoint'] as const, registers }),
    invalidObjects: new Counter({ name: 'cattail_datastore_invalid_objects_total', help: 'Objects or values that failed conversion or validation (their keys were deleted).', labelNames: ['kind'] as const, registers }),
    catchUps: new Counter({ name: 'cattail_catchup_total', help: 'Catch-ups completed (snapshotEnd sent), by the path taken (resume, digest, snapshot) and why (ok, or why a better path was not taken).', labelNames: ['syncer', 'path', 'reason'] as const, registers }),
    catchUpBytes: new Counter({ name: 'cattail_catchup_bytes_total', help: 'Bytes sent to clients from serverHello through snapshotEnd, by catch-up path.', labelNames: ['syncer', 'path'] as const, registers }),
    catchUpBytesSaved: new Counter({ name: 'cattail_catchup_bytes_saved_total', help: 'For resumes and digest catch-ups: the full snapshot\'s encoded size minus the bytes sent until snapshotEnd.', labelNames: syncer, registers }),
    retentionBytes: retentionGauge('cattail_retention_bytes', 'Encoded bytes of the deltas retained behind the newest breadcrumb for resume.', (s) => s.deltaBytes),
    retentionBreadcrumbs: retentionGauge('cattail_retention_breadcrumbs', 'Breadcrumbs retained for resume, the newest included.', (s) => s.breadcrumbs),
    retentionOldestSeconds: retentionGauge('cattail_retention_oldest_seconds', 'Age of the oldest breadcrumb a client can still resume from.', (s) => s.oldestAgeMs / 1000),
    probes: new Counter({ name: 'cattail_probes_total', help: 'Probe connections answered (a client asking only for the sync status, before leaving a stale replica), by the status answered.', labelNames: ['syncer', 'status'] as const, registers }),
    updatesInvalid: new Counter({ name: 'cattail_updates_invalid_total', help: "Model values that failed Typha's output filter (a validator rule or the --max-value-bytes bound) and were published as deletions, by syncer type and model kind.", labelNames: ['syncer', 'kind'] as const, registers }),
  };
  // Labelled counters start at 0 for every value of their bounded label set (the per-syncer
  // ones in initSyncerSeries, once the served syncer types are known).
  for (const reason of Object.keys(CLOSE_REASONS)) metrics.connectionsClosed.inc({ reason }, 0);
  for (const kind of Object.values(KINDS)) metrics.invalidObjects.inc({ kind: kind.id }, 0);
  for (const kind of Object.values(ETCD_KINDS)) metrics.invalidObjects.inc({ kind: kind.id }, 0);
  return {
    ...metrics,
    /** Feeds the retention gauges of one syncer type from its cache, read at each scrape. */
    watchRetention(syncerType: string, stats: () => RetentionStats): void {
      retention.set(syncerType, stats);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Creates every per-syncer series at zero, as Typha does, so dashboards show 0 rather than "no
 * data" for a syncer type that has not yet used grace, skipped an update or reused a snapshot.
 */
export function initSyncerSeries(metrics: Metrics, syncer: string): void {
  const l = { syncer };
  for (const c of [metrics.updatesTotal, metrics.updatesSkipped, metrics.snapshotsGenerated, metrics.snapshotsReused, metrics.graceUsed, metrics.backlogExceeded, metrics.duplicateHellos]) c.inc(l, 0);
  metrics.connectionsStreaming.set(l, 0);
  metrics.syncerStatus.set(l, 0);
  for (const frame of ['snapshot', 'delta']) for (const c of [metrics.framePlainBytes, metrics.frameCompressedBytes]) c.inc({ syncer, frame }, 0);
  for (const [path, reasons] of Object.entries(CATCH_UP_OUTCOMES)) {
    metrics.catchUpBytes.inc({ syncer, path }, 0);
    for (const reason of reasons) metrics.catchUps.inc({ syncer, path, reason }, 0);
  }
  metrics.catchUpBytesSaved.inc(l, 0);
  for (const status of WIRE_SYNC_STATUSES) metrics.probes.inc({ syncer, status }, 0);
}
