/* test_primitives.c — CRC-32C and COBS on their own: check values, edge lengths, in-place encoding.
 * Expected bytes here are written by hand from the COBS definition, not produced by the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sbp.h"

static void test_crc32c_check_value(void **state) {
  (void)state;
  assert_int_equal(sbp_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
  assert_int_equal(sbp_crc32c(NULL, 0), 0x00000000u);
}

static void test_crc32c_known_values(void **state) {
  /* RFC 3720 (iSCSI) appendix B.4: 32 bytes of zeros, of 0xFF, and an incrementing sequence. */
  uint8_t buf[32];
  size_t i;
  (void)state;
  memset(buf, 0, sizeof buf);
  assert_int_equal(sbp_crc32c(buf, 32), 0x8A9136AAu);
  memset(buf, 0xFF, sizeof buf);
  assert_int_equal(sbp_crc32c(buf, 32), 0x62A8AB43u);
  for (i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  assert_int_equal(sbp_crc32c(buf, 32), 0x46DD794Eu);
}

static void test_crc32c_in_pieces(void **state) {
  const uint8_t *s = (const uint8_t *)"123456789";
  uint32_t crc = sbp_crc32c_update(SBP_CRC32C_INIT, s, 4);
  (void)state;
  crc = sbp_crc32c_update(crc, s + 4, 5);
  assert_int_equal(crc ^ 0xFFFFFFFFu, 0xE3069283u);
}

static void check_encode(const uint8_t *src, size_t len, const uint8_t *want, size_t want_len) {
  uint8_t out[600];
  uint8_t back[600];
  size_t out_len = 0, back_len = 0;
  sbp_error_t err = {SBP_OK, NULL};
  assert_true(sbp_cobs_encode(src, len, out, sizeof out, &out_len));
  assert_int_equal(out_len, want_len);
  assert_memory_equal(out, want, want_len);
  assert_null(memchr(out, 0, out_len));
  assert_true(sbp_cobs_decode(out, out_len, back, sizeof back, &back_len, &err));
  assert_int_equal(back_len, len);
  if (len > 0) assert_memory_equal(back, src, len);
}

static void test_cobs_small_cases(void **state) {
  /* The examples from the COBS paper and its common test list. */
  static const uint8_t z1[] = {0x00}, e_z1[] = {0x01, 0x01};
  static const uint8_t z2[] = {0x00, 0x00}, e_z2[] = {0x01, 0x01, 0x01};
  static const uint8_t a[] = {0x11, 0x22, 0x00, 0x33}, e_a[] = {0x03, 0x11, 0x22, 0x02, 0x33};
  static const uint8_t b[] = {0x11, 0x22, 0x33, 0x44}, e_b[] = {0x05, 0x11, 0x22, 0x33, 0x44};
  static const uint8_t c[] = {0x11, 0x00, 0x00, 0x00}, e_c[] = {0x02, 0x11, 0x01, 0x01, 0x01};
  static const uint8_t e_empty[] = {0x01};
  (void)state;
  check_encode(NULL, 0, e_empty, 1);
  check_encode(z1, 1, e_z1, 2);
  check_encode(z2, 2, e_z2, 3);
  check_encode(a, 4, e_a, 5);
  check_encode(b, 4, e_b, 5);
  check_encode(c, 4, e_c, 5);
}

static void test_cobs_long_runs(void **state) {
  uint8_t src[600], want[620];
  size_t i;
  (void)state;
  for (i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i % 255u + 1u); /* never 0 */

  /* 253 non-zero bytes: one block, code 0xFE */
  want[0] = 0xFE;
  memcpy(want + 1, src, 253);
  check_encode(src, 253, want, 254);

  /* 254 non-zero bytes: a full 0xFF block, then an empty closing block */
  want[0] = 0xFF;
  memcpy(want + 1, src, 254);
  want[255] = 0x01;
  check_encode(src, 254, want, 256);

  /* 255 non-zero bytes: 0xFF block, then a block of 1 */
  want[255] = 0x02;
  want[256] = src[254];
  check_encode(src, 255, want, 257);

  /* 254 non-zero then 0x00: the zero after a 0xFF block is its own block */
  src[254] = 0x00;
  want[255] = 0x01;
  want[256] = 0x01;
  check_encode(src, 255, want, 257);
  src[254] = 0xFF;

  /* 508 non-zero bytes: two full blocks and a closing one = 508 + 3 = SBP_COBS_MAX_ENCODED(508) */
  want[0] = 0xFF;
  memcpy(want + 1, src, 254);
  want[255] = 0xFF;
  memcpy(want + 256, src + 254, 254);
  want[510] = 0x01;
  check_encode(src, 508, want, 511);
  assert_int_equal(SBP_COBS_MAX_ENCODED(508u), 511u);
}

static void test_cobs_decode_accepts_unclosed_full_block(void **state) {
  /* Some encoders omit the closing 0x01 after a trailing 0xFF block; decoding must give the same bytes. */
  uint8_t enc[255], out[300];
  size_t i, len = 0;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  enc[0] = 0xFF;
  for (i = 1; i < 255; i++) enc[i] = (uint8_t)i;
  assert_true(sbp_cobs_decode(enc, 255, out, sizeof out, &len, &err));
  assert_int_equal(len, 254);
}

static void test_cobs_decode_errors(void **state) {
  static const uint8_t past_end[] = {0x05, 0x11, 0x22};
  static const uint8_t zero_inside[] = {0x03, 0x11, 0x00};
  static const uint8_t zeros_out[] = {0x01, 0x01, 0x01, 0x01};
  uint8_t out[8];
  size_t len = 0;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  assert_false(sbp_cobs_decode(past_end, sizeof past_end, out, sizeof out, &len, &err));
  assert_int_equal(err.code, SBP_ERR_COBS);
  err.code = SBP_OK;
  err.msg = NULL;
  assert_false(sbp_cobs_decode(zero_inside, sizeof zero_inside, out, sizeof out, &len, &err));
  assert_int_equal(err.code, SBP_ERR_COBS);
  err.code = SBP_OK;
  err.msg = NULL;
  assert_false(sbp_cobs_decode(zeros_out, sizeof zeros_out, out, 2, &len, &err));
  assert_int_equal(err.code, SBP_ERR_OVERSIZE);
}

static void test_cobs_encode_refuses_small_buffer(void **state) {
  uint8_t src[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, out[10];
  size_t len = 0;
  (void)state;
  assert_false(sbp_cobs_encode(src, 10, out, 10, &len));
}

static void test_cobs_encode_in_place(void **state) {
  /* The frame encoder relies on this: input placed 1 + len/254 bytes after the output start. */
  uint8_t buf[700], src[600], ref[700];
  size_t lens[] = {0, 1, 253, 254, 255, 300, 507, 508, 509, 600};
  size_t k, i;
  (void)state;
  for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    size_t len = lens[k], gap = 1u + len / 254u, out_len = 0, ref_len = 0;
    for (i = 0; i < len; i++) src[i] = (uint8_t)((i * 7u) % 13u == 0 ? 0 : i * 31u + 1u);
    if (len > 100) memset(src + 10, 0x5A, len - 20); /* a long run too */
    assert_true(sbp_cobs_encode(src, len, ref, sizeof ref, &ref_len));
    memcpy(buf + gap, src, len);
    assert_true(sbp_cobs_encode(buf + gap, len, buf, sizeof buf, &out_len));
    assert_int_equal(out_len, ref_len);
    assert_memory_equal(buf, ref, ref_len);
  }
}

static void test_error_first_wins(void **state) {
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  assert_string_equal(SBP_GET_ERROR(&err), "(none)");
  assert_false(sbp_fail(&err, SBP_ERR_CRC, "first"));
  assert_false(sbp_fail(&err, SBP_ERR_LENGTH, "second"));
  assert_int_equal(err.code, SBP_ERR_CRC);
  assert_string_equal(SBP_GET_ERROR(&err), "first");
  assert_false(sbp_fail(NULL, SBP_ERR_CRC, "no sink"));
  assert_string_equal(sbp_code_name(SBP_ERR_OVERSIZE), "oversize");
}

static void test_sizes(void **state) {
  (void)state;
  assert_int_equal(SBP_MAX_BODY, 303u);
  assert_int_equal(SBP_MAX_ENCODED, 305u);
  assert_int_equal(SBP_MAX_FRAME, 306u);
  assert_int_equal(SBP_WIRE_SIZE_MAX(0u), 10u); /* fixed overhead of a small frame */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c_check_value),
      cmocka_unit_test(test_crc32c_known_values),
      cmocka_unit_test(test_crc32c_in_pieces),
      cmocka_unit_test(test_cobs_small_cases),
      cmocka_unit_test(test_cobs_long_runs),
      cmocka_unit_test(test_cobs_decode_accepts_unclosed_full_block),
      cmocka_unit_test(test_cobs_decode_errors),
      cmocka_unit_test(test_cobs_encode_refuses_small_buffer),
      cmocka_unit_test(test_cobs_encode_in_place),
      cmocka_unit_test(test_error_first_wins),
      cmocka_unit_test(test_sizes),
  };
  return cmocka_run_group_tests_name("primitives", tests, NULL, NULL);
}
