/**
 * Runs one scenario against one client adapter: starts the scenario server, starts the adapter
 * pointed at it, waits until every connection script has run and the client has reached the
 * scenario's end (its final status, or a stop), then ends the adapter's stdin and reads its
 * outcome. Returns every way the outcome differs from the scenario's expectation.
 */
import { spawn } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { eventually } from '../support/eventually.ts';
import type { Scenario } from './scenario.ts';
import { ScenarioServer } from './scenarioServer.ts';

interface AdapterEvent {
  readonly event: string;
  readonly status?: string;
  readonly code?: string;
  readonly reason?: string;
  readonly state?: Record<string, unknown>;
  readonly statuses?: string[];
}

export interface ScenarioResult {
  readonly problems: string[];
  readonly events: AdapterEvent[];
}

/** How long a scenario may take to reach its end on a busy machine before it counts as failed. */
const SCENARIO_BOUND_MS = 90_000;

function isSubsequence(want: readonly string[], got: readonly string[]): boolean {
  let i = 0;
  for (const g of got) if (i < want.length && g === want[i]) i++;
  return i === want.length;
}

export async function runScenario(scenario: Scenario, adapter: readonly string[]): Promise<ScenarioResult> {
  const server = new ScenarioServer(scenario);
  const url = await server.listening();
  const config = { url, syncerType: scenario.client.syncerType ?? 'felix', readTimeoutMs: scenario.client.readTimeoutMs };
  const child = spawn(adapter[0]!, [...adapter.slice(1), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: AdapterEvent[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== '') events.push(JSON.parse(line) as AdapterEvent);
    }
  });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  // 'close', not 'exit': only then has all of the adapter's stdout been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const problems: string[] = [];
  const { expect } = scenario;
  const stoppedForGood = (): boolean => events.some((e) => e.event === 'stopped' && e.reason !== 'closed');
  const statusesSoFar = (): string[] => events.filter((e) => e.event === 'status').map((e) => e.status!);
  // The end: every status expected has been told, in order, and the last one is the final one.
  const reachedEnd = (): boolean => isSubsequence(expect.statuses, statusesSoFar()) && statusesSoFar().at(-1) === expect.finalStatus;
  try {
    await eventually(
      () => server.failures.length > 0 || (server.allScriptsDone && (expect.stopped ? stoppedForGood() : reachedEnd())),
      `scenario ${scenario.name} to reach its end`, SCENARIO_BOUND_MS,
    );
  } catch (err) {
    problems.push((err as Error).message);
  }
  child.stdin.end();
  const code = await exited;
  await server.close();
  problems.push(...server.failures);
  if (code !== 0) problems.push(`adapter exited with ${code}: ${stderr.slice(-2000)}`);
  const final = events.find((e) => e.event === 'final');
  if (final === undefined) {
    problems.push('adapter printed no final outcome');
    return { problems, events };
  }
  if (expect.keyCount !== undefined) {
    const size = Object.keys(final.state ?? {}).length;
    if (size !== expect.keyCount) problems.push(`final state has ${size} keys, expected ${expect.keyCount}`);
    for (const [k, v] of Object.entries(expect.state)) {
      if (!isDeepStrictEqual(final.state?.[k], v)) problems.push(`final state ${k} = ${JSON.stringify(final.state?.[k])?.slice(0, 200)}, expected ${JSON.stringify(v).slice(0, 200)}`);
    }
  } else if (!isDeepStrictEqual(final.state, expect.state)) problems.push(`final state ${JSON.stringify(final.state).slice(0, 2000)}, expected ${JSON.stringify(expect.state).slice(0, 2000)}`);
  if (!isSubsequence(expect.statuses, final.statuses ?? [])) problems.push(`statuses ${JSON.stringify(final.statuses)} do not contain ${JSON.stringify(expect.statuses)} in order`);
  if (expect.finalStatus !== undefined && final.statuses?.at(-1) !== expect.finalStatus) problems.push(`last status ${final.statuses?.at(-1)}, expected ${expect.finalStatus}`);
  if (stoppedForGood() !== expect.stopped) problems.push(`stopped for good: ${stoppedForGood()}, expected ${expect.stopped}`);
  if (server.connections !== expect.connections) problems.push(`${server.connections} connections, expected ${expect.connections}`);
  const errors = new Set(events.filter((e) => e.event === 'error').map((e) => e.code));
  for (const e of expect.errors) if (!errors.has(e)) problems.push(`error ${e} not reported (reported: ${[...errors].join(', ') || 'none'})`);
  return { problems, events };
}
