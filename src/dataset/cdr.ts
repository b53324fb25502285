// A small CDR (XCDR1, little-endian) encoder for the ROS 2 messages Striatum writes into MCAP recordings:
// sensor_msgs/JointState, std_msgs/Float64MultiArray, sensor_msgs/Image and sensor_msgs/CompressedImage.
// Byte for byte what Cyclone DDS (rmw_cyclonedds_cpp) puts on the wire: a 4-byte encapsulation header
// (00 01, then two option bytes whose low bits count the end padding), every primitive aligned to its size from
// the end of the header, the body padded to a multiple of 4. Encode only: recordings are read by Foxglove,
// `ros2 bag` and @mcap/core. The ROS 2 transport has its own codec (src/transports/ros2/cdr.ts); the two can merge.

const HEADER = 4;
const utf8 = new TextEncoder();

export class CdrEncoder {
  private buf: Uint8Array;
  private view: DataView;
  private pos = HEADER;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialBytes));
    this.view = new DataView(this.buf.buffer);
  }

  reset(): this {
    this.pos = HEADER;
    return this;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  i32(v: number): this {
    this.align(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  u32(v: number): this {
    this.align(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  f64(v: number): this {
    this.align(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  /** u32 length counting the terminating NUL, the UTF-8 bytes, the NUL. */
  string(s: string): this {
    const bytes = utf8.encode(s);
    this.u32(bytes.length + 1);
    this.ensure(bytes.length + 1);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    this.buf[this.pos++] = 0;
    return this;
  }

  strings(values: readonly string[]): this {
    this.u32(values.length);
    for (const v of values) this.string(v);
    return this;
  }

  f64s(values: ArrayLike<number>, from = 0, count = values.length - from): this {
    this.u32(count);
    for (let i = 0; i < count; i++) this.f64(values[from + i]);
    return this;
  }

  bytes(data: Uint8Array): this {
    this.u32(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** builtin_interfaces/Time then the frame id: a std_msgs/Header. */
  header(stampNs: bigint, frameId: string): this {
    return this.i32(Number(stampNs / 1_000_000_000n)).u32(Number(stampNs % 1_000_000_000n)).string(frameId);
  }

  /** The message: a copy, padded, with the encapsulation header. */
  finish(): Uint8Array {
    const padding = (4 - ((this.pos - HEADER) % 4)) % 4;
    this.ensure(padding);
    this.buf.fill(0, this.pos, this.pos + padding);
    this.pos += padding;
    this.buf[0] = 0x00;
    this.buf[1] = 0x01;
    this.buf[2] = 0x00;
    this.buf[3] = padding;
    return this.buf.slice(0, this.pos);
  }

  private align(size: number): void {
    const pad = (size - ((this.pos - HEADER) % size)) % size;
    this.ensure(pad + size);
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

/** A run of values inside a longer array (a joint field inside the observation); count 0 writes an empty list. */
export interface Slice { readonly values: ArrayLike<number>; readonly from: number; readonly count: number }
const EMPTY: Slice = { values: [], from: 0, count: 0 };

export function encodeJointState(w: CdrEncoder, stampNs: bigint, frameId: string, names: readonly string[], position: Slice = EMPTY, velocity: Slice = EMPTY, effort: Slice = EMPTY): Uint8Array {
  w.reset().header(stampNs, frameId).strings(names);
  for (const s of [position, velocity, effort]) w.f64s(s.values, s.from, s.count);
  return w.finish();
}

/** std_msgs/Float64MultiArray with one dimension labelled `label`. */
export function encodeFloat64MultiArray(w: CdrEncoder, label: string, values: ArrayLike<number>): Uint8Array {
  w.reset().u32(1).string(label).u32(values.length).u32(values.length).u32(0);
  return w.f64s(values).finish();
}

export function encodeImage(w: CdrEncoder, stampNs: bigint, frameId: string, height: number, width: number, encoding: string, step: number, data: Uint8Array): Uint8Array {
  return w.reset().header(stampNs, frameId).u32(height).u32(width).string(encoding).u8(0).u32(step).bytes(data).finish();
}

export function encodeCompressedImage(w: CdrEncoder, stampNs: bigint, frameId: string, format: string, data: Uint8Array): Uint8Array {
  return w.reset().header(stampNs, frameId).string(format).bytes(data).finish();
}
