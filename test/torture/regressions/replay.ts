/**
 * Replays a shrunk torture schedule saved as JSON next to its regression test. To add one: copy
 * the file `npm run torture` wrote for a failing seed to `test/torture/regressions/<what-broke>.json`
 * and add `<what-broke>.test.ts` calling `replayRegression('<what-broke>.json', '<sentence>')`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runSchedule } from '../executor.ts';
import type { Schedule } from '../schedule.ts';

export function replayRegression(file: string, sentence: string, attempts = 2): void {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const schedule = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Schedule;
  test(sentence, async () => {
    // Timing-dependent bugs do not fail every run; any failing attempt fails the test.
    for (let i = 0; i < attempts; i++) {
      const r = await runSchedule(schedule);
      assert.ok(r.ok, `${file} (seed ${schedule.seed}), attempt ${i + 1}:\n${r.failures.join('\n')}`);
    }
  });
}
