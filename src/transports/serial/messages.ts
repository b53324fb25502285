// SBP message payloads (firmware-bridge/schema.txt): one type per message, encode and decode side by side,
// byte-identical to sbp_message.c. Two hot-path functions beside the general ones: encodeCommand() and
// decodeStateInto() allocate nothing; encodeMessage()/decodeMessage() build objects and throw SbpError.
import { sealBody } from './frame.js';
import { PayloadReader } from './payload-reader.js';
import {
  SBP_ARM, SBP_COMMAND, SBP_ESTOP, SBP_FAULT, SBP_FAULT_TEXT_MAX, SBP_FIRMWARE_ID_MAX, SBP_HEADER_SIZE, SBP_HEARTBEAT, SBP_HELLO,
  SBP_HELLO_ACK, SBP_MAX_BODY, SBP_MAX_JOINTS, SBP_MODE_COUNT, SBP_PARAM_GET, SBP_PARAM_RESULT_COUNT, SBP_PARAM_SET,
  SBP_PARAM_VALUE, SBP_STATE, SBP_TYPE_CODES, sbpTypeName,
} from './protocol.js';
import { SBP_ERR_ARGUMENT, SbpError } from './sbp-error.js';

export interface SbpJointLimits {
  posMin: number;
  posMax: number;
  velMax: number;
  effortMax: number;
}

export interface SbpHello { type: 'HELLO'; seq: number; protocolVersion: number; schemaHash: number }
export interface SbpHelloAck {
  type: 'HELLO_ACK'; seq: number; protocolVersion: number; schemaHash: number;
  /** one entry per joint: the wire's joint_count */
  limits: SbpJointLimits[];
  /** UTF-8 text (PROTOCOL.md: char[] is UTF-8, for logs); at most 32 bytes encoded. */
  firmwareId: string;
}
export interface SbpHeartbeat { type: 'HEARTBEAT'; seq: number }
export interface SbpCommand { type: 'COMMAND'; seq: number; mode: number; targets: number[] }
export interface SbpStateMessage {
  type: 'STATE'; seq: number; mcuTimeUs: bigint; flags: number; lastCommandSeq: number;
  positions: number[]; velocities: number[]; efforts: number[];
}
export interface SbpEstop { type: 'ESTOP'; seq: number }
export interface SbpArm { type: 'ARM'; seq: number }
/** text: UTF-8, at most 48 bytes encoded, for logs only. */
export interface SbpFault { type: 'FAULT'; seq: number; code: number; text: string }
export interface SbpParamGet { type: 'PARAM_GET'; seq: number; id: number }
export interface SbpParamSet { type: 'PARAM_SET'; seq: number; id: number; value: number }
export interface SbpParamValue { type: 'PARAM_VALUE'; seq: number; id: number; value: number; result: number }

export type SbpMessage =
  | SbpHello | SbpHelloAck | SbpHeartbeat | SbpCommand | SbpStateMessage | SbpEstop | SbpArm | SbpFault
  | SbpParamGet | SbpParamSet | SbpParamValue;

const LIMITS_SIZE = 16;
/** mcu_time_us u64, flags u16, last_command_seq u16, joint_count u8 */
const STATE_FIXED = 13;

function argument(message: string): SbpError {
  return new SbpError(SBP_ERR_ARGUMENT, message);
}

function checkCount(field: string, n: number, max: number): void {
  if (n > max) throw argument(`${field}: ${n} entries, at most ${max}`);
}

/** Bytes of text in UTF-8, checked against the field's maximum. */
function textBytes(field: string, text: string, max: number): number {
  const n = Buffer.byteLength(text, 'utf8');
  if (n > max) throw argument(`${field}: ${n} bytes of UTF-8, at most ${max}`);
  return n;
}

/** Payload bytes msg takes. Throws SBP_ERR_ARGUMENT when a count is above its maximum or arrays disagree. */
export function payloadSize(msg: SbpMessage): number {
  switch (msg.type) {
    case 'HELLO': return 5;
    case 'HELLO_ACK':
      checkCount('limits', msg.limits.length, SBP_MAX_JOINTS);
      return 7 + LIMITS_SIZE * msg.limits.length + textBytes('firmwareId', msg.firmwareId, SBP_FIRMWARE_ID_MAX);
    case 'HEARTBEAT': case 'ESTOP': case 'ARM': return 0;
    case 'COMMAND':
      checkCount('targets', msg.targets.length, SBP_MAX_JOINTS);
      return 2 + 4 * msg.targets.length;
    case 'STATE': {
      const n = msg.positions.length;
      checkCount('positions', n, SBP_MAX_JOINTS);
      if (msg.velocities.length !== n || msg.efforts.length !== n) {
        throw argument(`STATE arrays differ in length: ${n} positions, ${msg.velocities.length} velocities, ${msg.efforts.length} efforts`);
      }
      return STATE_FIXED + 12 * n;
    }
    case 'FAULT':
      return 3 + textBytes('text', msg.text, SBP_FAULT_TEXT_MAX);
    case 'PARAM_GET': return 2;
    case 'PARAM_SET': return 6;
    case 'PARAM_VALUE': return 7;
  }
}

// One body buffer for every encode: the payload is written at its final place, then sealed into the wire buffer.
const body = new Uint8Array(SBP_MAX_BODY);
const view = new DataView(body.buffer);

const bodyBuffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);

/** Write the length byte and the UTF-8 bytes of text at `at`. */
function putText(at: number, text: string): void {
  body[at] = bodyBuffer.write(text, at + 1, 'utf8');
}

function putF32s(at: number, values: ArrayLike<number>, count: number): number {
  for (let i = 0; i < count; i++, at += 4) view.setFloat32(at, values[i], true);
  return at;
}

/** Encode msg as a complete wire frame (trailing 0x00 included) into wire from wireStart; returns its length. */
export function encodeMessage(msg: SbpMessage, wire: Uint8Array, wireStart = 0): number {
  const size = payloadSize(msg);
  const p = SBP_HEADER_SIZE;
  switch (msg.type) {
    case 'HELLO':
      body[p] = msg.protocolVersion;
      view.setUint32(p + 1, msg.schemaHash >>> 0, true);
      break;
    case 'HELLO_ACK': {
      body[p] = msg.protocolVersion;
      view.setUint32(p + 1, msg.schemaHash >>> 0, true);
      body[p + 5] = msg.limits.length;
      let at = p + 6;
      for (const l of msg.limits) {
        view.setFloat32(at, l.posMin, true);
        view.setFloat32(at + 4, l.posMax, true);
        view.setFloat32(at + 8, l.velMax, true);
        view.setFloat32(at + 12, l.effortMax, true);
        at += LIMITS_SIZE;
      }
      putText(at, msg.firmwareId);
      break;
    }
    case 'COMMAND':
      body[p] = msg.mode;
      body[p + 1] = msg.targets.length;
      putF32s(p + 2, msg.targets, msg.targets.length);
      break;
    case 'STATE': {
      const n = msg.positions.length;
      view.setBigUint64(p, BigInt.asUintN(64, msg.mcuTimeUs), true);
      view.setUint16(p + 8, msg.flags, true);
      view.setUint16(p + 10, msg.lastCommandSeq, true);
      body[p + 12] = n;
      let at = putF32s(p + STATE_FIXED, msg.positions, n);
      at = putF32s(at, msg.velocities, n);
      putF32s(at, msg.efforts, n);
      break;
    }
    case 'FAULT':
      view.setUint16(p, msg.code, true);
      putText(p + 2, msg.text);
      break;
    case 'PARAM_GET':
      view.setUint16(p, msg.id, true);
      break;
    case 'PARAM_SET':
      view.setUint16(p, msg.id, true);
      view.setFloat32(p + 2, msg.value, true);
      break;
    case 'PARAM_VALUE':
      view.setUint16(p, msg.id, true);
      view.setFloat32(p + 2, msg.value, true);
      body[p + 6] = msg.result;
      break;
    default: // HEARTBEAT, ESTOP, ARM: no payload
      break;
  }
  return sealBody(SBP_TYPE_CODES[msg.type], msg.seq, body, size, wire, wireStart);
}

/**
 * The hot-path COMMAND encoder: targets[0, count) as f32 into a frame at wire[wireStart ..). Allocates nothing.
 * The caller checked count (≤ SBP_MAX_JOINTS) and mode once, at start-up; wire holds sbpWireSizeMax(2 + 4·count).
 */
export function encodeCommand(seq: number, mode: number, targets: ArrayLike<number>, count: number, wire: Uint8Array, wireStart: number): number {
  const p = SBP_HEADER_SIZE;
  body[p] = mode;
  body[p + 1] = count;
  putF32s(p + 2, targets, count);
  return sealBody(SBP_COMMAND, seq, body, 2 + 4 * count, wire, wireStart);
}

/** A payload-less message (HEARTBEAT, ESTOP, ARM) without building an object. */
export function encodeEmpty(type: number, seq: number, wire: Uint8Array, wireStart: number): number {
  return sealBody(type, seq, body, 0, wire, wireStart);
}

/** Preallocated STATE for the hot path: arrays sized for SBP_MAX_JOINTS, jointCount entries valid. */
export class SbpState {
  /** MCU clock; a number, exact below 2^53 µs. */
  mcuTimeUs = 0;
  flags = 0;
  lastCommandSeq = 0;
  jointCount = 0;
  readonly positions = new Float64Array(SBP_MAX_JOINTS);
  readonly velocities = new Float64Array(SBP_MAX_JOINTS);
  readonly efforts = new Float64Array(SBP_MAX_JOINTS);
}

/**
 * Decode a STATE payload bytes[offset, offset + length) into out with a reused reader. Returns SBP_OK or the
 * error code (reader keeps the numbers); out may be partly written on failure. Allocates nothing.
 */
export function decodeStateInto(reader: PayloadReader, bytes: Uint8Array, offset: number, length: number, out: SbpState): number {
  const r = reader.reset(bytes, offset, length);
  out.mcuTimeUs = r.u64Number('mcu_time_us');
  out.flags = r.u16('flags');
  out.lastCommandSeq = r.u16('last_command_seq');
  const n = r.count('joint_count', SBP_MAX_JOINTS);
  out.jointCount = n;
  r.f32s('positions', n, out.positions);
  r.f32s('velocities', n, out.velocities);
  r.f32s('efforts', n, out.efforts);
  r.finish();
  return r.code;
}

const sharedReader = new PayloadReader();

function text(r: PayloadReader, bytes: Uint8Array, field: string, length: number): string {
  const at = r.take(length, field);
  return at < 0 ? '' : Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString('utf8');
}

function floats(r: PayloadReader, field: string, count: number): number[] {
  const out = new Array<number>(count).fill(0);
  return r.f32s(field, count, out) ? out : [];
}

function readPayload(r: PayloadReader, type: number, seq: number, bytes: Uint8Array): SbpMessage | null {
  switch (type) {
    case SBP_HELLO:
      return { type: 'HELLO', seq, protocolVersion: r.u8('protocol_version'), schemaHash: r.u32('schema_hash') };
    case SBP_HELLO_ACK: {
      const protocolVersion = r.u8('protocol_version');
      const schemaHash = r.u32('schema_hash');
      const n = r.count('joint_count', SBP_MAX_JOINTS);
      const limits: SbpJointLimits[] = [];
      for (let i = 0; i < n && r.ok; i++) {
        limits.push({ posMin: r.f32('limits.pos_min'), posMax: r.f32('limits.pos_max'), velMax: r.f32('limits.vel_max'), effortMax: r.f32('limits.effort_max') });
      }
      const idLength = r.count('firmware_id_len', SBP_FIRMWARE_ID_MAX);
      return { type: 'HELLO_ACK', seq, protocolVersion, schemaHash, limits, firmwareId: text(r, bytes, 'firmware_id', idLength) };
    }
    case SBP_HEARTBEAT: return { type: 'HEARTBEAT', seq };
    case SBP_ESTOP: return { type: 'ESTOP', seq };
    case SBP_ARM: return { type: 'ARM', seq };
    case SBP_COMMAND: {
      const mode = r.u8('mode');
      if (r.ok && mode >= SBP_MODE_COUNT) r.range('mode', mode, SBP_MODE_COUNT - 1);
      const n = r.count('joint_count', SBP_MAX_JOINTS);
      return { type: 'COMMAND', seq, mode, targets: floats(r, 'targets', n) };
    }
    case SBP_STATE: {
      const mcuTimeUs = r.u64('mcu_time_us');
      const flags = r.u16('flags');
      const lastCommandSeq = r.u16('last_command_seq');
      const n = r.count('joint_count', SBP_MAX_JOINTS);
      const positions = floats(r, 'positions', n);
      const velocities = floats(r, 'velocities', n);
      return { type: 'STATE', seq, mcuTimeUs, flags, lastCommandSeq, positions, velocities, efforts: floats(r, 'efforts', n) };
    }
    case SBP_FAULT: {
      const code = r.u16('code');
      const length = r.count('text_len', SBP_FAULT_TEXT_MAX);
      return { type: 'FAULT', seq, code, text: text(r, bytes, 'text', length) };
    }
    case SBP_PARAM_GET: return { type: 'PARAM_GET', seq, id: r.u16('id') };
    case SBP_PARAM_SET: return { type: 'PARAM_SET', seq, id: r.u16('id'), value: r.f32('value') };
    case SBP_PARAM_VALUE: {
      const id = r.u16('id');
      const value = r.f32('value');
      const result = r.u8('result');
      if (r.ok && result >= SBP_PARAM_RESULT_COUNT) r.range('result', result, SBP_PARAM_RESULT_COUNT - 1);
      return { type: 'PARAM_VALUE', seq, id, value, result };
    }
    default:
      r.unknownType(type);
      return null;
  }
}

/**
 * Decode the payload bytes[offset, offset + length) of a sound frame. Accepts only the exact length the type
 * implies, every count within its maximum; throws SbpError (type, length, range) with the numbers otherwise.
 */
export function decodeMessage(type: number, seq: number, bytes: Uint8Array, offset = 0, length = bytes.length - offset): SbpMessage {
  const r = sharedReader.reset(bytes, offset, length);
  const msg = readPayload(r, type, seq, bytes);
  if (!r.finish() || msg === null) {
    throw new SbpError(r.code, r.describe(`${sbpTypeName(type) ?? `type 0x${type.toString(16)}`} payload of ${length} bytes`));
  }
  return msg;
}
