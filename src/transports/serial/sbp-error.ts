// Error codes of the SBP codec, numbered and named as in C (sbp_code_t, sbp_code_name()), and the error the
// whole-buffer functions throw. The streaming decoder and the hot-path decoders never throw: they return codes.
import { StriatumError, type ErrorCode } from '../../errors.js';

export const SBP_OK = 0;
/** More than SBP_MAX_ENCODED bytes before the delimiter, or a body over SBP_MAX_BODY. */
export const SBP_ERR_OVERSIZE = 1;
/** A COBS block runs past the end of the frame, or a 0x00 inside one. */
export const SBP_ERR_COBS = 2;
/** Body shorter than header + CRC (8 bytes). */
export const SBP_ERR_SHORT = 3;
export const SBP_ERR_CRC = 4;
/** CRC fine, version byte is not SBP_PROTOCOL_VERSION. */
export const SBP_ERR_VERSION = 5;
export const SBP_ERR_TYPE = 6;
/** Payload shorter or longer than the message's fields. */
export const SBP_ERR_LENGTH = 7;
/** A count above its maximum, or an enum value that is not defined. */
export const SBP_ERR_RANGE = 8;
export const SBP_ERR_BUFFER = 9;
export const SBP_ERR_ARGUMENT = 10;

export const SBP_CODE_NAMES = ['ok', 'oversize', 'cobs', 'short', 'crc', 'version', 'type', 'length', 'range', 'buffer', 'argument'] as const;
export type SbpCodeName = (typeof SBP_CODE_NAMES)[number];

export function sbpCodeName(code: number): SbpCodeName {
  return SBP_CODE_NAMES[code] ?? 'argument';
}

/** Frame-level codes mean the bytes were damaged; message-level codes mean a sound frame does not fit the schema. */
function catalogCode(code: number): ErrorCode {
  if (code >= SBP_ERR_OVERSIZE && code <= SBP_ERR_VERSION) return 'STRIATUM_ERR_SERIAL_CRC';
  if (code >= SBP_ERR_TYPE && code <= SBP_ERR_RANGE) return 'STRIATUM_ERR_SERIAL_SCHEMA';
  return 'STRIATUM_ERR_TRANSPORT';
}

/** Thrown by the whole-buffer codec functions. `reason` is the C code name; tests assert on it. */
export class SbpError extends StriatumError {
  readonly sbpCode: number;
  readonly reason: SbpCodeName;

  constructor(sbpCode: number, message: string) {
    super(catalogCode(sbpCode), message);
    this.name = 'SbpError';
    this.sbpCode = sbpCode;
    this.reason = sbpCodeName(sbpCode);
  }
}

export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
