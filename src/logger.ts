import { pino, type Logger, type LoggerOptions } from 'pino';
import { prettyLine } from './prettyLog.ts';

export type { Logger };

/** Where log lines go: a stream such as process.stdout (a terminal gets readable lines). */
export interface LogDestination {
  write(line: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * Builds the process logger. Only main.ts calls this; everything else receives a Logger.
 * Lines are pino JSON with the level as a string and an ISO-8601 time, which is what log
 * stacks key on; when the destination is a terminal, each line is rewritten for a person
 * instead (prettyLog.ts, no extra dependency, so a production install behaves the same).
 */
export function createLogger(level: string, destination: LogDestination = process.stdout, options: LoggerOptions = {}): Logger {
  const base: LoggerOptions = {
    level,
    base: { svc: 'cattail' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...options,
  };
  const stream = destination.isTTY === true
    ? { write: (line: string) => destination.write(prettyLine(line, { colour: true })) }
    : destination;
  return pino(base, stream);
}

/** A logger that discards everything, for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
