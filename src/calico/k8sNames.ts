/**
 * The Kubernetes name rules (k8s.io/apimachinery `pkg/util/validation`) that Calico's v3
 * validator applies to labels, annotations and resource names, plus the looser label rules of
 * Calico's v1 validator. Each function returns the first problem found, or undefined. Lengths
 * are counted in UTF-8 bytes, as Go's `len` counts them.
 */

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The longest DNS-1123 subdomain (and so the longest v3 resource name). */
export const DNS1123_SUBDOMAIN_MAX_BYTES = 253;
/** The longest qualified-name part and label value. */
const LABEL_MAX_BYTES = 63;

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** `IsDNS1123Subdomain`: lower-case alphanumerics, `-` and `.`, at most 253 bytes. */
export function dns1123SubdomainProblem(value: string): string | undefined {
  if (bytes(value) > DNS1123_SUBDOMAIN_MAX_BYTES) return `must be no more than ${DNS1123_SUBDOMAIN_MAX_BYTES} characters`;
  if (!DNS1123_SUBDOMAIN_RE.test(value)) return 'must be a lower-case RFC 1123 subdomain';
  return undefined;
}

/**
 * `IsValidPortName` (IANA service names): at most 15 characters of lower-case letters, digits
 * and `-`, at least one letter, no `--`, no `-` at either end.
 */
export function portNameProblem(value: string): string | undefined {
  if (value.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(value)) return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (!/[a-z]/.test(value)) return 'must contain at least one letter (a-z)';
  if (value.includes('--')) return 'must not contain consecutive hyphens';
  if (value.startsWith('-') || value.endsWith('-')) return 'must not begin or end with a hyphen';
  return undefined;
}

/** `IsQualifiedName`: an optional DNS-subdomain prefix and `/`, then a name part of at most 63 bytes. */
export function qualifiedNameProblem(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length > 2) return 'a qualified name has at most one "/"';
  const name = parts.length === 2 ? (parts[1] as string) : value;
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix === '') return 'prefix part must be non-empty';
    const p = dns1123SubdomainProblem(prefix);
    if (p !== undefined) return `prefix part ${p}`;
  }
  if (name === '') return 'name part must be non-empty';
  if (bytes(name) > LABEL_MAX_BYTES) return `name part must be no more than ${LABEL_MAX_BYTES} characters`;
  if (!QUALIFIED_NAME_RE.test(name)) return 'name part must be alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric';
  return undefined;
}

/** `IsValidLabelValue`: empty, or at most 63 bytes of alphanumerics, `-`, `_`, `.` inside alphanumerics. */
export function labelValueProblem(value: string): string | undefined {
  if (bytes(value) > LABEL_MAX_BYTES) return `must be no more than ${LABEL_MAX_BYTES} characters`;
  if (!LABEL_VALUE_RE.test(value)) return 'must be alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric';
  return undefined;
}

/** v3 `validateLabels` / `validateObjectMetaLabels`: every key a qualified name, every value a label value. */
export function v3LabelsProblem(labels: Readonly<Record<string, unknown>>): string | undefined {
  for (const [k, v] of Object.entries(labels)) {
    const kp = qualifiedNameProblem(k);
    if (kp !== undefined) return `label key ${JSON.stringify(k)}: ${kp}`;
    const vp = typeof v === 'string' ? labelValueProblem(v) : 'must be a string';
    if (vp !== undefined) return `label ${JSON.stringify(k)} value: ${vp}`;
  }
  return undefined;
}

/** v1 `labelRegex` (the selector tokenizer's label key) and `labelValueRegex`. */
const V1_LABEL_KEY_RE = /^[a-zA-Z0-9_./-]{1,512}$/;
const V1_LABEL_VALUE_RE = /^[a-zA-Z0-9]?([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?$/;

/** v1 `validateLabels`. */
export function v1LabelsProblem(labels: Readonly<Record<string, unknown>>): string | undefined {
  for (const [k, v] of Object.entries(labels)) {
    if (!V1_LABEL_KEY_RE.test(k)) return `label key ${JSON.stringify(k)} must be 1-512 of [a-zA-Z0-9_./-]`;
    if (typeof v !== 'string' || !V1_LABEL_VALUE_RE.test(v)) return `label ${JSON.stringify(k)} value must be at most 63 of [a-zA-Z0-9_.-], alphanumeric at both ends`;
  }
  return undefined;
}
