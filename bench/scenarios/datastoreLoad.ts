import type { BenchContext } from '../context.ts';
import type { ScenarioResult } from '../report.ts';
export async function datastoreLoad(_ctx: BenchContext): Promise<ScenarioResult> {
  throw new Error('not yet');
}
