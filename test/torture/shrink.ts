/**
 * Delta debugging (Zeller's ddmin) over a failing schedule's steps: find a smaller subsequence
 * that still fails. Runs are timing-dependent, so a candidate counts as failing if any of
 * `attempts` runs fails, and the search stops at a run budget rather than insisting on 1-minimality.
 */
import type { RunResult } from './executor.ts';
import type { Schedule, Step } from './schedule.ts';

export interface ShrinkOptions {
  /** Most candidate runs in total. Default 60. */
  readonly budget?: number;
  /** Runs per candidate. Default 1. */
  readonly attempts?: number;
  readonly log?: (line: string) => void;
}

export async function shrinkSchedule(
  schedule: Schedule, run: (s: Schedule) => Promise<RunResult>, options: ShrinkOptions = {},
): Promise<{ schedule: Schedule; runs: number; lastFailure: readonly string[] }> {
  const budget = options.budget ?? 60;
  const attempts = options.attempts ?? 1;
  let runs = 0;
  let lastFailure: readonly string[] = [];
  const fails = async (steps: readonly Step[]): Promise<boolean> => {
    for (let i = 0; i < attempts && runs < budget; i++) {
      runs++;
      const r = await run({ ...schedule, steps });
      if (!r.ok) {
        lastFailure = r.failures;
        return true;
      }
    }
    return false;
  };
  let current = [...schedule.steps];
  let n = 2;
  while (current.length >= 2 && runs < budget) {
    const size = Math.ceil(current.length / n);
    const chunks: Step[][] = [];
    for (let i = 0; i < current.length; i += size) chunks.push(current.slice(i, i + size));
    let reduced = false;
    // Try each complement first (removing one chunk); then each chunk alone.
    for (let i = 0; i < chunks.length && runs < budget; i++) {
      const complement = chunks.filter((_, j) => j !== i).flat();
      if (await fails(complement)) {
        options.log?.(`  shrink: ${current.length} → ${complement.length} steps`);
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      for (let i = 0; i < chunks.length && runs < budget && chunks.length > 2; i++) {
        if (await fails(chunks[i]!)) {
          options.log?.(`  shrink: ${current.length} → ${chunks[i]!.length} steps`);
          current = chunks[i]!;
          n = 2;
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(current.length, n * 2);
    }
  }
  return { schedule: { ...schedule, steps: current }, runs, lastFailure };
}
