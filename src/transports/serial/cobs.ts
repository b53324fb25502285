// Consistent Overhead Byte Stuffing over whole buffers: no 0x00 in the output, so 0x00 can end a frame.
// The streaming decoder (frame-decoder.ts) applies the same rules byte by byte.
import { cobsMaxEncoded } from './protocol.js';
import { SBP_ERR_BUFFER, SBP_ERR_COBS, SBP_ERR_OVERSIZE, SbpError } from './sbp-error.js';

/**
 * COBS-encode src[srcStart, srcEnd) into dst from dstStart (no delimiter written). Returns the bytes written.
 * Throws (SBP_ERR_BUFFER) before writing anything when dst lacks cobsMaxEncoded(length) bytes: a caller bug,
 * so hot-path callers size their buffers once and never see it.
 */
export function cobsEncode(src: Uint8Array, srcStart: number, srcEnd: number, dst: Uint8Array, dstStart: number): number {
  const length = srcEnd - srcStart;
  const need = cobsMaxEncoded(length);
  if (dst.length - dstStart < need) {
    throw new SbpError(SBP_ERR_BUFFER, `COBS output needs ${need} bytes for ${length} input bytes, buffer has ${dst.length - dstStart}`);
  }
  let codeAt = dstStart;
  let out = dstStart + 1;
  let code = 1;
  for (let i = srcStart; i < srcEnd; i++) {
    const byte = src[i];
    if (byte === 0) {
      dst[codeAt] = code;
      codeAt = out++;
      code = 1;
    } else {
      dst[out++] = byte;
      code++;
      if (code === 0xff) {
        dst[codeAt] = code;
        codeAt = out++;
        code = 1;
      }
    }
  }
  dst[codeAt] = code;
  return out - dstStart;
}

/**
 * COBS-decode src[start, end) (no delimiter) into dst from 0, at most dstCap bytes. Returns the decoded length.
 * Throws SBP_ERR_COBS on a 0x00 or a block that runs past the end, SBP_ERR_OVERSIZE when the output would pass
 * dstCap — checked in the same order as the streaming decoder, so both report the same error for the same bytes.
 */
export function cobsDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array, dstCap = dst.length): number {
  let i = start;
  let out = 0;
  let prevCode = 0;
  const cap = Math.min(dstCap, dst.length);
  while (i < end) {
    const code = src[i++];
    if (code === 0) throw new SbpError(SBP_ERR_COBS, `0x00 at offset ${i - 1 - start} inside a COBS frame`);
    if (prevCode !== 0 && prevCode !== 0xff) {
      if (out >= cap) throw new SbpError(SBP_ERR_OVERSIZE, `decoded frame passes ${cap} bytes at input offset ${i - 1 - start}`);
      dst[out++] = 0;
    }
    prevCode = code;
    for (let want = code - 1; want > 0; want--) {
      if (i >= end) {
        throw new SbpError(SBP_ERR_COBS, `COBS block with code 0x${code.toString(16).padStart(2, '0')} needs ${code - 1} data bytes, frame ends ${want} short`);
      }
      if (src[i] === 0) throw new SbpError(SBP_ERR_COBS, `0x00 at offset ${i - start} inside a COBS frame`);
      if (out >= cap) throw new SbpError(SBP_ERR_OVERSIZE, `decoded frame passes ${cap} bytes at input offset ${i - start}`);
      dst[out++] = src[i++];
    }
  }
  return out;
}
