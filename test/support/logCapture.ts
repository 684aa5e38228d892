import { pino } from 'pino';
import type { Logger } from '../../src/logger.ts';

/** A real pino logger whose JSON lines are kept, parsed, for tests that assert on logs. */
export function captureLogs(level = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } }) as unknown as Logger;
  return { logger, lines };
}
