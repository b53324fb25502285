// SBP (Striatum bridge protocol) numbers: sizes, message types, flags, fault codes and parameters.
// Mirrors sections 2 and 4 of firmware-bridge/include/sbp.h; the numbers are fixed by firmware-bridge/schema.txt.

export const SBP_PROTOCOL_VERSION = 1;

export const SBP_MAX_JOINTS = 16;
export const SBP_FIRMWARE_ID_MAX = 32;
export const SBP_FAULT_TEXT_MAX = 48;

/** version u8, type u8, seq u16 */
export const SBP_HEADER_SIZE = 4;
/** CRC-32C u32 after the payload */
export const SBP_CRC_SIZE = 4;
export const SBP_MIN_BODY = SBP_HEADER_SIZE + SBP_CRC_SIZE;
/** HELLO_ACK with 16 joints and a full firmware id: 1 + 4 + 1 + 16·16 + 1 + 32. */
export const SBP_MAX_PAYLOAD = 295;
export const SBP_MAX_BODY = SBP_HEADER_SIZE + SBP_MAX_PAYLOAD + SBP_CRC_SIZE;

/** COBS adds one code byte, plus one per 254 bytes of input. */
export function cobsMaxEncoded(n: number): number {
  return n + 1 + Math.floor(n / 254);
}

/** Bytes between two delimiters, at most (305). */
export const SBP_MAX_ENCODED = cobsMaxEncoded(SBP_MAX_BODY);
/** A whole frame on the wire, worst case, trailing 0x00 included (306). */
export const SBP_MAX_FRAME = SBP_MAX_ENCODED + 1;

/** Wire size of a frame whose payload is n bytes, worst case (exact when the body holds no 254-byte run). */
export function sbpWireSizeMax(payloadLength: number): number {
  return cobsMaxEncoded(SBP_HEADER_SIZE + payloadLength + SBP_CRC_SIZE) + 1;
}

// ---- message types --------------------------------------------------------------------------------------

export const SBP_HELLO = 0x01;
export const SBP_HELLO_ACK = 0x02;
export const SBP_HEARTBEAT = 0x03;
export const SBP_COMMAND = 0x10;
export const SBP_STATE = 0x11;
export const SBP_ESTOP = 0x20;
export const SBP_ARM = 0x21;
export const SBP_FAULT = 0x22;
export const SBP_PARAM_GET = 0x30;
export const SBP_PARAM_SET = 0x31;
export const SBP_PARAM_VALUE = 0x32;

export const SBP_TYPE_NAMES = {
  [SBP_HELLO]: 'HELLO',
  [SBP_HELLO_ACK]: 'HELLO_ACK',
  [SBP_HEARTBEAT]: 'HEARTBEAT',
  [SBP_COMMAND]: 'COMMAND',
  [SBP_STATE]: 'STATE',
  [SBP_ESTOP]: 'ESTOP',
  [SBP_ARM]: 'ARM',
  [SBP_FAULT]: 'FAULT',
  [SBP_PARAM_GET]: 'PARAM_GET',
  [SBP_PARAM_SET]: 'PARAM_SET',
  [SBP_PARAM_VALUE]: 'PARAM_VALUE',
} as const;

export type SbpTypeName = (typeof SBP_TYPE_NAMES)[keyof typeof SBP_TYPE_NAMES];

export const SBP_TYPE_CODES: Readonly<Record<SbpTypeName, number>> = Object.freeze(
  Object.fromEntries(Object.entries(SBP_TYPE_NAMES).map(([code, name]) => [name, Number(code)])) as Record<SbpTypeName, number>,
);

/** Name of a message type, or null when the type is unknown. */
export function sbpTypeName(type: number): SbpTypeName | null {
  return (SBP_TYPE_NAMES as Record<number, SbpTypeName>)[type] ?? null;
}

// ---- enums and flags ------------------------------------------------------------------------------------

export const SBP_MODE_POSITION = 0;
export const SBP_MODE_VELOCITY = 1;
export const SBP_MODE_EFFORT = 2;
export const SBP_MODE_COUNT = 3;

/** STATE.flags bits; unlisted bits are reserved (senders write 0, receivers ignore them). */
export const SBP_FLAG_ARMED = 1 << 0;
export const SBP_FLAG_ESTOPPED = 1 << 1;
export const SBP_FLAG_WATCHDOG_SAFE = 1 << 2;
export const SBP_FLAG_FAULT = 1 << 3;
export const SBP_FLAG_SAFE_DISABLED = 1 << 4;
export const SBP_FLAG_STREAM_HEALTHY = 1 << 5;
export const SBP_FLAG_HANDSHAKE_OK = 1 << 6;
export const SBP_FLAG_LIMITED = 1 << 7;

export const SBP_FAULT_WATCHDOG = 1;
export const SBP_FAULT_ESTOP = 2;
export const SBP_FAULT_ARM_REFUSED = 3;
export const SBP_FAULT_SCHEMA_MISMATCH = 4;
export const SBP_FAULT_BAD_COMMAND = 5;
export const SBP_FAULT_NOT_READY = 6;
/** 0x8000..0xFFFF belong to the firmware (driver faults). */
export const SBP_FAULT_FIRMWARE_FIRST = 0x8000;

export const SBP_PARAM_WATCHDOG_TIMEOUT_MS = 1;
export const SBP_PARAM_HEALTHY_COUNT = 2;
export const SBP_PARAM_HEALTHY_MAX_GAP_MS = 3;
export const SBP_PARAM_SAFE_MODE = 4;

export const SBP_PARAM_OK = 0;
export const SBP_PARAM_UNKNOWN_ID = 1;
export const SBP_PARAM_OUT_OF_RANGE = 2;
export const SBP_PARAM_REFUSED_WHILE_ARMED = 3;
export const SBP_PARAM_RESULT_COUNT = 4;

export const SBP_SAFE_HOLD = 0;
export const SBP_SAFE_DISABLE = 1;

/** Name of a FAULT code for logs. */
export function sbpFaultName(code: number): string {
  switch (code) {
    case SBP_FAULT_WATCHDOG: return 'WATCHDOG';
    case SBP_FAULT_ESTOP: return 'ESTOP';
    case SBP_FAULT_ARM_REFUSED: return 'ARM_REFUSED';
    case SBP_FAULT_SCHEMA_MISMATCH: return 'SCHEMA_MISMATCH';
    case SBP_FAULT_BAD_COMMAND: return 'BAD_COMMAND';
    case SBP_FAULT_NOT_READY: return 'NOT_READY';
    default: return code >= SBP_FAULT_FIRMWARE_FIRST ? `FIRMWARE_0x${code.toString(16).toUpperCase()}` : `UNKNOWN_${code}`;
  }
}
