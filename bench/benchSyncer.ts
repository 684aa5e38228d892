/**
 * The syncer spec the bench server runs under the name `felix`: pods through Calico's real
 * Pod → WorkloadEndpoint conversion, and the bench's stamped delta objects through `deltaKV`.
 */
import { syncerSpecs } from '../src/calico/index.ts';
import type { SyncerTypeSpec } from '../src/syncer/types.ts';
import { DELTA_KIND, deltaKV, POD_KIND } from './workload.ts';

export function benchSyncerSpec(): SyncerTypeSpec {
  const felix = syncerSpecs().felix;
  return {
    name: 'felix',
    kinds: [POD_KIND, DELTA_KIND],
    convert: (kind, obj) => (kind.id === DELTA_KIND.id ? [deltaKV(obj)] : felix.convert(kind, obj)),
  };
}
