/**
 * Defensive readers for plain JSON objects. Datastore input is untrusted: any field may be
 * missing or of the wrong type, and reading it must never crash the syncer. Readers return
 * `undefined` for absent or wrongly typed values; the `require*` variants throw
 * {@link ValidationError}, which conversions turn into an error KV for the keys they produce.
 */
import type { ConvertedKV } from '../syncer/types.ts';

/** Raised when an object names its keys but its content fails validation. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

/**
 * The one KV for `key`: `build()`'s value, or, when the content fails validation, a null value
 * carrying the error (the key is still named, so the datastore's object is not lost silently).
 */
export function validatedKV(key: string, build: () => JsonObject): ConvertedKV[] {
  try {
    return [{ key, value: build() }];
  } catch (err) {
    if (err instanceof ValidationError) return [{ key, value: null, error: err.message }];
    throw err;
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** A list of strings; absent → `[]`; a wrongly typed list or element is a validation error. */
export function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be a list of strings`);
  return value.map((item, i) => {
    if (typeof item !== 'string') throw new ValidationError(`${what}[${i}] must be a string`);
    return item;
  });
}

/** An optional string field; present but not a string is a validation error. */
export function optString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string`);
  return value;
}

export function optBool(value: unknown, what: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ValidationError(`${what} must be a boolean`);
  return value;
}

export function optInt(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ValidationError(`${what} must be an integer`);
  return value;
}

export function optNumber(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValidationError(`${what} must be a number`);
  return value;
}

/**
 * A string→string map with keys in Go's JSON order (sorted by code unit), since Go's encoder
 * sorts map keys and the value bytes must not depend on the order the datastore sent.
 * Non-string values are dropped: Kubernetes labels and annotations cannot hold them.
 */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

/** Rebuilds a string map with sorted keys (after entries were added in another order). */
export function sortKeys(map: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key] as string;
  return out;
}

/** Deep-copies a JSON value, dropping `undefined` so MessagePack sees only JSON shapes. */
export function jsonCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
