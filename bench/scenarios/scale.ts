import type { BenchContext } from '../context.ts';
import type { ScenarioResult } from '../report.ts';

/** Scaling curves (issue 14 part 4): being written. */
export async function scale(_ctx: BenchContext): Promise<ScenarioResult> {
  throw new Error('the scale scenario is not written yet');
}
