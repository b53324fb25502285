// CRC-32C: the check value, known answers from RFC 3720 (iSCSI), and piecewise updates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CRC32C_INIT, crc32c, crc32cFinish, crc32cUpdate } from '../src/transports/serial/crc32c.js';

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

test('check value: crc32c("123456789") = 0xE3069283', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
});

test('RFC 3720 B.4 known answers', () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // 32 bytes of ones
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e); // incrementing
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c); // decrementing
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('a range and pieces give the same CRC as the whole', () => {
  const bytes = ascii('xx123456789yy');
  assert.equal(crc32c(bytes, 2, 11), 0xe3069283);
  let c = crc32cUpdate(CRC32C_INIT, bytes, 2, 5);
  c = crc32cUpdate(c, bytes, 5, 11);
  assert.equal(crc32cFinish(c), 0xe3069283);
});
