/**
 * The bounds the file datastore puts on what a manifest directory may cost, and the error a
 * file or directory gets when it crosses one. A directory is operator input, but a careless
 * `cp -r`, a `kubectl get -A -o yaml > all.yaml` or a symlink loop must cost a log line and a
 * broken file, never the process: without bounds, a 200 MB file or two `x -> .` links run the
 * server out of heap, and the same scan at restart turns that into a crash loop.
 */

/** Every limit, as it appears in the `limit` label of `cattail_file_limit_exceeded_total`. */
export const FILE_LIMITS = [
  'fileSize',
  'documents',
  'mapKeys',
  'depth',
  'entries',
  'symlinkDepth',
  'symlinkCycle',
  'symlinkOutside',
  'parseTime',
  'parserHeap',
  'scanTime',
] as const;
export type FileLimit = (typeof FILE_LIMITS)[number];

export interface FileLimits {
  /** Largest manifest file read; a larger one is broken without being read. */
  readonly maxFileBytes: number;
  /** Most documents per file, counting each item of a `List` as one. */
  readonly maxDocuments: number;
  /** Most keys in one YAML map. */
  readonly maxMapKeys: number;
  /** Deepest nesting of maps and sequences within one document. */
  readonly maxDepth: number;
  /** Most directory entries (files, directories, links) one scan visits. */
  readonly maxEntries: number;
  /** Most symlinked directories followed along one path from the root. */
  readonly maxSymlinkDepth: number;
  /** A file whose parse takes longer is broken and the parser worker is replaced. */
  readonly parseTimeoutMs: number;
  /** Old-generation heap of the parser worker; a parse that needs more is broken, the process lives. */
  readonly parserHeapBytes: number;
  /** A scan (walk, reads, parses) that takes longer marks every kind stale until it finishes. */
  readonly scanTimeoutMs: number;
}

/**
 * Defaults, each with its reason:
 * - 16 MiB per file: about 40,000 pod-sized documents, ten times the largest manifests seen in
 *   practice (CRD bundles of 1–3 MB); the parser worker holds the text plus one file's objects,
 *   which stays well inside its heap below.
 * - 10,000 documents per file: a `kubectl get -o yaml` of a large namespace; parsing one takes
 *   about 2 s on one core, inside the parse timeout with a wide margin.
 * - 10,000 keys per map: label and annotation maps hold tens; nothing Cattail reads needs more.
 * - depth 64: Kubernetes objects nest about 10 deep, CRD schemas about 30.
 * - 50,000 entries per scan: five times the 10,000-file directory the stall tests use.
 * - symlink depth 8: a ConfigMap mount uses 2 (`x.yaml -> ..data/x.yaml`, `..data -> ..<ts>`).
 * - parse timeout 20 s: ten times the largest file allowed above.
 * - parser heap 256 MiB: with the Deployment's 768 MiB main heap it fits its 1 GiB limit, and it
 *   holds a 16 MiB file's parse several times over.
 * - scan timeout 60 s: the same as `--stale-upstream-ms`, the time a silent Kubernetes watch gets.
 */
export const DEFAULT_FILE_LIMITS: FileLimits = {
  maxFileBytes: 16 * 1024 * 1024,
  maxDocuments: 10_000,
  maxMapKeys: 10_000,
  maxDepth: 64,
  maxEntries: 50_000,
  maxSymlinkDepth: 8,
  parseTimeoutMs: 20_000,
  parserHeapBytes: 256 * 1024 * 1024,
  scanTimeoutMs: 60_000,
};

/** A bound was crossed; `limit` names which, for the metric and the log. */
export class FileLimitError extends Error {
  readonly code = 'FILE_LIMIT_EXCEEDED';
  readonly limit: FileLimit;
  constructor(limit: FileLimit, message: string) {
    super(message);
    this.name = 'FileLimitError';
    this.limit = limit;
  }
}
