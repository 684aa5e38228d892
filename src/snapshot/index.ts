export { Breadcrumb, type Coalesced } from './breadcrumb.ts';
export { SnapshotCache, type SnapshotCacheOptions } from './cache.ts';
export { CatchUpBase, type CatchUpComparison, CatchUpSource, type CatchUpSourceOptions } from './catchUp.ts';
export { type ResumeLookup, type RetentionOptions, type RetentionStats } from './retention.ts';
export { SharedSnapshot, SnapshotSource, type SnapshotSourceOptions } from './sharedSnapshot.ts';
export { FrameCompressor, SHARED_FRAME_KINDS, SharedFrame, type SharedFrameKind } from './sharedFrame.ts';
