// The ROS 2 messages Striatum speaks, declared once as field lists (in the order of their .msg definitions),
// with one generic CDR encoder and decoder driven by them. Names follow rmw_cyclonedds_cpp: the DDS type of
// `sensor_msgs/msg/JointState` is `sensor_msgs::msg::dds_::JointState_`. The control tick does not use these
// (it has fixed-layout encoders in command-encoder.ts and the joint-state matcher); everything else does.
import { CdrReader, CdrWriter, Ros2CdrError } from './cdr.js';

export type Primitive = 'bool' | 'uint8' | 'int32' | 'uint32' | 'float64' | 'string';
export type FieldType = Primitive | { readonly sequence: FieldType } | { readonly struct: MessageDef } | 'octets';
export interface MessageDef {
  /** ROS name, e.g. sensor_msgs/msg/JointState. */
  readonly rosName: string;
  readonly fields: readonly (readonly [string, FieldType])[];
}

/** DDS type name of a ROS message as rmw_cyclonedds_cpp registers it. */
export function ddsTypeName(def: MessageDef): string {
  const [pkg, kind, type] = def.rosName.split('/');
  return `${pkg}::${kind}::dds_::${type}_`;
}

/** DDS topic name of a ROS topic ("/joint_states" → "rt/joint_states"). */
export function ddsTopicName(rosTopic: string): string {
  return `rt${rosTopic.startsWith('/') ? rosTopic : `/${rosTopic}`}`;
}

const struct = (def: MessageDef): FieldType => ({ struct: def });
const sequence = (of: FieldType): FieldType => ({ sequence: of });

export const TIME: MessageDef = { rosName: 'builtin_interfaces/msg/Time', fields: [['sec', 'int32'], ['nanosec', 'uint32']] };
export const DURATION: MessageDef = { rosName: 'builtin_interfaces/msg/Duration', fields: [['sec', 'int32'], ['nanosec', 'uint32']] };
export const HEADER: MessageDef = { rosName: 'std_msgs/msg/Header', fields: [['stamp', struct(TIME)], ['frame_id', 'string']] };
export const BOOL: MessageDef = { rosName: 'std_msgs/msg/Bool', fields: [['data', 'bool']] };
export const STRING: MessageDef = { rosName: 'std_msgs/msg/String', fields: [['data', 'string']] };
export const MULTI_ARRAY_DIMENSION: MessageDef = {
  rosName: 'std_msgs/msg/MultiArrayDimension', fields: [['label', 'string'], ['size', 'uint32'], ['stride', 'uint32']],
};
export const MULTI_ARRAY_LAYOUT: MessageDef = {
  rosName: 'std_msgs/msg/MultiArrayLayout', fields: [['dim', sequence(struct(MULTI_ARRAY_DIMENSION))], ['data_offset', 'uint32']],
};
export const FLOAT64_MULTI_ARRAY: MessageDef = {
  rosName: 'std_msgs/msg/Float64MultiArray', fields: [['layout', struct(MULTI_ARRAY_LAYOUT)], ['data', sequence('float64')]],
};
export const JOINT_STATE: MessageDef = {
  rosName: 'sensor_msgs/msg/JointState',
  fields: [['header', struct(HEADER)], ['name', sequence('string')], ['position', sequence('float64')], ['velocity', sequence('float64')], ['effort', sequence('float64')]],
};
export const IMAGE: MessageDef = {
  rosName: 'sensor_msgs/msg/Image',
  fields: [['header', struct(HEADER)], ['height', 'uint32'], ['width', 'uint32'], ['encoding', 'string'], ['is_bigendian', 'uint8'], ['step', 'uint32'], ['data', 'octets']],
};
export const COMPRESSED_IMAGE: MessageDef = {
  rosName: 'sensor_msgs/msg/CompressedImage', fields: [['header', struct(HEADER)], ['format', 'string'], ['data', 'octets']],
};
export const JOINT_TRAJECTORY_POINT: MessageDef = {
  rosName: 'trajectory_msgs/msg/JointTrajectoryPoint',
  fields: [['positions', sequence('float64')], ['velocities', sequence('float64')], ['accelerations', sequence('float64')], ['effort', sequence('float64')], ['time_from_start', struct(DURATION)]],
};
export const JOINT_TRAJECTORY: MessageDef = {
  rosName: 'trajectory_msgs/msg/JointTrajectory',
  fields: [['header', struct(HEADER)], ['joint_names', sequence('string')], ['points', sequence(struct(JOINT_TRAJECTORY_POINT))]],
};
export const KEY_VALUE: MessageDef = { rosName: 'diagnostic_msgs/msg/KeyValue', fields: [['key', 'string'], ['value', 'string']] };
export const DIAGNOSTIC_STATUS: MessageDef = {
  rosName: 'diagnostic_msgs/msg/DiagnosticStatus',
  fields: [['level', 'uint8'], ['name', 'string'], ['message', 'string'], ['hardware_id', 'string'], ['values', sequence(struct(KEY_VALUE))]],
};
export const DIAGNOSTIC_ARRAY: MessageDef = {
  rosName: 'diagnostic_msgs/msg/DiagnosticArray', fields: [['header', struct(HEADER)], ['status', sequence(struct(DIAGNOSTIC_STATUS))]],
};

/** A decoded or to-be-encoded message: field name → value (numbers, booleans, strings, arrays, nested objects). */
export type MessageValue = { [field: string]: unknown };

/** Encode `value` as `def` into `writer` (reset first) and return the finished payload view. Missing fields are zero/empty. */
export function encodeMessage(def: MessageDef, value: MessageValue, writer: CdrWriter = new CdrWriter()): Uint8Array {
  writer.reset();
  writeStruct(writer, def, value);
  return writer.finish();
}

/** Decode a whole payload as `def`. Throws Ros2CdrError when it does not fit. */
export function decodeMessage(def: MessageDef, payload: Uint8Array): MessageValue {
  const reader = new CdrReader(payload);
  const value = readStruct(reader, def);
  // Cyclone pads to a multiple of 4: more than 3 bytes left means the payload is not this type.
  if (reader.remaining > 3) throw new Ros2CdrError(`${def.rosName}: ${reader.remaining} bytes left after the message at offset ${reader.offset}`);
  return value;
}

function writeStruct(w: CdrWriter, def: MessageDef, value: MessageValue | undefined): void {
  for (const [name, type] of def.fields) writeField(w, type, value?.[name]);
}

function writeField(w: CdrWriter, type: FieldType, v: unknown): void {
  switch (type) {
    case 'bool': w.bool(v === true); return;
    case 'uint8': w.u8(Number(v ?? 0)); return;
    case 'int32': w.i32(Number(v ?? 0)); return;
    case 'uint32': w.u32(Number(v ?? 0)); return;
    case 'float64': w.f64(Number(v ?? 0)); return;
    case 'string': w.string(String(v ?? '')); return;
    case 'octets': w.u8Sequence(v instanceof Uint8Array ? v : new Uint8Array((v as number[] | undefined) ?? [])); return;
  }
  if ('struct' in type) {
    writeStruct(w, type.struct, v as MessageValue | undefined);
    return;
  }
  const items = (v ?? []) as ArrayLike<unknown>;
  w.u32(items.length);
  for (let i = 0; i < items.length; i++) writeField(w, type.sequence, items[i]);
}

function readStruct(r: CdrReader, def: MessageDef): MessageValue {
  const out: MessageValue = {};
  for (const [name, type] of def.fields) out[name] = readField(r, type, `${def.rosName}.${name}`);
  return out;
}

/** Smallest wire size of one element, for checking a sequence length before reading it. */
function minBytes(type: FieldType): number {
  if (type === 'bool' || type === 'uint8') return 1;
  if (type === 'float64') return 8;
  if (typeof type === 'string') return 4;
  return 'struct' in type ? Math.max(1, type.struct.fields.reduce((n, [, t]) => n + Math.min(minBytes(t), 4), 0)) : 4;
}

function readField(r: CdrReader, type: FieldType, what: string): unknown {
  switch (type) {
    case 'bool': return r.bool();
    case 'uint8': return r.u8();
    case 'int32': return r.i32();
    case 'uint32': return r.u32();
    case 'float64': return r.f64();
    case 'string': return r.string();
    case 'octets': return r.octets(r.sequenceLength(1, what)).slice();
  }
  if ('struct' in type) return readStruct(r, type.struct);
  const n = r.sequenceLength(minBytes(type.sequence), what);
  const items: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) items[i] = readField(r, type.sequence, what);
  return items;
}
