/**
 * The conformance suite: every scenario in scenarios/ against the TypeScript client and the Go
 * client, through their adapters, over real WebSockets. Also runs the Go module's `go vet` and
 * `go test`, building everything once, offline, from Debian's packaged Go sources.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { GO_MODULE_DIR, go, prepareGoWorkspace, type GoWorkspace } from './goToolchain.ts';
import { loadScenarios } from './scenario.ts';
import { runScenario } from './runScenario.ts';

const scenarios = loadScenarios();
const node = process.execPath;
let ws: GoWorkspace | undefined;
let goSetupError: Error | undefined;

before(() => {
  try {
    ws = prepareGoWorkspace();
    go(ws, ['build', '-o', 'bin/', './cmd/conformance-adapter', './examples/agent']);
  } catch (err) {
    goSetupError = err as Error;
  }
});

after(() => {
  if (ws !== undefined) rmSync(ws.dir, { recursive: true, force: true });
});

function goWorkspace(): GoWorkspace {
  if (goSetupError !== undefined) throw goSetupError;
  return ws!;
}

describe('the Go client module', () => {
  test('is gofmt-clean and go vet finds nothing', () => {
    goWorkspace();
    const gofmt = spawnSync('gofmt', ['-l', GO_MODULE_DIR, path.join(import.meta.dirname, 'adapters', 'go')], { encoding: 'utf8' });
    assert.equal(gofmt.status, 0, gofmt.stderr);
    assert.equal(gofmt.stdout, '', `files gofmt would change:\n${gofmt.stdout}`);
    go(goWorkspace(), ['vet', './...']);
  });

  test('passes its own go test', () => {
    const output = go(goWorkspace(), ['test', '-count=1', './...']);
    assert.match(output, /^ok\s+github\.com\/cattail\/cattail\/clients\/go\s/m);
  });
});

const clients: { name: string; command: () => string[] }[] = [
  { name: 'TypeScript client', command: () => [node, path.join(import.meta.dirname, 'adapters', 'typescript.ts')] },
  { name: 'Go client', command: () => [path.join(goWorkspace().dir, 'bin', 'conformance-adapter')] },
];

for (const client of clients) {
  // Scenarios mostly wait (pauses, backoff, read timeouts), so a few run side by side; each has
  // its own server on its own port.
  describe(`the ${client.name} passes the conformance scenario`, { concurrency: 4 }, () => {
    for (const scenario of scenarios) {
      test(`${scenario.name}: ${scenario.description}`, async () => {
        const result = await runScenario(scenario, client.command());
        assert.deepEqual(result.problems, [], `events: ${JSON.stringify(result.events).slice(0, 3000)}`);
      });
    }
  });
}
