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

/** `time.ParseDuration`; `undefined` when Go would reject the text. */
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
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/u;
  while (rest !== '') {
    const m = part.exec(rest);
    if (!m) return undefined;
    const whole = m[1] ?? '';
    const frac = m[2] ?? '';
    if (whole === '' && frac === '') return undefined;
    const unit = UNIT_NS[m[3] as string] as bigint;
    let ns = BigInt(whole || '0') * unit;
    if (frac !== '') {
      // Go truncates the fraction towards zero at nanosecond precision.
      const scale = 10n ** BigInt(frac.length);
      ns += (BigInt(frac) * unit) / scale;
    }
    total += ns;
    if (total > MAX_INT64 + (negative ? 1n : 0n)) return undefined;
    rest = rest.slice(m[0].length);
  }
  return negative ? -total : total;
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
