// The ROS 2 messages Striatum writes into MCAP recordings, CDR-encoded (XCDR1, little-endian) by the ROS 2
// transport's writer (src/transports/ros2/cdr.ts), so a recording's bytes are exactly what Cyclone DDS puts on
// the wire: sensor_msgs/JointState, std_msgs/Float64MultiArray, sensor_msgs/Image and sensor_msgs/CompressedImage.
// Each function returns a copy: the MCAP writer keeps the message after the writer is reused.
import { CdrWriter } from '../transports/ros2/cdr.js';

export { CdrWriter };

/** A run of values inside a longer array (a joint field inside the observation); count 0 writes an empty list. */
export interface Slice { readonly values: ArrayLike<number>; readonly from: number; readonly count: number }
const EMPTY: Slice = { values: [], from: 0, count: 0 };

/** std_msgs/Header: builtin_interfaces/Time, then the frame id. */
function header(w: CdrWriter, stampNs: bigint, frameId: string): CdrWriter {
  return w.i32(Number(stampNs / 1_000_000_000n)).u32(Number(stampNs % 1_000_000_000n)).string(frameId);
}

export function encodeJointState(w: CdrWriter, stampNs: bigint, frameId: string, names: readonly string[], position: Slice = EMPTY, velocity: Slice = EMPTY, effort: Slice = EMPTY): Uint8Array {
  header(w.reset(), stampNs, frameId).stringSequence(names);
  for (const s of [position, velocity, effort]) w.f64Sequence(s.values, s.from, s.count);
  return w.finish().slice();
}

/** std_msgs/Float64MultiArray with one dimension labelled `label`. */
export function encodeFloat64MultiArray(w: CdrWriter, label: string, values: ArrayLike<number>): Uint8Array {
  w.reset().u32(1).string(label).u32(values.length).u32(values.length).u32(0);
  return w.f64Sequence(values).finish().slice();
}

export function encodeImage(w: CdrWriter, stampNs: bigint, frameId: string, height: number, width: number, encoding: string, step: number, data: Uint8Array): Uint8Array {
  return header(w.reset(), stampNs, frameId).u32(height).u32(width).string(encoding).u8(0).u32(step).u8Sequence(data).finish().slice();
}

export function encodeCompressedImage(w: CdrWriter, stampNs: bigint, frameId: string, format: string, data: Uint8Array): Uint8Array {
  return header(w.reset(), stampNs, frameId).string(format).u8Sequence(data).finish().slice();
}
