// Minimal NumPy .npy writer (format 1.0, float32/int32) and reader (format 1.x/2.x, float32/int32/uint8): the
// trainer's file format, and the camera frames `striatum record --frames` writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { StriatumError } from '../errors.js';

type Typed = Float32Array | Int32Array;

function descr(a: Typed): NpyDescr {
  return a instanceof Float32Array ? '<f4' : '<i4';
}

/** The element types Striatum writes: float32, int32 (little-endian) and uint8 (camera frames). */
export type NpyDescr = '<f4' | '<i4' | '|u1' | '<f8' | '<i8' | '|b1';

/** The format 1.0 preamble: magic, version 1.0, header length (u16 LE), then the header dict padded with spaces
 * so the data starts at a multiple of 64 bytes, ending in \n. The one header writer for every .npy Striatum writes. */
export function npyHeader(descr: NpyDescr, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1')]);
}

export function encodeNpy(data: Typed, shape: readonly number[]): Buffer {
  const count = shape.reduce((p, d) => p * d, 1);
  if (count !== data.length) throw new StriatumError('STRIATUM_ERR_INTERNAL', `npy: shape [${shape.join(',')}] holds ${count} values, array has ${data.length}`);
  return Buffer.concat([npyHeader(descr(data), shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(path: string, data: Typed, shape: readonly number[]): void {
  writeFileSync(path, encodeNpy(data, shape));
}

/** An array read from a .npy file: uint8 for camera frames, float32 or int32 for everything else. */
export type NpyArray = { data: Typed | Uint8Array; shape: number[] };

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, [], { cause: err });
  }
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const d = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const s = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (d === undefined || s === undefined || /'fortran_order':\s*True/.test(header)) throw new StriatumError('STRIATUM_ERR_IO', `${path}: unsupported npy header ${header.trim()}`);
  const shape = s.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  const body = buf.subarray(start + headerLen);
  const copy = new Uint8Array(body).buffer; // aligned copy
  if (d === '<f4') return { data: new Float32Array(copy), shape };
  if (d === '<i4') return { data: new Int32Array(copy), shape };
  if (d === '|u1') return { data: new Uint8Array(copy), shape };
  throw new StriatumError('STRIATUM_ERR_IO', `${path}: dtype ${d} not supported (float32, int32 and uint8 only)`);
}

/** A growable float32 matrix with a fixed row width, for recording. */
export class RowBuffer<T extends Typed> {
  private data: T;
  rows = 0;
  constructor(readonly width: number, private readonly make: (n: number) => T, initialRows = 4096) {
    this.data = make(initialRows * width);
  }

  push(values: ArrayLike<number>): void {
    if ((this.rows + 1) * this.width > this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const o = this.rows * this.width;
    for (let i = 0; i < this.width; i++) this.data[o + i] = values[i];
    this.rows++;
  }

  view(): T {
    return this.data.subarray(0, this.rows * this.width) as T;
  }
}
