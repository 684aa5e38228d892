/**
 * Polls `check` every 10 ms until it returns true, failing with `what` after `timeoutMs`. The
 * default is generous on purpose: the suite must pass on 2 cores with both busy, and a bound
 * only costs time when the test is failing anyway.
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
