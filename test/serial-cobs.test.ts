// COBS: encodings written out by hand (including the 254-byte block boundary), decode errors with their codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cobsDecode, cobsEncode } from '../src/transports/serial/cobs.js';
import { cobsMaxEncoded } from '../src/transports/serial/protocol.js';
import { SbpError } from '../src/transports/serial/sbp-error.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const run = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ((from + i - 1) % 255) + 1); // non-zero bytes

function encode(src: Uint8Array): number[] {
  const dst = new Uint8Array(cobsMaxEncoded(src.length));
  const n = cobsEncode(src, 0, src.length, dst, 0);
  return [...dst.subarray(0, n)];
}

function decode(src: Uint8Array, cap = 1024): number[] {
  const dst = new Uint8Array(cap);
  const n = cobsDecode(src, 0, src.length, dst, cap);
  return [...dst.subarray(0, n)];
}

// The examples of Cheshire & Baker's paper and the Wikipedia table. Where the input ends right after a full
// 254-byte block, this encoder (like sbp_cobs.c, and the golden vectors) closes with an empty 0x01 block; the
// shorter form without it decodes the same (tested below).
const CASES: [number[], number[]][] = [
  [[], [0x01]],
  [[0x00], [0x01, 0x01]],
  [[0x00, 0x00], [0x01, 0x01, 0x01]],
  [[0x00, 0x11, 0x00], [0x01, 0x02, 0x11, 0x01]],
  [[0x11, 0x22, 0x00, 0x33], [0x03, 0x11, 0x22, 0x02, 0x33]],
  [[0x11, 0x22, 0x33, 0x44], [0x05, 0x11, 0x22, 0x33, 0x44]],
  [[0x11, 0x00, 0x00, 0x00], [0x02, 0x11, 0x01, 0x01, 0x01]],
  [run(254), [0xff, ...run(254), 0x01]],
  [[0x00, ...run(254)], [0x01, 0xff, ...run(254), 0x01]],
  [run(255), [0xff, ...run(254), 0x02, 0xff]],
  [[...run(254), 0x00], [0xff, ...run(254), 0x01, 0x01]],
];

test('encode and decode the reference examples', () => {
  for (const [raw, enc] of CASES) {
    assert.deepEqual(encode(Uint8Array.from(raw)), enc, `encode ${raw.length} bytes`);
    assert.deepEqual(decode(Uint8Array.from(enc)), raw, `decode ${enc.length} bytes`);
  }
  assert.deepEqual(decode(Uint8Array.from([0xff, ...run(254)])), run(254), 'the form without the closing 0x01 block');
});

test('encode writes at an offset and reports bytes written; refuses a short buffer before writing', () => {
  const dst = new Uint8Array(8).fill(0xee);
  assert.equal(cobsEncode(bytes(9, 0, 7), 0, 3, dst, 2), 4);
  assert.deepEqual([...dst], [0xee, 0xee, 0x02, 0x09, 0x02, 0x07, 0xee, 0xee]);
  const small = new Uint8Array(3).fill(0xee);
  assert.throws(() => cobsEncode(bytes(1, 2, 3), 0, 3, small, 0), (e: SbpError) => e.reason === 'buffer');
  assert.deepEqual([...small], [0xee, 0xee, 0xee]);
});

test('decode errors: 0x00 inside, a block past the end, output past the cap', () => {
  const reason = (src: number[], cap?: number) => {
    try { decode(Uint8Array.from(src), cap); return 'ok'; } catch (e) { return (e as SbpError).reason; }
  };
  assert.equal(reason([0x03, 0x11, 0x00]), 'cobs');
  assert.equal(reason([0x00]), 'cobs');
  assert.equal(reason([0x05, 0x11, 0x22]), 'cobs');
  assert.equal(reason([0x03, 0x11, 0x22, 0x02, 0x33], 3), 'oversize');
  assert.equal(reason([0x03, 0x11, 0x22, 0x02, 0x33], 4), 'ok');
  assert.throws(() => decode(bytes(0x05, 0x11, 0x22)), /needs 4 data bytes, frame ends 2 short/);
});
