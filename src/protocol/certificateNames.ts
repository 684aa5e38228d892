import type { PeerCertificate } from 'node:tls';

/**
 * The certificate names Cattail's TLS rules match on (docs/PROTOCOL.md §8), read the same way by
 * the server (client allow-list) and the client (expected server name).
 */

/** Subject Common Names of a certificate (a subject may carry several). */
export function commonNames(cert: PeerCertificate): string[] {
  const cn = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.CN;
  if (cn === undefined) return [];
  return Array.isArray(cn) ? cn : [cn];
}

/**
 * URI SANs from Node's `subjectaltname` ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4"). Node
 * writes an entry containing a comma or other awkward characters as a JSON string, so entries
 * are split only before a `Type:` prefix and quoted values are unquoted.
 */
export function uriSans(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname;
  if (!san) return [];
  const out: string[] = [];
  for (const part of san.split(/, (?=[A-Za-z ]+:)/)) {
    if (!part.startsWith('URI:')) continue;
    const raw = part.slice(4);
    if (raw.startsWith('"')) {
      try {
        out.push(JSON.parse(raw) as string);
        continue;
      } catch {
        // Not valid JSON after all: keep it verbatim.
      }
    }
    out.push(raw);
  }
  return out;
}

/** True when the certificate's CN is in `allowedCommonNames` or one of its URI SANs is in `allowedUris`. */
export function certificateNamesMatch(cert: PeerCertificate, allowedCommonNames: readonly string[], allowedUris: readonly string[]): boolean {
  return commonNames(cert).some((c) => allowedCommonNames.includes(c)) || uriSans(cert).some((u) => allowedUris.includes(u));
}
