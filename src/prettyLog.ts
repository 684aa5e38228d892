/**
 * One pino JSON line rewritten for a person at a terminal: `12:03:04.567 INFO  message  key=value`,
 * an error's stack on the lines below. Used only when stdout is a TTY; files, pipes and log
 * collectors keep the JSON.
 */
const COLOURS: Readonly<Record<string, string>> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
const OMITTED = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname', 'err']);

export function prettyLine(json: string, options: { colour: boolean }): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json; // not ours to reformat
  }
  const level = String(entry.level ?? 'info');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const label = level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  const err = entry.err as { type?: string; message?: string; stack?: string } | undefined;
  const paint = (code: string | undefined, text: string) => (options.colour && code !== undefined ? `\u001b[${code}m${text}\u001b[0m` : text);
  let line = `${paint('90', time)} ${paint(COLOURS[level], label)} ${String(entry.msg ?? '')}`;
  if (fields.length > 0) line += `  ${paint('90', fields.join(' '))}`;
  if (err !== undefined) line += `\n    ${(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`).split('\n').join('\n    ')}`;
  return `${line}\n`;
}
