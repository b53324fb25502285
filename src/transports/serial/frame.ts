// SBP frames as whole buffers: sealing a body (header, payload, CRC-32C, COBS, 0x00) on the way out, and the
// checks every received body passes (length, CRC, version — in that order, as in C) on the way in.
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc32c } from './crc32c.js';
import { SBP_CRC_SIZE, SBP_HEADER_SIZE, SBP_MAX_BODY, SBP_MAX_ENCODED, SBP_MAX_PAYLOAD, SBP_MIN_BODY, SBP_PROTOCOL_VERSION, sbpWireSizeMax } from './protocol.js';
import {
  hex32, SBP_ERR_ARGUMENT, SBP_ERR_BUFFER, SBP_ERR_CRC, SBP_ERR_OVERSIZE, SBP_ERR_SHORT, SBP_ERR_VERSION, SBP_OK, SbpError,
} from './sbp-error.js';

/** Where checkBody() leaves a sound frame's header, or the numbers of why it was not sound. */
export interface BodyCheck {
  version: number;
  type: number;
  seq: number;
  payloadLength: number;
  /** SHORT: body length; CRC: computed CRC; VERSION: version byte. */
  errorA: number;
  /** CRC: the CRC the frame carries. */
  errorB: number;
}

/** Length, CRC, version of a COBS-decoded body. Returns SBP_OK or the error code; never throws, never allocates. */
export function checkBody(body: Uint8Array, bodyLength: number, out: BodyCheck): number {
  if (bodyLength < SBP_MIN_BODY) {
    out.errorA = bodyLength;
    return SBP_ERR_SHORT;
  }
  const covered = bodyLength - SBP_CRC_SIZE;
  const computed = crc32c(body, 0, covered);
  const carried = (body[covered] | (body[covered + 1] << 8) | (body[covered + 2] << 16) | (body[covered + 3] << 24)) >>> 0;
  if (computed !== carried) {
    out.errorA = computed;
    out.errorB = carried;
    return SBP_ERR_CRC;
  }
  if (body[0] !== SBP_PROTOCOL_VERSION) {
    out.errorA = body[0];
    return SBP_ERR_VERSION;
  }
  out.version = body[0];
  out.type = body[1];
  out.seq = body[2] | (body[3] << 8);
  out.payloadLength = covered - SBP_HEADER_SIZE;
  return SBP_OK;
}

/** One line with the numbers, for a code returned by checkBody() (or the streaming decoder). */
export function describeBodyError(code: number, check: BodyCheck): string {
  switch (code) {
    case SBP_ERR_SHORT: return `frame body of ${check.errorA} bytes is shorter than header and CRC (${SBP_MIN_BODY})`;
    case SBP_ERR_CRC: return `CRC-32C mismatch: body computes ${hex32(check.errorA)}, frame carries ${hex32(check.errorB)}`;
    case SBP_ERR_VERSION: return `protocol version ${check.errorA} is not ${SBP_PROTOCOL_VERSION}`;
    default: return `frame error ${code}`;
  }
}

/**
 * Seal a body whose payload the caller already wrote at body[SBP_HEADER_SIZE ..): write the header and CRC into
 * body, COBS-encode it into wire at wireStart and append the 0x00 delimiter. Returns the wire bytes written.
 * Allocates nothing; wire must hold sbpWireSizeMax(payloadLength) bytes from wireStart.
 */
export function sealBody(type: number, seq: number, body: Uint8Array, payloadLength: number, wire: Uint8Array, wireStart: number): number {
  if (payloadLength < 0 || payloadLength > SBP_MAX_PAYLOAD || body.length < SBP_HEADER_SIZE + payloadLength + SBP_CRC_SIZE) {
    throw new SbpError(SBP_ERR_ARGUMENT, `payload of ${payloadLength} bytes is over ${SBP_MAX_PAYLOAD} or does not fit the body buffer of ${body.length}`);
  }
  if (wire.length - wireStart < sbpWireSizeMax(payloadLength)) {
    throw new SbpError(SBP_ERR_BUFFER, `wire buffer has ${wire.length - wireStart} bytes, a ${payloadLength}-byte payload needs up to ${sbpWireSizeMax(payloadLength)}`);
  }
  body[0] = SBP_PROTOCOL_VERSION;
  body[1] = type & 0xff;
  body[2] = seq & 0xff;
  body[3] = (seq >>> 8) & 0xff;
  const covered = SBP_HEADER_SIZE + payloadLength;
  const crc = crc32c(body, 0, covered);
  body[covered] = crc & 0xff;
  body[covered + 1] = (crc >>> 8) & 0xff;
  body[covered + 2] = (crc >>> 16) & 0xff;
  body[covered + 3] = (crc >>> 24) & 0xff;
  const encoded = cobsEncode(body, 0, covered + SBP_CRC_SIZE, wire, wireStart);
  wire[wireStart + encoded] = 0;
  return encoded + 1;
}

const packBody = new Uint8Array(SBP_MAX_BODY);

/** Frame arbitrary payload bytes (tests, tools, new message types); encodeMessage() is the normal path. */
export function packFrame(type: number, seq: number, payload: Uint8Array, wire: Uint8Array, wireStart = 0): number {
  if (payload.length > SBP_MAX_PAYLOAD) throw new SbpError(SBP_ERR_ARGUMENT, `payload of ${payload.length} bytes is over ${SBP_MAX_PAYLOAD}`);
  packBody.set(payload, SBP_HEADER_SIZE);
  return sealBody(type, seq, packBody, payload.length, wire, wireStart);
}

/** A sound frame from unpackFrame(); payload is a copy. */
export interface SbpFrame {
  readonly version: number;
  readonly type: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/**
 * Decode exactly one frame from wire[start, end): one trailing 0x00 is allowed, any other 0x00 is an error.
 * Throws SbpError with the same code the streaming decoder reports for the same bytes.
 */
export function unpackFrame(wire: Uint8Array, start = 0, end = wire.length): SbpFrame {
  let stop = end;
  if (stop > start && wire[stop - 1] === 0) stop--;
  if (stop - start > SBP_MAX_ENCODED) {
    throw new SbpError(SBP_ERR_OVERSIZE, `frame of ${stop - start} encoded bytes is over the maximum of ${SBP_MAX_ENCODED}`);
  }
  const body = new Uint8Array(SBP_MAX_BODY);
  const bodyLength = cobsDecode(wire, start, stop, body, SBP_MAX_BODY);
  const check: BodyCheck = { version: 0, type: 0, seq: 0, payloadLength: 0, errorA: 0, errorB: 0 };
  const code = checkBody(body, bodyLength, check);
  if (code !== SBP_OK) throw new SbpError(code, describeBodyError(code, check));
  return { version: check.version, type: check.type, seq: check.seq, payload: body.slice(SBP_HEADER_SIZE, SBP_HEADER_SIZE + check.payloadLength) };
}
