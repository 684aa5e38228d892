import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Builds the process logger (JSON lines on stdout). Only main.ts calls this; everything else receives a Logger. */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  return pino({ level, base: { svc: 'cattail' }, ...options });
}

/** A logger that discards everything, for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
