import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { constants, zstdCompressSync } from 'node:zlib';
import {
  chooseCompression, Codec, compressFrame, decompressFrame, isCompressedFrame, largestServerFrameBytes, DEFAULT_MAX_VALUE_BYTES,
} from '../../src/protocol/index.ts';
import { closeCodeOf } from '../support/closeCodeOf.ts';

const protocolDoc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

/** The hex of a fenced block of PROTOCOL.md §7.1 whose info string is `text <name>`. */
function vector(name: string): Buffer {
  const m = new RegExp('```text ' + name + '\\n([0-9a-f\\n]+)```').exec(protocolDoc);
  assert.ok(m, `PROTOCOL.md has a \`text ${name}\` test vector`);
  return Buffer.from(m[1]!.replace(/\n/g, ''), 'hex');
}

const codec = new Codec();
const LIMIT = largestServerFrameBytes(DEFAULT_MAX_VALUE_BYTES);

describe('frame compression (PROTOCOL.md §7.1)', () => {
  test('the documented compressed vector decodes to the documented plain vector, which is the documented kvs message', () => {
    const plain = vector('plain');
    const zstd = vector('zstd');
    assert.equal(plain.length, 297);
    assert.equal(zstd.length, 166);
    assert.ok(isCompressedFrame(zstd));
    assert.ok(!isCompressedFrame(plain), 'a plain frame starts with a map header');
    assert.deepEqual(decompressFrame(zstd, LIMIT), plain);
    const msg = codec.decodeServer(plain);
    assert.equal(msg.type, 'kvs');
    assert.deepEqual(msg.type === 'kvs' ? msg.kvs.map((e) => [e[0], e[2], e[3]]) : [], [
      ['/calico/v1/host/node-1/workload/k8s/ns-1%2fweb-0/endpoint/eth0', '100', 1],
      ['/calico/v1/host/node-1/workload/k8s/ns-1%2fweb-1/endpoint/eth0', '101', 1],
    ]);
    // The header as §7.1 reads it: descriptor 0x60, content size 0x0029 + 256.
    assert.equal(zstd[4], 0x60);
    assert.equal(zstd.readUInt16LE(5) + 256, 297);
  });

  test("the server's encoder writes what §7.1 promises: one frame, content size declared, single segment, no checksum or dictionary", () => {
    const plain = vector('plain');
    const packed = compressFrame(plain);
    assert.ok(isCompressedFrame(packed));
    assert.ok(packed.length < plain.length);
    const descriptor = packed[4]!;
    assert.notEqual(descriptor >> 6, 0, 'content-size field present');
    assert.equal((descriptor >> 5) & 1, 1, 'single segment');
    assert.equal((descriptor >> 2) & 1, 0, 'no checksum');
    assert.equal(descriptor & 3, 0, 'no dictionary id');
    assert.deepEqual(decompressFrame(packed, plain.length), plain, 'decodes within a limit of exactly its plain size');
  });

  test('the server chooses the first name on the client list that it supports, and none for no list or unknown names', () => {
    assert.equal(chooseCompression(['snappy', 'zstd']), 'zstd');
    assert.equal(chooseCompression(['zstd']), 'zstd');
    assert.equal(chooseCompression(['snappy', 'gzip']), null);
    assert.equal(chooseCompression([]), null);
    assert.equal(chooseCompression(undefined), null);
  });

  test('a frame that declares more than the limit is refused with 1009 before it is decompressed', () => {
    const big = compressFrame(Buffer.alloc(200_000, 0x61));
    assert.equal(closeCodeOf(() => decompressFrame(big, 199_999)), 1009);
    assert.equal(decompressFrame(big, 200_000).length, 200_000);
  });

  test('a frame whose header omits the content size, names a dictionary or is not one whole zstd frame is refused with 4001', () => {
    const plain = Buffer.alloc(5000, 0x62);
    const noSize = zstdCompressSync(plain, { params: { [constants.ZSTD_c_contentSizeFlag]: 0 } });
    assert.equal(closeCodeOf(() => decompressFrame(noSize, LIMIT)), 4001, 'no content size');
    // Descriptor 0x61: 2-byte content size, single segment, 1-byte dictionary id (7).
    const withDict = Buffer.from('28b52ffd6107881301000000', 'hex');
    assert.equal(closeCodeOf(() => decompressFrame(withDict, LIMIT)), 4001, 'dictionary');
    const one = compressFrame(plain);
    assert.equal(closeCodeOf(() => decompressFrame(Buffer.concat([one, one]), LIMIT)), 4001, 'two frames in one message');
    assert.equal(closeCodeOf(() => decompressFrame(one.subarray(0, one.length - 3), LIMIT)), 4001, 'truncated');
    assert.equal(closeCodeOf(() => decompressFrame(one.subarray(0, 5), LIMIT)), 4001, 'truncated header');
    const corrupt = Buffer.from(one);
    corrupt[corrupt.length - 5]! ^= 0xff;
    assert.equal(closeCodeOf(() => decompressFrame(corrupt, LIMIT)), 4001, 'corrupt');
  });
});
