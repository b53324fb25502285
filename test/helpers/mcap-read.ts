// Reading MCAP files in tests: @mcap/core's indexed reader over a file, a tiny CDR reader for the ROS 2 messages,
// and a hand-written record walker that counts the messages of every whole chunk before a byte offset
// (independent of @mcap/core, so recovery is checked against the file format itself).
import { readFileSync } from 'node:fs';
import { McapIndexedReader } from '@mcap/core';

export async function openIndexed(path: string): Promise<McapIndexedReader> {
  const bytes = readFileSync(path);
  return McapIndexedReader.Initialize({
    readable: {
      size: async () => BigInt(bytes.byteLength),
      read: async (offset: bigint, length: bigint) => new Uint8Array(bytes.buffer, bytes.byteOffset + Number(offset), Number(length)),
    },
  });
}

/** Messages inside every Chunk record (opcode 0x06) that ends at or before `cut` bytes. */
export function messagesInWholeChunks(bytes: Uint8Array, cut: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8; // magic
  let count = 0;
  while (p + 9 <= cut) {
    const op = bytes[p];
    const len = Number(view.getBigUint64(p + 1, true));
    const body = p + 9;
    if (body + len > cut) break;
    if (op === 0x06) {
      let q = body + 8 + 8 + 8 + 4; // start time, end time, uncompressed size, crc
      const compressionLength = view.getUint32(q, true);
      q += 4 + compressionLength;
      if (compressionLength !== 0) throw new Error('compressed chunks are not walked here');
      const recordsLength = Number(view.getBigUint64(q, true));
      q += 8;
      const end = q + recordsLength;
      while (q < end) {
        if (bytes[q] === 0x05) count++;
        q += 9 + Number(view.getBigUint64(q + 1, true));
      }
    }
    p = body + len;
  }
  return count;
}

/** A little-endian CDR reader for the messages the recordings hold. */
export class CdrRead {
  private p = 4;
  private readonly v: DataView;
  constructor(private readonly b: Uint8Array) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private align(n: number): void { this.p += (n - ((this.p - 4) % n)) % n; }
  u32(): number { this.align(4); const x = this.v.getUint32(this.p, true); this.p += 4; return x; }
  i32(): number { this.align(4); const x = this.v.getInt32(this.p, true); this.p += 4; return x; }
  f64(): number { this.align(8); const x = this.v.getFloat64(this.p, true); this.p += 8; return x; }
  string(): string { const n = this.u32(); const s = Buffer.from(this.b.subarray(this.p, this.p + n - 1)).toString('utf8'); this.p += n; return s; }
  f64s(): number[] { const n = this.u32(); return Array.from({ length: n }, () => this.f64()); }
  strings(): string[] { const n = this.u32(); return Array.from({ length: n }, () => this.string()); }
}

export function readFloat64MultiArray(data: Uint8Array): { label: string; data: number[] } {
  const r = new CdrRead(data);
  const dims = r.u32();
  let label = '';
  for (let i = 0; i < dims; i++) { label = r.string(); r.u32(); r.u32(); }
  r.u32(); // data_offset
  return { label, data: r.f64s() };
}

export function readJointState(data: Uint8Array): { sec: number; nanosec: number; name: string[]; position: number[]; velocity: number[]; effort: number[] } {
  const r = new CdrRead(data);
  const sec = r.i32();
  const nanosec = r.u32();
  r.string();
  return { sec, nanosec, name: r.strings(), position: r.f64s(), velocity: r.f64s(), effort: r.f64s() };
}
