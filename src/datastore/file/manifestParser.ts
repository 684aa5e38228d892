/**
 * Turns the text of one manifest file into the Kubernetes objects it declares.
 *
 * A manifest is a multi-document YAML stream, as `kubectl apply -f` reads it. Each document is
 * a Kubernetes object or a `List` (any kind ending in `List` with an `items` array, as
 * `kubectl get -o yaml` writes). The parser is pure: no I/O, no logging, no clock. The
 * datastore decides what a result means: a file with any problem (a YAML error, a document
 * that is not a valid object, a limit crossed) is applied not at all, so the objects last read
 * from it stay (a typo must not delete policy).
 *
 * Implementation: documents are composed one at a time (yaml's `Parser` + `Composer`), so a
 * file of a million tiny documents stops at the document limit instead of first building a
 * million syntax trees. Each document's tree is walked once, iteratively, before conversion to
 * JS: it checks nesting depth, keys per map and duplicate keys with one Set per map. Why not
 * yaml's `uniqueKeys`: it compares every new key with every earlier one, quadratic in the map
 * size (a 50,000-key map took over 30 s).
 */
import { createHash } from 'node:crypto';
import { Composer, LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { findKind, apiVersionOf, type KindInfo } from '../kinds.ts';
import type { RawObject } from '../types.ts';
import type { FileLimit, FileLimits } from './limits.ts';

/** Something wrong with a file or one of its documents, for logs and `problems()`. */
export interface ManifestProblem {
  readonly file: string;
  /** 1-based line where the offending document (or YAML error) starts, when known. */
  readonly line?: number;
  readonly reason: string;
  /** Set when the problem is a crossed bound (see limits.ts). */
  readonly limit?: FileLimit;
}

/** One object a manifest declares, normalised and ready to index. */
export interface ManifestObject {
  readonly kind: KindInfo;
  /** Identity within the datastore: kind id, namespace ('' when cluster-scoped) and name. */
  readonly key: string;
  /** 1-based line where the object's document (or `items` entry) starts. */
  readonly line: number;
  readonly object: RawObject;
  /** A digest of the object's content: equal fingerprints mean an unchanged object. */
  readonly fingerprint: string;
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

/** The limits the parser enforces (the file-size bound is applied before reading). */
export type ParseLimits = Pick<FileLimits, 'maxDocuments' | 'maxMapKeys' | 'maxDepth'>;

/**
 * Aliases expand on conversion to JS; a small document can otherwise expand to gigabytes
 * ("billion laughs"). Real manifests use a handful of anchors at most.
 */
const MAX_ALIAS_COUNT = 100;

/** The identity of an object: what makes two documents "the same object". */
export function objectKey(kind: KindInfo, namespace: string, name: string): string {
  return `${kind.id}/${namespace}/${name}`;
}

export function parseManifest(file: string, text: string, limits: ParseLimits): ParseResult {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  // YAML 1.2 core schema, like sigs.k8s.io/yaml for everything a manifest normally holds, but
  // timestamps stay strings (as they are in the JSON Kubernetes serves). Duplicate keys are an
  // error, checked by checkTree (linear) instead of yaml's uniqueKeys (quadratic). The YAML 1.1
  // tags yaml resolves by default (!!set, !!omap, !!binary, !!timestamp) would yield a Set, Map,
  // Buffer or Date, which pass for maps and serialise as `{}` (labels: !!set {a, b} silently
  // became no labels); unresolved, each stays the map, list or string JSON would carry.
  const composer = new Composer({ lineCounter, uniqueKeys: false, merge: true, prettyErrors: false, resolveKnownTags: false });
  const objects: ManifestObject[] = [];
  const problems: ManifestProblem[] = [];
  const ignored: IgnoredDocument[] = [];
  let documentCount = 0;
  try {
    for (const document of composer.compose(new Parser(lineCounter.addNewLine).parse(text), false)) {
      const error = document.errors[0];
      // yaml reports the stack overflow of a deeply nested collection as RESOURCE_EXHAUSTION.
      if (error?.code === 'RESOURCE_EXHAUSTION') return { ok: false, problem: { file, line: lineAt(error.pos[0]), ...tooDeep(limits) } };
      if (error) return { ok: false, problem: { file, line: lineAt(error.pos[0]), reason: firstLine(error.message) } };
      if (document.contents === null) continue; // an empty document, e.g. a trailing `---`
      const line = lineAt(document.contents.range?.[0] ?? 0);
      const treeProblem = checkTree(document.contents, limits, lineAt);
      if (treeProblem) return { ok: false, problem: { file, ...treeProblem } };
      let value: unknown;
      try {
        value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (err) {
        return { ok: false, problem: { file, line, reason: firstLine((err as Error).message) } };
      }
      const items = isListDocument(value) ? (value as { items: unknown[] }).items : undefined;
      documentCount += items?.length ?? 1;
      if (documentCount > limits.maxDocuments) {
        return { ok: false, problem: { file, line, limit: 'documents', reason: `more than ${limits.maxDocuments} documents (List items count one each)` } };
      }
      if (items) {
        const itemLines = listItemLines(document, lineAt, line);
        items.forEach((item, index) => {
          classify(file, itemLines[index] ?? line, item, `items[${index}]: `, objects, problems, ignored);
        });
      } else {
        classify(file, line, value, '', objects, problems, ignored);
      }
    }
  } catch (err) {
    // The composer recurses per nesting level: a very deep flow collection overflows the stack
    // before checkTree sees it.
    if (err instanceof RangeError) return { ok: false, problem: { file, ...tooDeep(limits) } };
    throw err;
  }
  return { ok: true, objects, problems, ignored };
}

function tooDeep(limits: ParseLimits): { limit: FileLimit; reason: string } {
  return { limit: 'depth', reason: `nesting deeper than the parser can follow (limit ${limits.maxDepth})` };
}

/** Depth, keys per map and duplicate keys of one document's tree; the first problem, if any. */
function checkTree(root: Node, limits: ParseLimits, lineAt: (offset: number) => number): Omit<ManifestProblem, 'file'> | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (isMap(node)) {
      const at = lineAt(node.range?.[0] ?? 0);
      if (depth > limits.maxDepth) return { line: at, limit: 'depth', reason: `nesting deeper than ${limits.maxDepth} levels` };
      if (node.items.length > limits.maxMapKeys) return { line: at, limit: 'mapKeys', reason: `a map with more than ${limits.maxMapKeys} keys` };
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as Node | null;
        const name = isScalar(key) ? String(key.value) : String(key);
        // Repeated merge keys (`<<: *a` then `<<: *b`) are how YAML merges several anchors.
        if (name !== '<<' && seen.has(name)) return { line: lineAt(key?.range?.[0] ?? 0), reason: 'Map keys must be unique' };
        seen.add(name);
        if (key !== null && !isScalar(key) && !isAlias(key)) stack.push({ node: key, depth: depth + 1 });
        if (pair.value !== null) stack.push({ node: pair.value, depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      if (depth > limits.maxDepth) {
        return { line: lineAt(node.range?.[0] ?? 0), limit: 'depth', reason: `nesting deeper than ${limits.maxDepth} levels` };
      }
      for (const item of node.items) if (item !== null) stack.push({ node: item, depth: depth + 1 });
    }
  }
  return undefined;
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
    const known = KNOWN_UNREAD_KINDS[checked.apiVersion];
    if (known !== undefined && !known.has(checked.kind)) {
      // In an API group Cattail reads, a kind nobody defines is a typo of one it reads (a
      // `GlobalNetworkPolicyy` would otherwise be ignored, and the policy it was deleted).
      problems.push({ file, line, reason: `${prefix}${checked.kind} ${checked.metadata.name}: no kind ${checked.kind} in ${checked.apiVersion} (a typo?)` });
      return;
    }
    ignored.push({ line, apiVersion: checked.apiVersion, kind: checked.kind, name: checked.metadata.name });
    return;
  }
  const object = normalise(kind, checked);
  const fingerprint = createHash('sha256').update(JSON.stringify(object)).digest('base64');
  objects.push({ kind, key: objectKey(kind, object.metadata.namespace ?? '', object.metadata.name), line, object, fingerprint });
}

/**
 * For the API groups Cattail reads, every other kind they define (Kubernetes 1.2x core and
 * networking, Calico v3.20's projectcalico.org/v3 and its CRDs): a kind in one of these groups
 * that is neither read nor listed here is reported as a problem, not ignored. Other groups
 * (apps/v1, custom resources) are ignored whatever their kind.
 */
const CALICO_UNREAD = ['Profile', 'KubeControllersConfiguration', 'IPAMHandle', 'IPAMConfig', 'IPReservation', 'BGPFilter', 'Tier'];
const KNOWN_UNREAD_KINDS: Readonly<Record<string, ReadonlySet<string>>> = {
  v1: new Set([
    'Service', 'Endpoints', 'ConfigMap', 'Secret', 'PersistentVolume', 'PersistentVolumeClaim', 'ReplicationController',
    'LimitRange', 'ResourceQuota', 'Event', 'PodTemplate', 'Binding', 'ComponentStatus', 'Status',
  ]),
  'networking.k8s.io/v1': new Set(['Ingress', 'IngressClass']),
  'discovery.k8s.io/v1': new Set(),
  'discovery.k8s.io/v1beta1': new Set(),
  'projectcalico.org/v3': new Set(CALICO_UNREAD),
  'crd.projectcalico.org/v1': new Set(CALICO_UNREAD),
};

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
