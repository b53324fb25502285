// CRC-32C (Castagnoli): the checksum over every SBP frame body (header + payload).
// Reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF; crc32c("123456789") = 0xE3069283.

export const CRC32C_INIT = 0xffffffff;
const POLY_REFLECTED = 0x82f63b78;

/** One entry per byte value: a byte per step on the host (the firmware uses a 16-entry nibble table for flash). */
const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continue a running CRC over bytes[start, end). Start from CRC32C_INIT; finish with `^ 0xFFFFFFFF` (crc32cFinish). */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start: number, end: number): number {
  let c = crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

export function crc32cFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32C of bytes[start, end), as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_INIT, bytes, start, end));
}
