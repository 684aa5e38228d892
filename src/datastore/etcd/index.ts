/**
 * The etcd v3 datastore: Calico's etcd layout read through etcd's HTTP/JSON gateway, one
 * list/watch per key prefix, resumed from the last revision, relisted after a compaction.
 * Import from here only; the other files are internal.
 */
export { EtcdDatastore, ETCD_DEFAULTS, type EtcdDatastoreOptions } from './datastore.ts';
export { EtcdClient, type EtcdClientOptions, type EtcdKV } from './etcdClient.ts';
export { EtcdError, type EtcdErrorCode } from './errors.ts';
export { layoutOf, BLOCK_AFFINITIES_PREFIX, IPAM_BLOCKS_PREFIX, V3_RESOURCES_PREFIX, type KindLayout } from './layout.ts';
