// CDR (XCDR1) as ROS 2 puts it on the wire: a 4-byte encapsulation header (00 01 = little-endian CDR, then two
// option bytes whose low bits count the padding at the end), then the body with every primitive aligned to its
// size, counted from the end of the header. The writer matches Cyclone DDS's serializer byte for byte
// (ros2-bridge/vectors/messages.txt); the reader checks every length against the bytes it has and throws
// Ros2CdrError with the numbers, never reads past the end and never allocates from an untrusted length.
import { StriatumError } from '../../errors.js';

export const CDR_HEADER_BYTES = 4;
const CDR_BE = 0x00;
const CDR_LE = 0x01;

export class Ros2CdrError extends StriatumError {
  constructor(message: string) {
    super('STRIATUM_ERR_ROS2_CDR', message);
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** Encodes one message; reset() and reuse it. finish() returns a view of its own buffer (copy what must outlive the next reset). */
export class CdrWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = CDR_HEADER_BYTES;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(Math.max(16, initialBytes));
    this.view = new DataView(this.buf.buffer);
    this.buf[1] = CDR_LE;
  }

  reset(): this {
    this.pos = CDR_HEADER_BYTES;
    return this;
  }

  /** Bytes written so far, header included. */
  get length(): number {
    return this.pos;
  }

  bool(v: boolean): this { return this.u8(v ? 1 : 0); }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  i32(v: number): this {
    this.align(4, 4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  u32(v: number): this {
    this.align(4, 4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  f64(v: number): this {
    this.align(8, 8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  /** A string: u32 length counting the terminating NUL, the UTF-8 bytes, the NUL. */
  string(s: string): this {
    const bytes = utf8.encode(s);
    this.u32(bytes.length + 1);
    this.ensure(bytes.length + 1);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    this.buf[this.pos++] = 0;
    return this;
  }

  /** A float64 sequence of `count` values from `values[from]` (by default all of them). */
  f64Sequence(values: ArrayLike<number>, from = 0, count = values.length - from): this {
    this.u32(count);
    for (let i = 0; i < count; i++) this.f64(values[from + i]);
    return this;
  }

  /** A float64 sequence; returns the offset of its first element (where later values can be written in place). */
  f64SequenceAt(values: ArrayLike<number>): number {
    this.u32(values.length);
    this.align(8, 0);
    const at = this.pos;
    for (let i = 0; i < values.length; i++) this.f64(values[i]);
    return at;
  }

  u8Sequence(bytes: Uint8Array): this {
    this.u32(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  stringSequence(values: readonly string[]): this {
    this.u32(values.length);
    for (const v of values) this.string(v);
    return this;
  }

  /** Pad the body to a multiple of 4 (Cyclone's serializer does, and says how much in the header's option byte). */
  finish(): Uint8Array {
    const padding = (4 - ((this.pos - CDR_HEADER_BYTES) % 4)) % 4;
    this.ensure(padding);
    this.buf.fill(0, this.pos, this.pos + padding);
    this.pos += padding;
    this.buf[0] = 0;
    this.buf[1] = CDR_LE;
    this.buf[2] = 0;
    this.buf[3] = padding;
    return this.buf.subarray(0, this.pos);
  }

  private align(size: number, extra: number): void {
    const pad = (size - ((this.pos - CDR_HEADER_BYTES) % size)) % size;
    this.ensure(pad + extra);
    for (let i = 0; i < pad; i++) this.buf[this.pos++] = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Reads one message. Throws Ros2CdrError on anything that does not fit. */
export class CdrReader {
  private readonly view: DataView;
  private readonly little: boolean;
  private pos = CDR_HEADER_BYTES;

  constructor(private readonly bytes: Uint8Array) {
    if (bytes.length < CDR_HEADER_BYTES) throw new Ros2CdrError(`payload of ${bytes.length} bytes is shorter than the 4-byte encapsulation header`);
    if (bytes[0] !== 0 || (bytes[1] !== CDR_LE && bytes[1] !== CDR_BE)) {
      throw new Ros2CdrError(`encapsulation ${hex2(bytes[0])} ${hex2(bytes[1])} is not plain CDR (00 00 or 00 01)`);
    }
    this.little = bytes[1] === CDR_LE;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes left after the read position. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new Ros2CdrError(`boolean at offset ${this.pos - 1} is ${v}, not 0 or 1`);
    return v === 1;
  }

  u8(): number {
    this.need(1, 'octet');
    return this.bytes[this.pos++];
  }

  i32(): number {
    this.align(4);
    this.need(4, 'int32');
    const v = this.view.getInt32(this.pos, this.little);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.align(4);
    this.need(4, 'uint32');
    const v = this.view.getUint32(this.pos, this.little);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.align(8);
    this.need(8, 'float64');
    const v = this.view.getFloat64(this.pos, this.little);
    this.pos += 8;
    return v;
  }

  /** A sequence's element count, checked against the bytes left (each element takes at least `minElementBytes`). */
  sequenceLength(minElementBytes: number, what: string): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minElementBytes > this.remaining) {
      throw new Ros2CdrError(`${what} at offset ${at} claims ${n} elements but only ${this.remaining} bytes follow`);
    }
    return n;
  }

  /** Length in bytes (NUL included) of the string at the read position, checked; the position moves past it. */
  stringSpan(): { start: number; length: number } {
    const at = this.pos;
    const n = this.u32();
    if (n === 0) throw new Ros2CdrError(`string at offset ${at} has length 0 (no terminating NUL)`);
    this.need(n, 'string');
    if (this.bytes[this.pos + n - 1] !== 0) throw new Ros2CdrError(`string at offset ${at} of length ${n} does not end with NUL`);
    const start = this.pos;
    this.pos += n;
    return { start, length: n - 1 };
  }

  string(): string {
    const span = this.stringSpan();
    return utf8Decoder.decode(this.bytes.subarray(span.start, span.start + span.length));
  }

  /** Whether the string at the read position equals `expected` (UTF-8, no NUL); moves past it. Allocates nothing. */
  stringEquals(expected: Uint8Array): boolean {
    const at = this.pos;
    const n = this.u32();
    if (n === 0) throw new Ros2CdrError(`string at offset ${at} has length 0 (no terminating NUL)`);
    this.need(n, 'string');
    if (this.bytes[this.pos + n - 1] !== 0) throw new Ros2CdrError(`string at offset ${at} of length ${n} does not end with NUL`);
    let equal = n - 1 === expected.length;
    for (let i = 0; equal && i < expected.length; i++) equal = this.bytes[this.pos + i] === expected[i];
    this.pos += n;
    return equal;
  }

  /** The payload being read (to compare a stringSpan in place). */
  get payload(): Uint8Array {
    return this.bytes;
  }

  /** The next n octets as a view into the payload (no copy). */
  octets(n: number): Uint8Array {
    this.need(n, 'octets');
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  private align(size: number): void {
    const pad = (size - ((this.pos - CDR_HEADER_BYTES) % size)) % size;
    this.pos += pad;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      throw new Ros2CdrError(`${what} at offset ${this.pos} needs ${n} bytes but the payload ends at ${this.bytes.length}`);
    }
  }
}

function hex2(v: number | undefined): string {
  return (v ?? 0).toString(16).padStart(2, '0');
}
