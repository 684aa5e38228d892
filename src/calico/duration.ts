/**
 * Go `time.Duration` parsing and printing, and Go's `%v` of a float64. Calico values carry
 * durations the way Go prints them (`120s` is stored as `2m0s`), and FelixConfiguration
 * durations become config strings through `fmt.Sprintf("%v", seconds)`, so both formats must
 * match Go byte for byte. Durations are BigInt nanoseconds because int64 nanoseconds exceed
 * the range a double holds exactly.
 */

const UNIT_NS: Record<string, bigint> = {
  ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n,
  m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

/**
 * `time.ParseDuration` (Go 1.16, as Typha v3.20 is built); `undefined` when Go would reject
 * the text. Each `<number><unit>` part is checked for int64 overflow as Go checks it, and a
 * fraction is added the way Go adds it, through float64 (`int64(float64(f) * (float64(unit) /
 * scale))`), so a many-digit fraction rounds as it does in Go.
 */
export function parseGoDuration(text: string): bigint | undefined {
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') return undefined;
  let total = 0n;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest) as RegExpExecArray;
    const whole = m[1] ?? '';
    const frac = m[2] ?? '';
    if (whole === '' && frac === '') return undefined;
    rest = rest.slice(m[0].length);
    // Go's unit is everything up to the next digit or '.'.
    const unitText = /^[^0-9.]*/.exec(rest)?.[0] ?? '';
    const unit = UNIT_NS[unitText];
    if (unit === undefined) return undefined;
    rest = rest.slice(unitText.length);
    const v = BigInt(whole || '0');
    if (v > MAX_INT64 / unit) return undefined;
    let ns = v * unit;
    const { value: f, scale } = leadingFraction(frac);
    if (f > 0n) ns += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
    if (ns > MAX_INT64) return undefined;
    total += ns;
    if (total > MAX_INT64) return undefined;
  }
  return negative ? -total : total;
}

/** Go's `leadingFraction`: digits stop counting (and scaling) once the int64 would overflow. */
function leadingFraction(digits: string): { value: bigint; scale: number } {
  let value = 0n;
  let scale = 1;
  for (const c of digits) {
    if (value > MAX_INT64 / 10n) break;
    const next = value * 10n + BigInt(c);
    if (next > MAX_INT64) break;
    value = next;
    scale *= 10;
  }
  return { value, scale };
}

function fracDigits(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const frac = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/** `time.Duration.String()`: `2m0s`, `1h0m0s`, `1.5s`, `100ms`, `0s`. */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${fracDigits(u, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${fracDigits(u, 6)}ms`;
  const secs = fracDigits(u % 60_000_000_000n, 9);
  const totalMinutes = u / 60_000_000_000n;
  const hours = totalMinutes / 60n;
  const minutes = totalMinutes % 60n;
  if (hours > 0n) return `${sign}${hours}h${minutes}m${secs}s`;
  if (minutes > 0n) return `${sign}${minutes}m${secs}s`;
  return `${sign}${secs}s`;
}

/**
 * Go's `fmt.Sprintf("%v", f)` for a float64: the shortest round-trip digits, switching to
 * exponent form (`1e+06`, at least two exponent digits) when the decimal exponent is below -4
 * or at least 6, because `%v` is `%g` with shortest precision and strconv then uses 6 as the
 * threshold. So 86400 s prints as `86400` but 1000000 s as `1e+06`.
 */
export function formatGoFloat(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
  const [mantissa = '', expText = '0'] = value.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp).toString().padStart(2, '0');
    return `${mantissa}e${exp < 0 ? '-' : '+'}${abs}`;
  }
  return String(value);
}

/** FelixConfiguration duration → seconds as `%v` (`90s` → `90`, `100ms` → `0.1`). */
export function durationSecondsV(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const rem = ns % 1_000_000_000n;
  return formatGoFloat(Number(sec) + Number(rem) / 1e9);
}

/** The `configv1timescale:"milliseconds"` form (`54.321ms` → `54.321`). */
export function durationMillisV(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const rem = ns % 1_000_000n;
  return formatGoFloat(Number(ms) + Number(rem) / 1e6);
}
