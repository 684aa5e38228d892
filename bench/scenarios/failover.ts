import type { BenchContext } from '../context.ts';
import type { ScenarioResult } from '../report.ts';

/** Failover and network-cut catch-up (issue 13): being written. */
export async function failover(_ctx: BenchContext): Promise<ScenarioResult> {
  throw new Error('the failover scenario is not written yet');
}
