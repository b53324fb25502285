// CRC-32C (Castagnoli): the checksum over every SBP frame body (header + payload).
// Reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF; crc32c("123456789") = 0xE3069283.

export const CRC32C_INIT = 0xffffffff;
const POLY_REFLECTED = 0x82f63b78;

/**
 * Eight tables of 256 (slicing-by-8): table k advances a byte's CRC by k more zero bytes, so a loop step takes
 * eight bytes (rollout chunks of ~100 KB are checked on every spool write). Table 0 is the classic byte-at-a-time
 * table (the firmware uses a 16-entry nibble table for flash).
 */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  }
  return t;
})();

/** Continue a running CRC over bytes[start, end). Start from CRC32C_INIT; finish with `^ 0xFFFFFFFF` (crc32cFinish). */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let c = crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[7 * 256 + (lo & 0xff)] ^ t[6 * 256 + ((lo >>> 8) & 0xff)] ^ t[5 * 256 + ((lo >>> 16) & 0xff)] ^ t[4 * 256 + (lo >>> 24)]
      ^ t[3 * 256 + bytes[i + 4]] ^ t[2 * 256 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

export function crc32cFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32C of bytes[start, end), as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_INIT, bytes, start, end));
}
