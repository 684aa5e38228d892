import sortedBTree from 'sorted-btree';

/**
 * sorted-btree is CommonJS with `exports.default`; under Node's ESM loader the default import is
 * the whole `module.exports`, so the class is one level down.
 */
export const BTree = sortedBTree.default;
export type BTree<K, V> = sortedBTree.default<K, V>;
