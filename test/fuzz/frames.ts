/**
 * Bad client frames, generated from a seed: each case is the bytes a hostile or broken client
 * writes and the close codes docs/PROTOCOL.md §9 allows for them. `phase` says where in the
 * session the bytes arrive: as the first message, or after a valid hello and ack (streaming).
 *
 * `generateCatchUpCase` does the same for the catch-up messages (§11): hello capabilities
 * `resume` / `digest` / `probe` of wrong types and sizes, `digests` messages of wrong levels,
 * offsets, lengths and order, unexpected or duplicated, and resume positions of a server that
 * never existed, from the future or expired. Each case says which close codes it allows, or
 * which catch-up paths it may take instead (and then the peer's map must end exact).
 */
import { createPackr, CloseCode, DIGESTS_PER_FRAME, keyBucket16, MAX_INBOUND_FRAME_BYTES } from '../../src/protocol/index.ts';
import { type HeldKV, ownDigests, type Position } from '../support/catchUpClient.ts';
import type { Prng } from '../torture/prng.ts';
import type { PeerOptions } from './catchUpPeer.ts';
import { frame } from './rawSocket.ts';

export interface FuzzCase {
  readonly name: string;
  readonly phase: 'first' | 'streaming';
  readonly bytes: readonly Buffer[];
  /** Close codes allowed; `accepted` also allows the server to answer with a serverHello (a mutation that happens to be valid). */
  readonly expect: readonly number[];
  readonly accepted?: boolean;
}

const packr = createPackr();
const pack = (v: unknown): Buffer => Buffer.from(packr.pack(v));
const bin = (payload: Buffer) => frame(2, payload);
const C = CloseCode;

export const HELLO = {
  type: 'hello', protocolVersion: 1, syncerType: 'felix', hostname: 'fuzz', clientVersion: 'fuzz', clientInfo: '', clientConnId: 'f', capabilities: {},
};

/** Values of every MessagePack family, for "wrong type in a field". */
const WRONG: readonly unknown[] = [null, true, -1, 2 ** 40, 1.5, 'x', '', [], [1, 2], {}, { a: 1 }, Buffer.from([1, 2, 3]), 'y'.repeat(300)];

/** Huge declared lengths with almost no bytes behind them. */
const HUGE_HEADERS: readonly Buffer[] = [
  Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]), // array32 of 4 Gi elements
  Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]), // map32
  Buffer.from([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]), // str32 of 2 GiB
  Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x00]), // bin32
  Buffer.from([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]), // ext32
  Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xdb, 0x7f, 0xff, 0xff, 0xff]), // {type: str32 2 GiB}
  Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa8, 0x68, 0x6f, 0x73, 0x74, 0x6e, 0x61, 0x6d, 0x65, 0xdd, 0xff, 0xff, 0xff, 0xff]),
];

function nested(depth: number, map: boolean): Buffer {
  // fixarray(1) / fixmap(1) with key "a" per level, ending in nil.
  const level = map ? Buffer.from([0x81, 0xa1, 0x61]) : Buffer.from([0x91]);
  return Buffer.concat([...Array.from({ length: depth }, () => level), Buffer.from([0xc0])]);
}

export function generateCase(rng: Prng): FuzzCase {
  const kind = rng.weighted([
    [3, 'shape'], [3, 'wrongField'], [1, 'version'], [1, 'syncer'], [2, 'truncated'], [1, 'nested'], [2, 'huge'],
    [2, 'order'], [1, 'text'], [1, 'oversize'], [2, 'random'], [3, 'mutated'], [1, 'wsLevel'], [1, 'pongFlood'],
  ] as const);
  switch (kind) {
    case 'shape': {
      const v = rng.pick<unknown>([1, 'hello', [HELLO], null, true, 3.25, Buffer.from('x'), { notType: 'hello' }, { type: 7 }, { type: null }, { type: 'nope' }, { type: ['hello'] }]);
      return { name: `wrong shape ${JSON.stringify(v)}`, phase: rng.chance(0.3) ? 'streaming' : 'first', bytes: [bin(pack(v))], expect: [C.badFrame] };
    }
    case 'wrongField': {
      const field = rng.pick(['protocolVersion', 'syncerType', 'hostname', 'clientVersion', 'clientInfo', 'clientConnId', 'capabilities', 'compression'] as const);
      let value = rng.pick(WRONG);
      const ok = (v: unknown): boolean => {
        if (field === 'protocolVersion') return typeof v === 'number';
        if (field === 'syncerType' || field === 'hostname') return typeof v === 'string' && v.length <= (field === 'hostname' ? 253 : 64);
        if (field === 'capabilities') return v === null || (typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v));
        if (field === 'compression') return false;
        return v === null || (typeof v === 'string' && v.length <= (field === 'clientInfo' ? 1024 : 128));
      };
      if (ok(value)) value = field === 'protocolVersion' ? 'one' : 12345;
      const hello = field === 'compression'
        ? { ...HELLO, capabilities: { compression: rng.pick([7, 'gzip', [1], Array.from({ length: 17 }, () => 'x')]) } }
        : { ...HELLO, [field]: value };
      // A number for protocolVersion that is not 1 is a version question, not a type error.
      return { name: `hello.${field} = ${JSON.stringify(value)}`, phase: 'first', bytes: [bin(pack(hello))], expect: [C.badFrame, C.unsupportedVersion] };
    }
    case 'version': {
      const v = rng.pick([0, 2, 99, -1, 2 ** 53]);
      return { name: `hello version ${v}`, phase: 'first', bytes: [bin(pack({ ...HELLO, protocolVersion: v }))], expect: [C.unsupportedVersion] };
    }
    case 'syncer': {
      const s = rng.pick(['felixx', '', 'FELIX', 'x'.repeat(64), '../felix']);
      return { name: `hello syncer ${JSON.stringify(s)}`, phase: 'first', bytes: [bin(pack({ ...HELLO, syncerType: s }))], expect: [C.unknownSyncerType, C.badFrame] };
    }
    case 'truncated': {
      const full = pack({ ...HELLO, clientInfo: 'z'.repeat(rng.int(0, 200)) });
      const cut = rng.int(1, full.length - 1);
      return { name: `hello truncated at ${cut}/${full.length}`, phase: 'first', bytes: [bin(full.subarray(0, cut))], expect: [C.badFrame] };
    }
    case 'nested': {
      const depth = rng.pick([100, 10_000, 20_000, Math.floor((MAX_INBOUND_FRAME_BYTES - 16) / 3)]);
      const map = rng.chance(0.5);
      return { name: `nested ${map ? 'maps' : 'arrays'} ${depth} deep`, phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [bin(nested(depth, map))], expect: [C.badFrame] };
    }
    case 'huge': {
      const h = rng.pick(HUGE_HEADERS);
      return { name: `huge declared length ${h.toString('hex')}`, phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [bin(h)], expect: [C.badFrame] };
    }
    case 'order': {
      const which = rng.pick(['pong first', 'ack first', 'hello twice', 'ack twice', 'hello after ack'] as const);
      if (which === 'pong first') return { name: which, phase: 'first', bytes: [bin(pack({ type: 'pong', pingTimestamp: 1 }))], expect: [C.protocolError] };
      if (which === 'ack first') return { name: which, phase: 'first', bytes: [bin(pack({ type: 'ack' }))], expect: [C.protocolError] };
      if (which === 'hello twice') return { name: which, phase: 'first', bytes: [bin(pack(HELLO)), bin(pack(HELLO))], expect: [C.protocolError] };
      if (which === 'ack twice') return { name: which, phase: 'streaming', bytes: [bin(pack({ type: 'ack' }))], expect: [C.protocolError] };
      return { name: which, phase: 'streaming', bytes: [bin(pack(HELLO))], expect: [C.protocolError] };
    }
    case 'text':
      return { name: 'text frame', phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [frame(1, Buffer.from(JSON.stringify(HELLO)))], expect: [C.badFrame] };
    case 'oversize': {
      const size = MAX_INBOUND_FRAME_BYTES + rng.int(1, 200_000);
      return { name: `oversized frame ${size} B`, phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [bin(Buffer.alloc(size, 0xa1))], expect: [C.frameTooLarge] };
    }
    case 'random': {
      const bytes = Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)));
      return { name: `random bytes ${bytes.toString('hex')}`, phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [bin(bytes)], expect: [C.badFrame, C.protocolError] };
    }
    case 'mutated': {
      const b = pack(rng.chance(0.5) ? HELLO : { type: 'pong', pingTimestamp: 12345.5 });
      for (let i = rng.int(1, 4); i > 0; i--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return {
        name: `mutated ${b.toString('hex')}`, phase: 'first', bytes: [bin(b)], accepted: true,
        expect: [C.badFrame, C.protocolError, C.unsupportedVersion, C.unknownSyncerType],
      };
    }
    case 'wsLevel': {
      const which = rng.pick(['unmasked', 'rsv bits', 'reserved opcode', 'fragmented control', 'continuation first'] as const);
      const p = pack(HELLO);
      const bytes = which === 'unmasked' ? frame(2, p, { mask: false })
        : which === 'rsv bits' ? frame(2, p, { rsv: 2 })
        : which === 'reserved opcode' ? frame(3, p)
        : which === 'fragmented control' ? frame(9, Buffer.alloc(2), { fin: false })
        : frame(0, p);
      return { name: `websocket-level: ${which}`, phase: rng.chance(0.5) ? 'first' : 'streaming', bytes: [bytes], expect: [1002] };
    }
    case 'pongFlood': {
      // Valid pongs are allowed after the ack, at a bounded rate: at least 500 at once exceed the
      // default burst (100), so the flood itself is closed (4008) before the text frame is read.
      const pong = bin(pack({ type: 'pong', pingTimestamp: 1 }));
      const n = rng.int(500, 3000);
      return { name: `flood of ${n} pongs then a text frame`, phase: 'streaming', bytes: [Buffer.concat([...Array.from({ length: n }, () => pong), frame(1, Buffer.from('x'))])], expect: [C.inboundRateExceeded] };
    }
  }
}

// ---- catch-up (PROTOCOL.md §11): hello capabilities, digests, resume positions ----

/** Honest state a case may start from: what a client held at `position`. */
export interface HonestState {
  readonly position: Position;
  readonly held: ReadonlyMap<string, HeldKV>;
}

export interface CatchUpContext {
  readonly instanceId: string;
  /** The newest breadcrumb seq the reference client has seen. */
  readonly newestSeq: number;
  /** A state from moments ago (usually still retained) and one from long ago (usually expired). */
  readonly recent: HonestState | undefined;
  readonly old: HonestState | undefined;
}

export interface CatchUpCase {
  readonly name: string;
  readonly peer: PeerOptions;
  /** Close codes allowed. Empty: the connection must stay open and catch up. */
  readonly expect: readonly number[];
  /**
   * Set when the connection may stay open: the `catchUp` paths (undefined: absent or nil, a
   * plain full snapshot) and reasons allowed (undefined: none given); the peer's map must then become exactly the server's model.
   */
  readonly open?: { readonly paths: readonly (string | undefined)[]; readonly reasons?: readonly (string | undefined)[] };
  /** A probe: serverHello with a status, no snapshot, then 1000. */
  readonly probe?: boolean;
}

/** Wrong values for a capability that must be a map, or for its fields. */
const NOT_A_MAP: readonly unknown[] = [true, -1, 1.5, 'x', '', [], [1, 2], Buffer.from([1, 2, 3])];
const NOT_AN_ID: readonly unknown[] = [7, true, [], { a: 1 }, Buffer.from('id'), 'x'.repeat(129), 'x'.repeat(5000), -1.5];
const NOT_A_SEQ: readonly unknown[] = [-1, -(2 ** 31), 1.5, 'x', '12', true, [], { a: 1 }, Buffer.from([1])];
const NOT_A_LEVEL: readonly unknown[] = [-1, 17, 32, 2 ** 32, 1.5, '4', true, [], { a: 1 }, Buffer.from([4])];
const NOT_A_FLAG: readonly unknown[] = ['yes', 'true', 1, 0, {}, [], Buffer.from([1])];
const LEVELS = [0, 1, 3, 4, 8, 12, 13, 14, 16] as const;

function randomId(rng: Prng, length = 16): string {
  return Array.from({ length }, () => rng.int(0, 15).toString(16)).join('');
}

/** A held map for a case: empty, honest, an honest one mutated, or keys the server never had. */
function someHeld(rng: Prng, ctx: CatchUpContext): ReadonlyMap<string, HeldKV> {
  const base = rng.chance(0.5) ? ctx.recent : ctx.old;
  const which = rng.weighted([[2, 'empty'], [3, 'honest'], [4, 'mutated'], [1, 'garbage']] as const);
  if (which === 'empty' || base === undefined) return new Map();
  const held = new Map(base.held);
  if (which === 'honest') return held;
  if (which === 'garbage') held.clear();
  const keys = [...held.keys()];
  for (let i = rng.int(1, 20); i > 0; i--) {
    const what = rng.pick(['drop', 'change', 'add'] as const);
    if (what === 'add' || keys.length === 0) {
      const key = `/fuzz/bogus/${randomId(rng, 6)}`;
      held.set(key, { value: { bogus: true }, bucket16: keyBucket16(key), hi: rng.int(0, 0xffffffff), lo: rng.int(0, 0xffffffff) });
    } else {
      const key = rng.pick(keys);
      if (what === 'drop') held.delete(key);
      else if (held.has(key)) held.set(key, { ...held.get(key)!, value: { changed: true }, lo: rng.int(0, 0xffffffff) });
    }
  }
  return held;
}

function digestsMessage(level: unknown, offset: unknown, digests: unknown): Record<string, unknown> {
  return { type: 'digests', level, offset, digests };
}

/** Buckets of a `digests` message at `offset` for `level` (PROTOCOL.md §11.6). */
function bucketsAt(level: number, offset: number): number {
  return Math.min(DIGESTS_PER_FRAME, 2 ** level - offset);
}

export function generateCatchUpCase(rng: Prng, ctx: CatchUpContext): CatchUpCase {
  const kind = rng.weighted([
    [4, 'helloShape'], [6, 'digestsBad'], [2, 'unexpectedDigests'], [6, 'resumeFallback'], [3, 'digestOnly'], [1, 'lyingDigests'], [1, 'probe'], [1, 'plain'],
  ] as const);
  const level = rng.pick(LEVELS);
  switch (kind) {
    case 'helloShape': {
      const which = rng.pick(['resume', 'resume.serverInstanceId', 'resume.seq', 'resume{}', 'digest', 'digest.level', 'digest{}', 'probe'] as const);
      const id = ctx.instanceId;
      const v = rng.pick(which === 'resume' || which === 'digest' ? NOT_A_MAP : which === 'resume.serverInstanceId' ? NOT_AN_ID
        : which === 'resume.seq' ? NOT_A_SEQ : which === 'digest.level' ? NOT_A_LEVEL : NOT_A_FLAG);
      const capabilities = which === 'resume' ? { resume: v }
        : which === 'resume.serverInstanceId' ? { resume: { serverInstanceId: v, seq: 1 } }
        : which === 'resume.seq' ? { resume: { serverInstanceId: id, seq: v } }
        : which === 'resume{}' ? { resume: rng.pick([{}, { serverInstanceId: id }, { seq: 1 }]) }
        : which === 'digest' ? { digest: v }
        : which === 'digest.level' ? { digest: { level: v } }
        : which === 'digest{}' ? { digest: {} }
        : { probe: v };
      return { name: `hello.capabilities.${which} = ${describe(v)}`, peer: { capabilities }, expect: [CloseCode.badFrame] };
    }
    case 'digestsBad': {
      const capabilities = { digest: { level } };
      const held = someHeld(rng, ctx);
      const own = ownDigests(held, level);
      const n0 = bucketsAt(level, 0);
      const which = rng.pick(['wrong level', 'wrong first offset', 'wrong length', 'wrong type', 'missing field', 'duplicated', 'out of order', 'after the last', 'ack first', 'too few'] as const);
      const first = own[0]!;
      let messages: unknown[];
      let expect: number[] = [CloseCode.badFrame];
      let afterHello: unknown[] | undefined;
      switch (which) {
        case 'wrong level': messages = [digestsMessage(rng.pick([level + 1, level - 1, 99, -1].filter((l) => l !== level)), 0, first.digests)]; break;
        case 'wrong first offset': messages = [digestsMessage(level, rng.pick([1, n0, 4096, -1, 2 ** 32, 0.5, '0']), first.digests)]; break;
        case 'wrong length': {
          const n = rng.pick([n0 + 1, n0 - 1, 0, n0 * 2, DIGESTS_PER_FRAME + 1].filter((x) => x !== n0 && x >= 0));
          const extra = rng.chance(0.3) ? rng.pick([1, 7]) : 0;
          const bytes = Math.max(0, 8 * n - extra);
          messages = [digestsMessage(level, 0, Buffer.alloc(bytes, 0xab))];
          if (bytes + 64 > MAX_INBOUND_FRAME_BYTES) expect = [CloseCode.badFrame, CloseCode.frameTooLarge];
          break;
        }
        case 'wrong type': messages = [digestsMessage(level, 0, rng.pick<unknown>(['x'.repeat(8 * n0), Array.from({ length: n0 }, () => 0), 7, null, true, {}]))]; break;
        case 'missing field': {
          const { [rng.pick(['level', 'offset', 'digests'] as const)]: _dropped, ...rest } = first;
          messages = [rest];
          break;
        }
        case 'duplicated':
          // One message too many at the same offset: the second is "not the next expected" (or, when one message is all there is, unexpected).
          messages = [own[0], own[0]];
          if (own.length === 1) expect = [CloseCode.protocolError];
          break;
        case 'out of order':
          if (own.length < 2) {
            messages = [digestsMessage(level, n0, first.digests)];
          } else {
            messages = [own[1], own[0]];
          }
          break;
        case 'after the last': messages = [...own, own[own.length - 1]]; expect = [CloseCode.protocolError]; break;
        case 'ack first': messages = []; afterHello = [{ type: 'ack' }]; expect = [CloseCode.protocolError]; break;
        case 'too few':
          messages = own.slice(0, rng.int(0, own.length - 1));
          expect = [CloseCode.handshakeTimeout];
          break;
      }
      return {
        name: `digests at level ${level}: ${which}`, expect,
        peer: { held, capabilities, upload: { kind: 'messages', messages }, ...(afterHello !== undefined ? { afterHello } : {}) },
      };
    }
    case 'unexpectedDigests': {
      const msg = ownDigests(new Map(), rng.pick([0, 4, level]))[0]!;
      const which = rng.pick(['no digest offered', 'resume fell back to a snapshot', 'after the ack', 'as the first message'] as const);
      if (which === 'as the first message') return { name: `digests ${which}`, peer: { hello: msg }, expect: [CloseCode.protocolError] };
      if (which === 'after the ack') {
        return { name: `digests ${which}`, peer: { capabilities: rng.chance(0.5) ? { digest: { level: 4 } } : {}, afterAck: [msg] }, expect: [CloseCode.protocolError] };
      }
      const capabilities = which === 'no digest offered' ? {} : { resume: { serverInstanceId: randomId(rng), seq: 3 } };
      return { name: `digests with ${which}`, peer: { capabilities, afterHello: [msg] }, expect: [CloseCode.protocolError] };
    }
    case 'resumeFallback': {
      const which = rng.pick(['never existed', 'empty id', 'longest id', 'from the future', 'old', 'recent'] as const);
      const digest = rng.chance(0.6) ? { digest: { level } } : {};
      const fallback = 'digest' in digest ? 'digest' : 'snapshot';
      const honest = which === 'old' ? ctx.old : which === 'recent' ? ctx.recent : undefined;
      if (honest !== undefined) {
        return {
          name: `resume from a ${which} position (seq ${honest.position.seq}, newest ${ctx.newestSeq})${fallback === 'digest' ? `, digests at ${level}` : ''}`,
          peer: { held: honest.held, capabilities: { resume: honest.position, ...digest } }, expect: [],
          open: { paths: ['resume', fallback], reasons: [undefined, 'expired', 'over-backlog'] },
        };
      }
      const resume = which === 'from the future'
        ? { serverInstanceId: ctx.instanceId, seq: ctx.newestSeq + rng.pick([1000, 10 ** 6, 2 ** 31, 2 ** 40]) }
        : { serverInstanceId: which === 'empty id' ? '' : which === 'longest id' ? 'f'.repeat(128) : randomId(rng), seq: rng.pick([0, 1, ctx.newestSeq, 2 ** 40]) };
      return {
        name: `resume ${which} (${resume.serverInstanceId.slice(0, 16)}…, seq ${resume.seq})${fallback === 'digest' ? `, digests at ${level}` : ''}`,
        peer: { held: someHeld(rng, ctx), capabilities: { resume, ...digest } }, expect: [],
        open: { paths: [fallback], reasons: [which === 'from the future' ? 'future' : 'other-instance'] },
      };
    }
    case 'digestOnly':
      return {
        name: `digests only at level ${level}`, peer: { held: someHeld(rng, ctx), capabilities: { digest: { level } } }, expect: [],
        open: { paths: ['digest'] },
      };
    case 'lyingDigests': {
      // Well-formed digests that do not describe what the peer holds (nothing): random, all
      // zero, all ones. The server cannot tell; since nothing is held, the answer is still exact.
      const fill = rng.pick(['random', 'zero', 'ones'] as const);
      const messages = ownDigests(new Map(), level).map((m) => ({
        ...m, digests: fill === 'zero' ? m.digests : fill === 'ones' ? Buffer.alloc(m.digests.length, 0xff) : Buffer.from(Array.from({ length: m.digests.length }, () => rng.int(0, 255))),
      }));
      return {
        name: `${fill} digests at level ${level} from a peer holding nothing`, expect: [],
        peer: { capabilities: { digest: { level } }, upload: { kind: 'messages', messages } }, open: { paths: ['digest'] },
      };
    }
    case 'probe': {
      const extra = rng.pick([{}, { digest: { level } }, { resume: { serverInstanceId: ctx.instanceId, seq: ctx.newestSeq } }]);
      return { name: `probe${Object.keys(extra).length > 0 ? ` with ${Object.keys(extra)[0]}` : ''}`, peer: { capabilities: { probe: true, ...extra } }, expect: [CloseCode.normal], probe: true };
    }
    case 'plain': {
      // Nothing offered: a plain full snapshot with no catchUp field. `probe: false` and nil
      // capabilities may be read as absent or refused as the wrong type (4001), nothing else.
      const capabilities = rng.pick<Record<string, unknown>>([{}, { probe: false }, { resume: null, digest: null, probe: null }]);
      return {
        name: `no catch-up offered (${JSON.stringify(capabilities)})`, peer: { held: someHeld(rng, ctx), capabilities },
        expect: Object.keys(capabilities).length === 0 ? [] : [CloseCode.badFrame], open: { paths: [undefined] },
      };
    }
  }
}

function describe(v: unknown): string {
  if (Buffer.isBuffer(v)) return `bin(${v.length})`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}… (${s.length})` : s;
}
