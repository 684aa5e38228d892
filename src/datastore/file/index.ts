/**
 * The file datastore: a watched directory of YAML manifests as the source of raw objects.
 * Everything outside this directory imports from here only.
 */
export { FileDatastore, type FileDatastoreOptions } from './fileDatastore.ts';
export { DirectoryUnavailableError } from './directoryScanner.ts';
export type { ManifestProblem } from './manifestParser.ts';
