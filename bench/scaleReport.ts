/**
 * Presentation of the scaling curves (scenarios/scale.ts): small Markdown tables an operator
 * sizes a replica by, and the growth of a cost per unit (per key, per agent, per connection)
 * from the smallest size measured to the largest, which says whether a curve grows faster than
 * linearly.
 */

export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

export function markdown(t: Table): string {
  return [
    `**${t.title}**`,
    '',
    `| ${t.header.join(' | ')} |`,
    `|${t.header.map(() => '---:').join('|')}|`,
    ...t.rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Figures with a precision that suits their size: 3 significant digits, thousands separated. */
export function num(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 10 ** digits) return Math.round(n).toLocaleString('en-US');
  if (a === 0) return '0';
  return Number(n.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

export const MIB = 1024 * 1024;
export const KIB = 1024;

export function mib(bytes: number): string {
  return num(bytes / MIB);
}

/**
 * A cost per unit at the largest size over the same at the smallest: 1 is linear growth of the
 * total, above 1 faster than linear. Moves of ±25 % are within this machine's run-to-run noise,
 * so only a larger ratio is called faster than linear.
 */
export interface Growth {
  readonly what: string;
  readonly from: string;
  readonly to: string;
  readonly ratio: number;
}

export const SUPERLINEAR_RATIO = 1.25;

export function growth(what: string, points: ReadonlyArray<{ readonly size: number; readonly perUnit: number }>, unit: string): Growth {
  const first = points[0];
  const last = points[points.length - 1];
  if (first === undefined || last === undefined) return { what, from: '', to: '', ratio: Number.NaN };
  return { what, from: `${num(first.size)} ${unit}`, to: `${num(last.size)} ${unit}`, ratio: last.perUnit / first.perUnit };
}

export function describeGrowth(g: Growth): string {
  const verdict = g.ratio > SUPERLINEAR_RATIO ? 'FASTER than linear' : g.ratio < 1 / SUPERLINEAR_RATIO ? 'slower than linear' : 'about linear';
  return `${g.what}: ×${num(g.ratio, 2)} per unit from ${g.from} to ${g.to} (${verdict})`;
}
