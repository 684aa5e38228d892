/**
 * The Calico v3.20 data model: which kinds each syncer type reads and how one datastore object
 * becomes the model keys Typha serves. Everything else in `src/calico/` is internal.
 */
export { syncerSpecs, type SyncerDatastore } from './syncers.ts';
export { defaultAllowProfileKVs, DEFAULT_ALLOW_PROFILE } from './profiles.ts';
export { interfaceName } from './workloadEndpoint.ts';
export { escapeName, unescapeName } from './keys.ts';
export { OUTPUT_KINDS, outputKind, validateOutput, type RuleFailure } from './outputValidation.ts';
