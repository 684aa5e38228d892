/**
 * Child-process entry: one Cattail replica of the failover scenario, on the Kubernetes datastore
 * (the emulator, through a kubeconfig), with real listeners on 127.0.0.1. Answers over IPC with
 * its address and instance id, its newest breadcrumb, readiness, its model as the verifying
 * digests (decoded: bench/modelDigest.ts; raw: the level-16 bucket digests of the KV bytes it
 * sends, spec13 §A.8) and its catch-up metrics. Options arrive as JSON in argv[2].
 */
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/logger.ts';
import { type Cattail, startCattail } from '../../src/main.ts';
import { Codec, kvHash } from '../../src/protocol/index.ts';
import { serveIpc } from '../ipc.ts';
import { modelDigest } from '../modelDigest.ts';
import { bucket16Of } from './keyTable.ts';
import { digestTableSha256 } from './heldKeys.ts';

export interface ReplicaOptions {
  readonly kubeconfig: string;
  readonly flags: readonly string[];
}

export interface ReplicaModel {
  readonly keys: number;
  readonly sha1: string;
  readonly tableSha256: string;
  /** The same table from the protocol module's bucket (EncodedKV.bucket16) and kvHash: a cross-check of two readings of spec13 §A.8. */
  readonly protocolTableSha256: string;
  readonly encodedBytes: number;
  readonly seq: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as ReplicaOptions;
  const flags = ['--sync-host', '127.0.0.1', '--sync-port', '0', '--ops-host', '127.0.0.1', '--ops-port', '0', '--syncer-types', 'felix',
    '--log-level', 'error', '--max-connections-per-source', '0', '--datastore', 'kubernetes', '--kubeconfig', opts.kubeconfig, ...opts.flags];
  const parsed = parseConfig(flags, {});
  if (parsed.help) throw new Error('unexpected --help');
  const registry = new Registry();
  const app: Cattail = await startCattail(parsed.config, { logger: createLogger('error'), registry });
  const codec = new Codec();
  const cache = () => {
    const c = app.caches.get('felix');
    if (c === undefined) throw new Error('felix not served');
    return c;
  };
  serveIpc({
    address: () => ({ url: `ws://127.0.0.1:${app.syncAddress.port}/sync`, port: app.syncAddress.port, instanceId: app.server.serverInstanceId }),
    inSync: () => app.syncers.get('felix')?.status === 'in-sync' && cache().current().status === 'in-sync',
    seq: () => cache().current().seq,
    model: (): ReplicaModel => {
      const current = cache().current();
      let encodedBytes = 0;
      const entries: Array<readonly [string, unknown]> = [];
      const table = new Uint32Array(2 << 16);
      const protocolTable = new Uint32Array(2 << 16);
      for (const [key, kv] of current.kvs.entries()) {
        encodedBytes += kv.bytes.length;
        entries.push([key, codec.decodeAny(kv.bytes.subarray(kv.valueStart, kv.valueEnd))]);
        // The KV hash covers the key and value elements exactly as sent: bytes [1, valueEnd) of the entry.
        const h = createHash('sha256').update(kv.bytes.subarray(1, kv.valueEnd)).digest();
        const b = bucket16Of(Buffer.from(key, 'utf8')) * 2;
        table[b] = ((table[b] as number) ^ h.readUInt32BE(0)) >>> 0;
        table[b + 1] = ((table[b + 1] as number) ^ h.readUInt32BE(4)) >>> 0;
        const p = kvHash(kv.bytes, 1, kv.valueEnd);
        const pb = kv.bucket16 * 2;
        protocolTable[pb] = ((protocolTable[pb] as number) ^ p.hi) >>> 0;
        protocolTable[pb + 1] = ((protocolTable[pb + 1] as number) ^ p.lo) >>> 0;
      }
      return { ...modelDigest(entries), tableSha256: digestTableSha256(table), protocolTableSha256: digestTableSha256(protocolTable), encodedBytes, seq: current.seq };
    },
    /** Every cattail_catchup_* / cattail_retention_* / snapshot counter the server registers, as name{labels} → value. */
    metrics: async () => {
      const out: Record<string, number> = {};
      for (const m of await registry.getMetricsAsJSON()) {
        if (!/^cattail_(catchup|retention|snapshots|snapshot_raw|probes)/.test(m.name)) continue;
        for (const v of m.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>) {
          const labels = Object.entries(v.labels).map(([k, x]) => `${k}="${x}"`).join(',');
          out[`${v.metricName ?? m.name}{${labels}}`] = v.value;
        }
      }
      return out;
    },
    exit: async () => {
      await app.close();
    },
  });
}

if (import.meta.main) await main();
