/**
 * Request parsing for the Kubernetes API server emulator (k8sEmulator.ts): resource paths and
 * label/field selectors, as the real API server understands them, for any group and resource.
 */

import type { RawObject } from '../../src/datastore/types.ts';

/** A resource addressed by a request path. */
export interface ResourcePath {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Set for `/namespaces/<ns>/<plural>` paths. */
  readonly namespace?: string;
  /** Set for a single object (`.../<plural>/<name>`). */
  readonly name?: string;
}

/**
 * Parses `/api/v1[/namespaces/<ns>]/<plural>[/<name>]` and
 * `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]`. `/api/v1/namespaces` and
 * `/api/v1/namespaces/<name>` are the Namespace resource itself. Returns undefined for anything
 * else (discovery documents, subresources).
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    if (rest.length > 4) return undefined;
    return { group, version, plural: rest[2]!, namespace: rest[1]!, ...(rest[3] ? { name: rest[3] } : {}) };
  }
  if (rest.length > 2) return undefined;
  return { group, version, plural: rest[0]!, ...(rest[1] ? { name: rest[1] } : {}) };
}

/** A compiled selector: true when an object matches. */
export type Matcher = (object: RawObject) => boolean;

const always: Matcher = () => true;

/**
 * Label selectors: comma-separated terms, all of which must hold: `k=v`, `k==v`, `k!=v`, `k`,
 * `!k`, `k in (a,b)`, `k notin (a,b)`. Throws on syntax it does not know, as the server answers
 * 400 for a bad selector.
 */
export function parseLabelSelector(selector: string | null): Matcher {
  if (!selector || selector.trim() === '') return always;
  const terms = splitTerms(selector).map(compileLabelTerm);
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return terms.every((t) => t(labels));
  };
}

function compileLabelTerm(term: string): (labels: Record<string, string>) => boolean {
  const t = term.trim();
  let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string];
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in'
      ? (l) => l[key] !== undefined && values.has(l[key])
      : (l) => l[key] === undefined || !values.has(l[key]);
  }
  m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(t);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^(!?)([\w./-]+)$/.exec(t);
  if (m) {
    const [, not, key] = m as unknown as [string, string, string];
    return not ? (l) => !(key in l) : (l) => key in l;
  }
  throw new Error(`unable to parse requirement: ${JSON.stringify(t)}`);
}

/**
 * Field selectors: comma-separated `path=value`, `path==value` or `path!=value`, where path is
 * any dotted field (`metadata.name`, `metadata.namespace`, `spec.nodeName`, `status.phase`).
 */
export function parseFieldSelector(selector: string | null): Matcher {
  if (!selector || selector.trim() === '') return always;
  const terms = splitTerms(selector).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw new Error(`invalid field selector: ${JSON.stringify(term)}`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    const fields = path.split('.');
    return (object: RawObject): boolean => {
      let v: unknown = object;
      for (const f of fields) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[f] : undefined;
      const actual = v === undefined || v === null ? '' : String(v);
      return op === '!=' ? actual !== value : actual === value;
    };
  });
  return (object) => terms.every((t) => t(object));
}

/** Splits on commas that are not inside parentheses (`k in (a,b),x=y`). */
function splitTerms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out.filter((t) => t.trim() !== '');
}
