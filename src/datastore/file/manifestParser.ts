/**
 * Turns the text of one manifest file into the Kubernetes objects it declares.
 *
 * A manifest is a multi-document YAML stream, as `kubectl apply -f` reads it. Each document is
 * a Kubernetes object or a `List` (any kind ending in `List` with an `items` array, as
 * `kubectl get -o yaml` writes). The parser is pure: no I/O, no logging, no clock. The
 * datastore decides what a result means (for example, that a file which fails to parse keeps
 * the objects last read from it).
 *
 * Two levels of failure, on purpose:
 * - a YAML error anywhere in the file (syntax, duplicate map key, alias bomb) fails the whole
 *   file, because a half-read file would look to the cluster like a mass deletion;
 * - a document that parses but is not a Kubernetes object is skipped alone, with a problem,
 *   and its neighbours still load.
 */
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
import { findKind, apiVersionOf, type KindInfo } from '../kinds.ts';
import type { RawObject } from '../types.ts';

/** Something wrong with a file or one of its documents, for logs and `problems()`. */
export interface ManifestProblem {
  readonly file: string;
  /** 1-based line where the offending document (or YAML error) starts, when known. */
  readonly line?: number;
  readonly reason: string;
}

/** One object a manifest declares, normalised and ready to index. */
export interface ManifestObject {
  readonly kind: KindInfo;
  /** Identity within the datastore: kind id, namespace ('' when cluster-scoped) and name. */
  readonly key: string;
  /** 1-based line where the object's document (or `items` entry) starts. */
  readonly line: number;
  readonly object: RawObject;
}

/** An object of a kind Cattail does not read (e.g. Service); skipped quietly. */
export interface IgnoredDocument {
  readonly line: number;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export type ParseResult =
  | { readonly ok: true; readonly objects: ManifestObject[]; readonly problems: ManifestProblem[]; readonly ignored: IgnoredDocument[] }
  | { readonly ok: false; readonly problem: ManifestProblem };

/**
 * Aliases expand on conversion to JS; a small document can otherwise expand to gigabytes
 * ("billion laughs"). Real manifests use a handful of anchors at most.
 */
const MAX_ALIAS_COUNT = 100;

/** The identity of an object: what makes two documents "the same object". */
export function objectKey(kind: KindInfo, namespace: string, name: string): string {
  return `${kind.id}/${namespace}/${name}`;
}

export function parseManifest(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  // YAML 1.2 core schema, like sigs.k8s.io/yaml for everything a manifest normally holds, but
  // timestamps stay strings (as they are in the JSON Kubernetes serves). uniqueKeys makes a
  // repeated key an error instead of silently keeping the last value.
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true, merge: true, prettyErrors: false });

  for (const document of documents) {
    const error = document.errors[0];
    if (error) return { ok: false, problem: { file, line: lineAt(error.pos[0]), reason: firstLine(error.message) } };
  }

  const objects: ManifestObject[] = [];
  const problems: ManifestProblem[] = [];
  const ignored: IgnoredDocument[] = [];
  for (const document of documents) {
    if (document.contents === null) continue; // an empty document, e.g. a trailing `---`
    const line = lineAt(document.contents.range?.[0] ?? 0);
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return { ok: false, problem: { file, line, reason: firstLine((err as Error).message) } };
    }
    if (isListDocument(value)) {
      const items = (value as { items: unknown[] }).items;
      const itemLines = listItemLines(document, lineAt, line);
      items.forEach((item, index) => {
        classify(file, itemLines[index] ?? line, item, `items[${index}]: `, objects, problems, ignored);
      });
    } else {
      classify(file, line, value, '', objects, problems, ignored);
    }
  }
  return { ok: true, objects, problems, ignored };
}

function classify(
  file: string,
  line: number,
  value: unknown,
  prefix: string,
  objects: ManifestObject[],
  problems: ManifestProblem[],
  ignored: IgnoredDocument[],
): void {
  const checked = checkObject(value);
  if (typeof checked === 'string') {
    problems.push({ file, line, reason: `${prefix}${checked}` });
    return;
  }
  const kind = findKind(checked.apiVersion, checked.kind);
  if (!kind) {
    ignored.push({ line, apiVersion: checked.apiVersion, kind: checked.kind, name: checked.metadata.name });
    return;
  }
  const object = normalise(kind, checked);
  objects.push({ kind, key: objectKey(kind, object.metadata.namespace ?? '', object.metadata.name), line, object });
}

type CheckedObject = RawObject & { apiVersion: string; kind: string };

/** Returns the value as an object, or the reason it is not a Kubernetes object. */
function checkObject(value: unknown): CheckedObject | string {
  if (!isPlainMap(value)) return `not a Kubernetes object: the document is ${describe(value)}, not a map`;
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') return 'not a Kubernetes object: apiVersion is missing';
  if (typeof kind !== 'string' || kind === '') return 'not a Kubernetes object: kind is missing';
  if (!isPlainMap(metadata)) return `${kind}: metadata is missing or not a map`;
  if (typeof metadata.name !== 'string' || metadata.name === '') return `${kind}: metadata.name is missing`;
  const where = `${kind} ${metadata.name}`;
  if (metadata.namespace !== undefined && metadata.namespace !== null && typeof metadata.namespace !== 'string') {
    return `${where}: metadata.namespace must be a string`;
  }
  // Everything downstream (selectors, profiles, annotations read by conversions) assumes
  // string values, as the Kubernetes API server enforces; `app: 1` would be a number in YAML.
  for (const field of ['labels', 'annotations'] as const) {
    const map = metadata[field];
    if (map === undefined || map === null) continue;
    if (!isPlainMap(map)) return `${where}: metadata.${field} must be a map`;
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== 'string') return `${where}: metadata.${field}.${k} must be a string (quote it)`;
    }
  }
  return value as CheckedObject;
}

/**
 * Makes a file object look like the one the Kubernetes API would serve: the kind's primary
 * apiVersion (so both datastores feed the syncers the same shape), the namespace rule kubectl
 * applies, and a stable uid (conversions copy uids into Calico resources; a random one would
 * change on every restart).
 */
function normalise(kind: KindInfo, source: CheckedObject): RawObject {
  const metadata = { ...source.metadata };
  if (kind.namespaced) {
    if (typeof metadata.namespace !== 'string' || metadata.namespace === '') metadata.namespace = 'default';
  } else {
    delete metadata.namespace;
  }
  if (metadata.labels === null) delete metadata.labels;
  if (metadata.annotations === null) delete metadata.annotations;
  if (typeof metadata.uid !== 'string' || metadata.uid === '') {
    metadata.uid = stableUid(objectKey(kind, metadata.namespace ?? '', metadata.name));
  }
  delete metadata.resourceVersion; // the datastore assigns revisions; a stale one in a file means nothing
  return { ...source, apiVersion: apiVersionOf(kind), metadata };
}

/** A UUID-shaped id derived from the object's identity (FNV-1a, four lanes; not security relevant). */
function stableUid(key: string): string {
  const lanes = [0x811c9dc5, 0x01000193, 0x050c5d1f, 0x2f0f3e7d];
  let hex = '';
  for (let lane = 0; lane < lanes.length; lane += 1) {
    let hash = lanes[lane] ?? 0;
    for (let i = 0; i < key.length; i += 1) {
      hash ^= key.charCodeAt(i) + lane;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    hex += hash.toString(16).padStart(8, '0');
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function isListDocument(value: unknown): boolean {
  return (
    isPlainMap(value) &&
    typeof value.kind === 'string' &&
    value.kind.endsWith('List') &&
    Array.isArray(value.items)
  );
}

/** Line of each `items` entry, so a problem in a 500-item List points at the right item. */
function listItemLines(document: Document, lineAt: (offset: number) => number, fallback: number): number[] {
  const root = document.contents;
  if (!isMap(root)) return [];
  const items = root.get('items', true) as Node | undefined;
  if (!isSeq(items)) return [];
  return items.items.map((item) => {
    const start = (item as Node | null)?.range?.[0];
    return start === undefined ? fallback : lineAt(start);
  });
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}
