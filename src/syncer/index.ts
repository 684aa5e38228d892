export { KeyOwners } from './keyOwners.ts';
export { Syncer, type SyncerOptions } from './syncer.ts';
export * from './types.ts';
export { ValidationFilter, type ValidationFilterOptions } from './validationFilter.ts';
