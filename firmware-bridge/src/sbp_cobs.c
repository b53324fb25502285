/* sbp_cobs.c — Consistent Overhead Byte Stuffing over whole buffers (the streaming decoder is in sbp_frame.c
 * and follows the same rules byte by byte). */
#include "sbp.h"

bool sbp_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap, size_t *dst_len) {
  size_t code_at = 0; /* where the current block's code byte goes */
  size_t out = 1;
  uint8_t code = 1;
  size_t i;
  if (dst_cap < SBP_COBS_MAX_ENCODED(len)) {
    return false;
  }
  /* out <= 1 + i + i / 254 <= (src - dst) + i whenever src - dst >= 1 + len / 254, so each write lands on a
   * byte of src already read: in-place encoding is safe (see sbp_encode). */
  for (i = 0; i < len; i++) {
    uint8_t byte = src[i];
    if (byte == 0) {
      dst[code_at] = code;
      code_at = out++;
      code = 1;
    } else {
      dst[out++] = byte;
      code++;
      if (code == 0xFF) {
        dst[code_at] = code;
        code_at = out++;
        code = 1;
      }
    }
  }
  dst[code_at] = code;
  *dst_len = out;
  return true;
}

bool sbp_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap, size_t *dst_len,
                     sbp_error_t *err) {
  size_t in = 0;
  size_t out = 0;
  uint8_t prev_code = 0;
  /* Same order as the streaming decoder: bytes are taken one by one, so a body that outgrows dst is reported
   * as oversize at the byte where it happens, and a block cut short only once the input is exhausted. */
  while (in < len) {
    uint8_t code = src[in++];
    size_t want;
    if (code == 0) {
      return sbp_fail(err, SBP_ERR_COBS, "0x00 inside a COBS frame");
    }
    if (prev_code != 0 && prev_code != 0xFF) {
      if (out >= dst_cap) {
        return sbp_fail(err, SBP_ERR_OVERSIZE, "decoded frame longer than the maximum");
      }
      dst[out++] = 0;
    }
    prev_code = code;
    for (want = (size_t)code - 1u; want > 0; want--) {
      if (in >= len) {
        return sbp_fail(err, SBP_ERR_COBS, "COBS block runs past the end of the frame");
      }
      if (src[in] == 0) {
        return sbp_fail(err, SBP_ERR_COBS, "0x00 inside a COBS frame");
      }
      if (out >= dst_cap) {
        return sbp_fail(err, SBP_ERR_OVERSIZE, "decoded frame longer than the maximum");
      }
      dst[out++] = src[in++];
    }
  }
  *dst_len = out;
  return true;
}
