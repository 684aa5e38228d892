/**
 * Child-process entry: the file-datastore start scenario (scenarios/fileStart.ts: 60,000 pods, or
 * 6,000 with `quick`) run alone in a fresh process, so its memory can be read without the bench
 * orchestrator's: the process RSS before the start, its high-water mark (getrusage maxRSS, which
 * includes the YAML parser worker thread and the files being written) and, sampled every 50 ms
 * while the server runs, the largest RSS and V8 heap seen.
 */
import { type BenchContext, DEFAULT_SIZES, QUICK_SIZES } from './context.ts';
import { serveIpc } from './ipc.ts';
import type { ScenarioResult } from './report.ts';
import { fileStart } from './scenarios/fileStart.ts';

export interface FileStartScale {
  readonly result: ScenarioResult;
  readonly baselineRssBytes: number;
  readonly maxRssBytes: number;
  readonly sampledPeakRssBytes: number;
  readonly sampledPeakHeapBytes: number;
}

async function run(quick: boolean): Promise<FileStartScale> {
  const baselineRssBytes = process.memoryUsage.rss();
  let rss = 0;
  let heap = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 50);
  try {
    // fileStart reads only `quick` (6,000 pods, else 60,000) and the sizes
    // and the logger; the runner's other options (profiling, pinning, peers) do not apply to it.
    const ctx = { sizes: quick ? QUICK_SIZES : DEFAULT_SIZES, quick, profileDir: undefined, log: () => {} } as unknown as BenchContext;
    const result = await fileStart(ctx);
    return { result, baselineRssBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024, sampledPeakRssBytes: rss, sampledPeakHeapBytes: heap };
  } finally {
    clearInterval(timer);
  }
}

if (import.meta.main) serveIpc({ run: (a: { quick: boolean }) => run(a.quick) });
