/**
 * Bad client frames, generated from a seed: each case is the bytes a hostile or broken client
 * writes and the close codes docs/PROTOCOL.md §9 allows for them. `phase` says where in the
 * session the bytes arrive: as the first message, or after a valid hello and ack (streaming).
 */
import { createPackr, CloseCode, MAX_INBOUND_FRAME_BYTES } from '../../src/protocol/index.ts';
import type { Prng } from '../torture/prng.ts';
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
