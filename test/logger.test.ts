/**
 * The process logger: pino JSON with the level as a string and an ISO time for log stacks;
 * readable lines when the destination is a terminal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../src/logger.ts';

function destination(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, dest: { isTTY, write: (chunk: string) => { lines.push(chunk); } } };
}

describe('process logger', () => {
  test('off a terminal, each line is JSON with the level as a string and an ISO-8601 time', () => {
    const { lines, dest } = destination(false);
    const logger = createLogger('info', dest);
    logger.debug('not shown');
    logger.warn({ conn: 'c1' }, 'slow client');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.level, 'warn');
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(String(entry.time)) - Date.now()) < 60_000);
    assert.deepEqual([entry.svc, entry.conn, entry.msg], ['cattail', 'c1', 'slow client']);
  });

  test('on a terminal, each line is for a person: time, level, message, fields, and an error\'s stack below', () => {
    const { lines, dest } = destination(true);
    const logger = createLogger('info', dest);
    logger.info({ sync: 'ws://127.0.0.1:5473/sync', count: 3 }, 'ready for agents');
    logger.error({ err: new Error('boom') }, 'request failed');
    const plain = lines.map((l) => l.replace(/\u001b\[\d+m/g, ''));
    assert.match(plain[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}ready for agents {2}sync=ws:\/\/127\.0\.0\.1:5473\/sync count=3\n$/);
    assert.doesNotMatch(plain[0]!, /^\{/);
    assert.match(plain[1]!, /^\d\d:\d\d:\d\d\.\d{3} ERROR request failed\n {4}Error: boom\n +at /);
  });
});
