export { Breadcrumb, type Coalesced } from './breadcrumb.ts';
export { SnapshotCache, type SnapshotCacheOptions } from './cache.ts';
export { SharedSnapshot, SnapshotSource, type SnapshotSourceOptions } from './sharedSnapshot.ts';
