import { createHash } from 'node:crypto';

/**
 * The digest the server and the verifying client both compute over a model: key, NUL, JSON of
 * the decoded value, newline, in ascending key order. Equal digests mean equal state.
 */
export function modelDigest(entries: Iterable<readonly [string, unknown]>): { keys: number; sha1: string } {
  const hash = createHash('sha1');
  let keys = 0;
  for (const [key, value] of entries) {
    hash.update(`${key}\u0000${JSON.stringify(value)}\n`);
    keys++;
  }
  return { keys, sha1: hash.digest('hex') };
}
