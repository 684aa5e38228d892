import { Packr } from 'msgpackr';
import { DIGEST_BYTES, DIGESTS_PER_FRAME, MAX_DIGEST_LEVEL } from './digest.ts';
import { badFrame } from './errors.ts';
import {
  type AckMessage, type BucketsMessage, CATCH_UP_PATHS, type CatchUpPath, type ClientCapabilities, type ClientMessage, type DigestsMessage,
  type HelloMessage, type KvsMessage, type PingMessage, type PongMessage, type ServerHelloMessage, type ServerMessage, type SnapshotEndMessage,
  type StatusMessage, type UnknownServerMessage, type WireKV, WIRE_SYNC_STATUSES, type WireSyncStatus,
} from './messages.ts';

/**
 * Plain MessagePack only. Records and shared structures are msgpackr extensions that a decoder
 * which did not see earlier frames (or is not msgpackr) cannot read, so both are off, and maps
 * decode to plain objects. `int64AsType: 'number'` keeps 64-bit integers readable as numbers.
 */
export function createPackr(): Packr {
  return new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });
}

/** Encodes and strictly decodes protocol messages. One instance per component; not shared state. */
export class Codec {
  readonly #packr = createPackr();

  /** Encodes a message into a Buffer the caller owns (not a view of the encoder's slab). */
  encode(message: ClientMessage | ServerMessage): Buffer {
    return Buffer.from(this.#packr.pack(message));
  }

  /** Encodes any value (not necessarily a valid message) into bytes the caller owns. */
  encodeValue(value: unknown): Buffer {
    return Buffer.from(this.#packr.pack(value));
  }

  decodeAny(bytes: Uint8Array): unknown {
    try {
      return this.#packr.unpack(bytes);
    } catch (err) {
      throw badFrame(`frame is not a single MessagePack message: ${(err as Error).message}`, err);
    }
  }

  /** Decodes and validates one client → server frame. Throws ProtocolError. */
  decodeClient(bytes: Uint8Array): ClientMessage {
    const msg = asMessage(this.decodeAny(bytes));
    switch (msg.type) {
      case 'hello': return validateHello(msg);
      case 'pong': return validatePong(msg);
      case 'ack': return { type: 'ack' } satisfies AckMessage;
      case 'digests': return validateDigests(msg);
      default: throw badFrame(`unknown client message type ${JSON.stringify(msg.type)}`);
    }
  }

  /**
   * Decodes and validates one server → client frame. Throws ProtocolError. A map with a `type`
   * string this version does not know decodes as `unknown` (ignored by clients, §7).
   */
  decodeServer(bytes: Uint8Array): ServerMessage | UnknownServerMessage {
    const msg = asMessage(this.decodeAny(bytes));
    switch (msg.type) {
      case 'serverHello': return validateServerHello(msg);
      case 'kvs': return validateKvs(msg);
      case 'status': return validateStatus(msg);
      case 'ping': return { type: 'ping', timestamp: num(msg, 'timestamp') } satisfies PingMessage;
      case 'snapshotEnd': return { type: 'snapshotEnd', seq: num(msg, 'seq'), keys: num(msg, 'keys') } satisfies SnapshotEndMessage;
      case 'buckets': return validateBuckets(msg);
      default:
        if (typeof msg.type === 'string' && msg.type !== '') return { type: 'unknown', name: msg.type } satisfies UnknownServerMessage;
        throw badFrame(`server message type ${JSON.stringify(msg.type)} is not a string`);
    }
  }
}

type Fields = Record<string, unknown> & { type: unknown };

/** A decoded MessagePack map: a plain object, not an array, binary value or other class. */
function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function asMessage(decoded: unknown): Fields {
  if (!isPlainMap(decoded)) throw badFrame('frame is not a MessagePack map');
  const msg = decoded as Fields;
  if (typeof msg.type !== 'string') throw badFrame('message has no string field "type"');
  return msg;
}

function str(msg: Fields, field: string, maxLength = 1024): string {
  const v = msg[field];
  if (typeof v !== 'string') throw badFrame(`${String(msg.type)}.${field} must be a string`);
  if (v.length > maxLength) throw badFrame(`${String(msg.type)}.${field} is longer than ${maxLength} characters`);
  return v;
}

function optStr(msg: Fields, field: string, maxLength = 1024): string {
  return msg[field] === undefined || msg[field] === null ? '' : str(msg, field, maxLength);
}

function num(msg: Fields, field: string): number {
  const v = msg[field];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badFrame(`${String(msg.type)}.${field} must be a finite number`);
  return v;
}

/** A non-negative safe integer (any MessagePack integer width), else undefined. */
function nonNegativeInteger(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const isNil = (v: unknown): boolean => v === undefined || v === null;

/** An integer 0..MAX_DIGEST_LEVEL, else undefined. */
function digestLevel(v: unknown): number | undefined {
  const n = nonNegativeInteger(v);
  return n !== undefined && n <= MAX_DIGEST_LEVEL ? n : undefined;
}

/** The capabilities a hello offers (PROTOCOL.md §7, §11.3); nil fields count as absent. */
function validateCapabilities(value: unknown): ClientCapabilities {
  const caps = isNil(value) ? {} : value;
  if (!isPlainMap(caps)) throw badFrame('hello.capabilities must be a map');
  const out: { -readonly [K in keyof ClientCapabilities]: ClientCapabilities[K] } = {};
  const compression = caps.compression;
  if (compression !== undefined && (!Array.isArray(compression) || compression.length > 16 || !compression.every((c) => typeof c === 'string'))) {
    throw badFrame('hello.capabilities.compression must be an array of at most 16 strings');
  }
  if (compression !== undefined) out.compression = compression as string[];
  if (!isNil(caps.resume)) {
    const resume = caps.resume;
    if (!isPlainMap(resume)) throw badFrame('hello.capabilities.resume must be a map');
    const id = resume.serverInstanceId;
    if (typeof id !== 'string' || id.length > 128) throw badFrame('hello.capabilities.resume.serverInstanceId must be a string of at most 128 characters');
    const seq = nonNegativeInteger(resume.seq);
    if (seq === undefined) throw badFrame('hello.capabilities.resume.seq must be a non-negative integer');
    out.resume = { serverInstanceId: id, seq };
  }
  if (!isNil(caps.digest)) {
    const digest = caps.digest;
    if (!isPlainMap(digest)) throw badFrame('hello.capabilities.digest must be a map');
    const level = digestLevel(digest.level);
    if (level === undefined) throw badFrame(`hello.capabilities.digest.level must be an integer from 0 to ${MAX_DIGEST_LEVEL}`);
    out.digest = { level };
  }
  if (!isNil(caps.probe)) {
    if (typeof caps.probe !== 'boolean') throw badFrame('hello.capabilities.probe must be a boolean');
    if (caps.probe) out.probe = true;
  }
  return out;
}

/**
 * The rules a `digests` message obeys on its own (§11.6): a level, an offset on a 4096-bucket
 * boundary below 2^level, and exactly 8 bytes per bucket of its slice. Whether the level is the
 * hello's and the offset the next expected depends on the connection: the session checks those.
 */
function validateDigests(msg: Fields): DigestsMessage {
  const level = digestLevel(msg.level);
  if (level === undefined) throw badFrame(`digests.level must be an integer from 0 to ${MAX_DIGEST_LEVEL}`);
  const offset = nonNegativeInteger(msg.offset);
  const buckets = 2 ** level;
  if (offset === undefined || offset % DIGESTS_PER_FRAME !== 0 || offset >= buckets) {
    throw badFrame(`digests.offset must be a multiple of ${DIGESTS_PER_FRAME} below 2^level (${buckets})`);
  }
  const digests = msg.digests;
  if (!(digests instanceof Uint8Array)) throw badFrame('digests.digests must be binary (MessagePack bin)');
  const expected = DIGEST_BYTES * Math.min(DIGESTS_PER_FRAME, buckets - offset);
  if (digests.length !== expected) throw badFrame(`digests.digests must be exactly ${expected} bytes at level ${level}, offset ${offset}; got ${digests.length}`);
  return { type: 'digests', level, offset, digests };
}

function validateBuckets(msg: Fields): BucketsMessage {
  const level = digestLevel(msg.level);
  if (level === undefined) throw badFrame(`buckets.level must be an integer from 0 to ${MAX_DIGEST_LEVEL}`);
  const replaced = msg.replaced;
  const expected = Math.ceil(2 ** level / 8);
  if (!(replaced instanceof Uint8Array) || replaced.length !== expected) throw badFrame(`buckets.replaced must be binary of ${expected} bytes at level ${level}`);
  return { type: 'buckets', level, replaced };
}

function validateHello(msg: Fields): HelloMessage {
  const capabilities = validateCapabilities(msg.capabilities);
  return {
    type: 'hello',
    protocolVersion: num(msg, 'protocolVersion'),
    syncerType: str(msg, 'syncerType', 64),
    hostname: str(msg, 'hostname', 253),
    clientVersion: optStr(msg, 'clientVersion', 128),
    clientInfo: optStr(msg, 'clientInfo', 1024),
    clientConnId: optStr(msg, 'clientConnId', 128),
    capabilities,
  };
}

function validatePong(msg: Fields): PongMessage {
  return { type: 'pong', pingTimestamp: num(msg, 'pingTimestamp') };
}

function validateServerHello(msg: Fields): ServerHelloMessage {
  const compression = msg.compression;
  if (compression !== undefined && compression !== null && typeof compression !== 'string') {
    throw badFrame('serverHello.compression must be a string or nil');
  }
  const hello: { -readonly [K in keyof ServerHelloMessage]: ServerHelloMessage[K] } = {
    type: 'serverHello',
    protocolVersion: num(msg, 'protocolVersion'),
    syncerType: str(msg, 'syncerType', 64),
    serverVersion: optStr(msg, 'serverVersion', 128),
    serverInstanceId: optStr(msg, 'serverInstanceId', 128),
    connectionId: optStr(msg, 'connectionId', 128),
    compression: typeof compression === 'string' ? compression : null,
  };
  // The catch-up fields appear in the result only when the server sent them, so a v1 serverHello decodes as before.
  if (!isNil(msg.catchUp)) {
    if (!CATCH_UP_PATHS.includes(msg.catchUp as CatchUpPath)) throw badFrame(`serverHello.catchUp ${JSON.stringify(msg.catchUp)} is not resume, digest, snapshot or nil`);
    hello.catchUp = msg.catchUp as CatchUpPath;
  }
  if (!isNil(msg.catchUpReason)) hello.catchUpReason = str(msg, 'catchUpReason', 128);
  if (!isNil(msg.status)) {
    if (!WIRE_SYNC_STATUSES.includes(msg.status as WireSyncStatus)) throw badFrame(`serverHello.status ${JSON.stringify(msg.status)} is not a known sync status`);
    hello.status = msg.status as WireSyncStatus;
  }
  return hello;
}

function validateKvs(msg: Fields): KvsMessage {
  const kvs = msg.kvs;
  if (!Array.isArray(kvs)) throw badFrame('kvs.kvs must be an array');
  for (const kv of kvs) {
    if (!Array.isArray(kv) || kv.length < 4) throw badFrame('each kvs entry must be an array [key, value, revision, updateType]');
    if (typeof kv[0] !== 'string') throw badFrame('kvs entry key must be a string');
    if (typeof kv[2] !== 'string') throw badFrame('kvs entry revision must be a string');
    if (kv[3] !== 1 && kv[3] !== 2 && kv[3] !== 3) throw badFrame('kvs entry updateType must be 1, 2 or 3');
    const isNil = kv[1] === null || kv[1] === undefined;
    if ((kv[3] === 3) !== isNil) throw badFrame('a kvs entry has a nil value exactly when its updateType is 3 (deleted)');
  }
  if (isNil(msg.seq)) return { type: 'kvs', kvs: kvs as WireKV[] };
  const seq = nonNegativeInteger(msg.seq);
  if (seq === undefined) throw badFrame('kvs.seq must be a non-negative integer');
  return { type: 'kvs', kvs: kvs as WireKV[], seq };
}

function validateStatus(msg: Fields): StatusMessage {
  const status = msg.status;
  if (!WIRE_SYNC_STATUSES.includes(status as WireSyncStatus)) throw badFrame(`status.status ${JSON.stringify(status)} is not a known sync status`);
  return { type: 'status', status: status as WireSyncStatus };
}
