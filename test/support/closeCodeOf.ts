import assert from 'node:assert/strict';
import type { ProtocolError } from '../../src/protocol/index.ts';

/** The close code of the ProtocolError `fn` throws; fails the test if it throws none. */
export function closeCodeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    return (err as ProtocolError).closeCode;
  }
  assert.fail('expected a ProtocolError');
}
