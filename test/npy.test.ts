// The .npy writer against bytes written out by hand (magic, version, header length, dict, space padding to 64),
// and against NumPy itself: never only against its own reader.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeUint8Npy } from '../src/cli/cmd-record.js';
import { encodeNpy, readNpy, writeNpy } from '../src/util/npy.js';
import { tempDir } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const u16LE = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const f32LE = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeFloatLE(x, 4 * i)); return b; };
const i32LE = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeInt32LE(x, 4 * i)); return b; };
const MAGIC_V1 = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]); // \x93NUMPY, version 1.0

test('npy: a float32 vector is magic, version 1.0, header length 118, the dict padded to 128 bytes, then the data', () => {
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"; // 57 characters
  const expected = Buffer.concat([MAGIC_V1, u16LE(118), ascii(dict), ascii(' '.repeat(60)), ascii('\n'), f32LE(1.5, -2)]);
  const bytes = encodeNpy(new Float32Array([1.5, -2]), [2]);
  assert.equal(bytes.length, 128 + 8);
  assert.deepEqual(bytes, expected);
});

test('npy: an int32 matrix, a subarray view (only its own elements), and a 12-dimensional shape', () => {
  const whole = new Int32Array([99, 1, -2, 3, 4, 5, 2147483647, 99]);
  const dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }"; // 59
  assert.deepEqual(encodeNpy(whole.subarray(1, 7), [3, 2]),
    Buffer.concat([MAGIC_V1, u16LE(118), ascii(dict), ascii(' '.repeat(58)), ascii('\n'), i32LE(1, -2, 3, 4, 5, 2147483647)]));
  const ones = Array.from({ length: 12 }, () => 1);
  const long = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }"; // 89
  assert.deepEqual(encodeNpy(new Float32Array([0.25]), ones),
    Buffer.concat([MAGIC_V1, u16LE(118), ascii(long), ascii(' '.repeat(28)), ascii('\n'), f32LE(0.25)]));
});

test('npy: a header past 118 characters grows to the next multiple of 64 (192 bytes: header length 182)', () => {
  const shape = Array.from({ length: 24 }, () => 1);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`; // 125
  assert.equal(dict.length, 125);
  assert.deepEqual(encodeNpy(new Float32Array([7]), shape),
    Buffer.concat([MAGIC_V1, u16LE(182), ascii(dict), ascii(' '.repeat(56)), ascii('\n'), f32LE(7)]));
});

test('npy: the streamed uint8 frame writer of striatum record uses the same header', () => {
  const path = join(tempDir(), 'frames.npy');
  writeUint8Npy(path, [Uint8Array.from([1, 2, 3, 4, 5, 6]), Uint8Array.from([7, 8, 9, 10, 11, 12])], [1, 2, 2, 3]);
  const dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 3), }"; // 65
  assert.deepEqual(readFileSync(path),
    Buffer.concat([MAGIC_V1, u16LE(118), ascii(dict), ascii(' '.repeat(52)), ascii('\n'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])]));
});

test('npy: a shape that does not hold the data is refused', () => {
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 2]), { code: 'STRIATUM_ERR_INTERNAL' });
});

test('npy: NumPy reads what the writer wrote, and the reader reads what NumPy wrote', () => {
  const python = requirePython(['numpy']);
  const dir = tempDir();
  writeNpy(join(dir, 'ours.npy'), new Int32Array([1, -2, 3, 4, 5, -6]), [2, 3]);
  const seen = execFileSync(python, ['-c', 'import sys, numpy as np; a = np.load(sys.argv[1]); print(a.shape, a.dtype, a.tolist())', join(dir, 'ours.npy')]).toString().trim();
  assert.equal(seen, '(2, 3) int32 [[1, -2, 3], [4, 5, -6]]');
  execFileSync(python, ['-c', 'import sys, numpy as np; np.save(sys.argv[1], np.array([[0.5, -1.25], [3, 4]], dtype="<f4"))', join(dir, 'numpy.npy')]);
  const theirs = readNpy(join(dir, 'numpy.npy'));
  assert.deepEqual(theirs.shape, [2, 2]);
  assert.deepEqual([...theirs.data], [0.5, -1.25, 3, 4]);
});
