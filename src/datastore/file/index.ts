/**
 * The file datastore: a watched directory of YAML manifests as the source of raw objects.
 * Everything outside this directory imports from here only.
 */
export { FileDatastore, type FileDatastoreMetrics, type FileDatastoreOptions } from './fileDatastore.ts';
export { DEFAULT_FILE_LIMITS, FILE_LIMITS, type FileLimit, type FileLimits } from './limits.ts';
export type { ScanFileSystem } from './directoryScanner.ts';
export { DirectoryUnavailableError } from './directoryScanner.ts';
export type { ManifestProblem } from './manifestParser.ts';
