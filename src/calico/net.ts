/**
 * IP and CIDR parsing and printing with Go's `net` semantics, because model values and key
 * paths carry addresses exactly as Go prints them: IPv6 in RFC 5952 form (lower-case, longest
 * zero run compressed), CIDRs masked to their network where Calico calls `Network()`.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are IPv4 here, as they are for libcalico-go:
 * `cnet.ParseIP` and `cnet.ParseCIDR` keep the 4-byte form (`To4()`), `Version()` says 4, and
 * Go's `IP.String()` prints any mapped address dotted. A mapped CIDR with a prefix of at least
 * 96 is the IPv4 network of prefix − 96 (`::ffff:10.0.0.0/120` → `10.0.0.0/24`, what Go's
 * `IPNet.String()` prints); below 96 the mask clears the `ffff` marker and it stays IPv6.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IPAddr {
  readonly version: 4 | 6;
  readonly bytes: readonly number[];
}

export interface IPNet {
  readonly ip: IPAddr;
  readonly prefix: number;
}

/** Go's `net.ParseIP` then `To4()`, as `cnet.ParseIP` does: a mapped address is IPv4. */
export function parseIP(text: string): IPAddr | undefined {
  const ip = parseRawIP(text);
  return ip && isMapped(ip.bytes) ? { version: 4, bytes: ip.bytes.slice(12) } : ip;
}

/** `net.ParseIP` without `To4()`: a mapped address keeps its 16 bytes. */
function parseRawIP(text: string): IPAddr | undefined {
  if (isIPv4(text)) return { version: 4, bytes: text.split('.').map(Number) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return { version: 6, bytes: ipv6Bytes(text) };
}

/** Go's `To4()` test on 16 bytes: ten zero bytes, then `ff ff`. */
function isMapped(bytes: readonly number[]): boolean {
  return bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function ipv6Bytes(text: string): number[] {
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + (text.endsWith('::') ? '' : '0:0');
  }
  const [left = '', right] = head.split('::');
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (right === undefined) {
    groups = groupsOf(left);
  } else {
    const l = groupsOf(left);
    const r = groupsOf(right);
    groups = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  }
  const bytes = groups.slice(0, 8).flatMap((g) => [g >> 8, g & 0xff]);
  if (tail4.length === 4) bytes.splice(12, 4, ...tail4);
  return bytes;
}

export function formatIP(ip: IPAddr): string {
  if (ip.version === 4) return ip.bytes.join('.');
  if (isMapped(ip.bytes)) return ip.bytes.slice(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  // Go compresses the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function parseCIDR(text: string): IPNet | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseRawIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  // Go's `dtoi` takes any run of decimal digits, leading zeros included (`/024` is 24).
  if (!ip || !/^\d+$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (ip.version === 4 ? 32 : 128)) return undefined;
  if (isMapped(ip.bytes) && prefix >= 96) return { ip: { version: 4, bytes: ip.bytes.slice(12) }, prefix: prefix - 96 };
  return { ip, prefix };
}

/** Calico's `ParseCIDROrIP`: a bare address becomes a full-length network. */
export function parseCIDROrIP(text: string): IPNet | undefined {
  const ip = text.includes('/') ? undefined : parseIP(text);
  if (ip) return { ip, prefix: ip.version === 4 ? 32 : 128 };
  return parseCIDR(text);
}

/**
 * The address `cnet.ParseCIDROrIP` returns beside the network (Go's `ipa`): the IP as written,
 * unmasked, IPv4 when mapped whatever the prefix; `undefined` when the text is neither form.
 */
export function addressOfCIDROrIP(text: string): IPAddr | undefined {
  if (!parseCIDROrIP(text)) return undefined;
  const slash = text.indexOf('/');
  return parseIP(slash < 0 ? text : text.slice(0, slash));
}

export function maskNet(net: IPNet): IPNet {
  const bytes = net.ip.bytes.map((b, i) => {
    const bitsHere = Math.min(8, Math.max(0, net.prefix - i * 8));
    return b & ((0xff << (8 - bitsHere)) & 0xff);
  });
  return { ip: { version: net.ip.version, bytes }, prefix: net.prefix };
}

export function formatNet(net: IPNet): string {
  return `${formatIP(net.ip)}/${net.prefix}`;
}

/** Parses and masks, as Go's `net.ParseCIDR` does; `undefined` when invalid. */
export function canonicalCIDR(text: string): string | undefined {
  const net = parseCIDR(text);
  return net ? formatNet(maskNet(net)) : undefined;
}

/** `ParseCIDROrIP` then `Network()`, printed: `10.0.0.1` → `10.0.0.1/32`. */
export function canonicalCIDROrIP(text: string): string | undefined {
  const net = parseCIDROrIP(text);
  return net ? formatNet(maskNet(net)) : undefined;
}
