/* test_decoder.c — frame decoder edge cases: empty and oversized frames, truncation, CRC, garbage, delimiters
 * inside frames, and the byte-by-byte, chunked and whole-buffer decoders agreeing on random streams. Also
 * message-level length checks and encoder refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sbp.h"

/* ---- helpers --------------------------------------------------------------------------------------------- */

static uint32_t rng_state = 12345u;
static uint32_t rng(void) { /* xorshift32: deterministic streams */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static size_t command_frame(uint16_t seq, uint8_t joints, uint8_t *wire) {
  sbp_message_t m;
  size_t len = 0;
  uint8_t i;
  memset(&m, 0, sizeof m);
  m.type = SBP_COMMAND;
  m.seq = seq;
  m.as.command.mode = SBP_MODE_POSITION;
  m.as.command.joint_count = joints;
  for (i = 0; i < joints; i++) m.as.command.targets[i] = 0.25f * (float)i - 1.0f;
  assert_true(sbp_encode(&m, wire, SBP_MAX_FRAME, &len, NULL));
  return len;
}

typedef struct {
  sbp_rx_t rx;
  sbp_code_t code;
  uint8_t type;
  uint16_t seq;
  size_t payload_len;
} outcome_t;

/* Feed everything, recording each frame or drop. */
static size_t feed_all(sbp_decoder_t *dec, const uint8_t *data, size_t len, size_t chunk, outcome_t *out,
                       size_t cap) {
  size_t at = 0, n = 0;
  while (at < len) {
    size_t used = 0, take = len - at < chunk ? len - at : chunk;
    sbp_frame_t f;
    sbp_rx_t rx;
    if (chunk == 1) {
      rx = sbp_decoder_feed(dec, data[at], &f);
      used = 1;
    } else {
      rx = sbp_decoder_push(dec, data + at, take, &used, &f);
    }
    at += used;
    if (rx != SBP_RX_PENDING && n < cap) {
      out[n].rx = rx;
      out[n].code = rx == SBP_RX_DROPPED ? dec->error.code : SBP_OK;
      out[n].type = rx == SBP_RX_FRAME ? f.type : 0;
      out[n].seq = rx == SBP_RX_FRAME ? f.seq : 0;
      out[n].payload_len = rx == SBP_RX_FRAME ? f.payload_len : 0;
      n++;
    }
  }
  return n;
}

/* ---- frames ---------------------------------------------------------------------------------------------- */

static void test_empty_frames_are_padding(void **state) {
  sbp_decoder_t dec;
  sbp_frame_t f;
  int i;
  (void)state;
  sbp_decoder_init(&dec);
  for (i = 0; i < 10; i++) assert_int_equal(sbp_decoder_feed(&dec, 0x00, &f), SBP_RX_PENDING);
  assert_int_equal(dec.stats.resyncs, 0);
  assert_int_equal(dec.stats.frames, 0);
}

static void test_oversized_frame_dropped_without_overrun(void **state) {
  struct {
    uint8_t before[64];
    sbp_decoder_t dec;
    uint8_t after[64];
  } guarded;
  uint8_t wire[SBP_MAX_FRAME];
  size_t i, len;
  outcome_t out[4];
  (void)state;
  memset(&guarded, 0xA5, sizeof guarded);
  sbp_decoder_init(&guarded.dec);
  for (i = 0; i < 5000; i++) {
    sbp_frame_t f;
    assert_int_equal(sbp_decoder_feed(&guarded.dec, (uint8_t)(i % 250u + 1u), &f), SBP_RX_PENDING);
    assert_true(guarded.dec.body_len <= SBP_MAX_BODY);
    assert_true(guarded.dec.encoded_len <= SBP_MAX_ENCODED);
  }
  for (i = 0; i < 64; i++) {
    assert_int_equal(guarded.before[i], 0xA5);
    assert_int_equal(guarded.after[i], 0xA5);
  }
  len = command_frame(3, 4, wire);
  assert_int_equal(feed_all(&guarded.dec, (const uint8_t *)"\x00", 1, 1, out, 4), 1);
  assert_int_equal(out[0].code, SBP_ERR_OVERSIZE);
  assert_int_equal(feed_all(&guarded.dec, wire, len, 1, out, 4), 1);
  assert_int_equal(out[0].rx, SBP_RX_FRAME);
  assert_int_equal(out[0].seq, 3);
  assert_int_equal(guarded.dec.stats.oversize, 1);
  assert_int_equal(guarded.dec.stats.resyncs, 1);
}

static void test_largest_frame_accepted_one_more_byte_refused(void **state) {
  uint8_t payload[SBP_MAX_PAYLOAD + 1], wire[SBP_MAX_FRAME + 8];
  size_t len = 0;
  sbp_decoder_t dec;
  outcome_t out[2];
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  memset(payload, 0x7E, sizeof payload); /* no zeros: worst-case COBS expansion */
  assert_true(sbp_frame_pack(0x55, 1, payload, SBP_MAX_PAYLOAD, wire, SBP_MAX_FRAME, &len, &err));
  assert_int_equal(len, SBP_MAX_FRAME);
  sbp_decoder_init(&dec);
  assert_int_equal(feed_all(&dec, wire, len, 1, out, 2), 1);
  assert_int_equal(out[0].rx, SBP_RX_FRAME);
  assert_int_equal(out[0].payload_len, SBP_MAX_PAYLOAD);
  assert_false(sbp_frame_pack(0x55, 1, payload, SBP_MAX_PAYLOAD + 1, wire, sizeof wire, &len, &err));
  assert_int_equal(err.code, SBP_ERR_ARGUMENT);
}

static void test_truncated_frames_dropped(void **state) {
  uint8_t wire[SBP_MAX_FRAME], cut[SBP_MAX_FRAME];
  size_t len = command_frame(9, 6, wire), keep;
  sbp_decoder_t dec;
  outcome_t out[2];
  (void)state;
  for (keep = 1; keep + 1 < len; keep++) {
    memcpy(cut, wire, keep);
    cut[keep] = 0x00;
    sbp_decoder_init(&dec);
    assert_int_equal(feed_all(&dec, cut, keep + 1, 1, out, 2), 1);
    assert_int_equal(out[0].rx, SBP_RX_DROPPED);
    assert_true(out[0].code == SBP_ERR_COBS || out[0].code == SBP_ERR_SHORT || out[0].code == SBP_ERR_CRC);
  }
}

static void test_every_single_bit_flip_is_caught(void **state) {
  uint8_t payload[40], body[SBP_MAX_BODY], wire[SBP_MAX_FRAME];
  size_t i, bit, len = 0, body_len = 0;
  sbp_decoder_t dec;
  sbp_frame_t f;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  for (i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 37u);
  assert_true(sbp_frame_pack(SBP_COMMAND, 77, payload, sizeof payload, wire, sizeof wire, &len, &err));
  assert_true(sbp_cobs_decode(wire, len - 1, body, sizeof body, &body_len, &err));
  sbp_decoder_init(&dec);
  for (i = 0; i < body_len; i++) {
    for (bit = 0; bit < 8; bit++) {
      uint8_t flipped[SBP_MAX_BODY];
      uint8_t enc[SBP_MAX_FRAME];
      size_t enc_len = 0, k;
      sbp_rx_t rx = SBP_RX_PENDING;
      memcpy(flipped, body, body_len);
      flipped[i] ^= (uint8_t)(1u << bit);
      assert_true(sbp_cobs_encode(flipped, body_len, enc, sizeof enc, &enc_len));
      for (k = 0; k < enc_len; k++) assert_int_equal(sbp_decoder_feed(&dec, enc[k], &f), SBP_RX_PENDING);
      rx = sbp_decoder_feed(&dec, 0x00, &f);
      assert_int_equal(rx, SBP_RX_DROPPED);
      /* a flip in the version byte with a now-wrong CRC is still a CRC error: CRC is checked first */
      assert_int_equal(dec.error.code, SBP_ERR_CRC);
    }
  }
  assert_int_equal(dec.stats.crc_errors, body_len * 8u);
}

static void test_garbage_between_frames(void **state) {
  uint8_t stream[400], wire[SBP_MAX_FRAME];
  size_t n = 0, len = command_frame(1, 3, wire);
  static const uint8_t garbage[] = {0x13, 0x37, 0xFF, 0x42, 0x00, 0x99, 0x98};
  sbp_decoder_t dec;
  outcome_t out[8];
  (void)state;
  memcpy(stream + n, wire, len);
  n += len;
  memcpy(stream + n, garbage, sizeof garbage); /* 5 bytes ended by 0x00, then 2 glued to the next frame */
  n += sizeof garbage;
  memcpy(stream + n, (const uint8_t *)"\x00", 1); /* sender's habit: a 0x00 before each frame */
  n += 1;
  len = command_frame(2, 3, wire);
  memcpy(stream + n, wire, len);
  n += len;
  sbp_decoder_init(&dec);
  assert_int_equal(feed_all(&dec, stream, n, 1, out, 8), 4);
  assert_int_equal(out[0].rx, SBP_RX_FRAME);
  assert_int_equal(out[1].rx, SBP_RX_DROPPED);
  assert_int_equal(out[2].rx, SBP_RX_DROPPED);
  assert_int_equal(out[3].rx, SBP_RX_FRAME);
  assert_int_equal(out[3].seq, 2);
  assert_int_equal(dec.stats.resyncs, 2);
}

static void test_delimiter_inside_frame(void **state) {
  uint8_t wire[SBP_MAX_FRAME], broken[SBP_MAX_FRAME + 1];
  size_t len = command_frame(5, 8, wire), at;
  sbp_decoder_t dec;
  outcome_t out[4];
  (void)state;
  for (at = 1; at + 1 < len; at++) {
    size_t n;
    memcpy(broken, wire, at);
    broken[at] = 0x00;
    memcpy(broken + at + 1, wire + at, len - at);
    sbp_decoder_init(&dec);
    n = feed_all(&dec, broken, len + 1, 1, out, 4);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].rx, SBP_RX_DROPPED);
    assert_int_equal(out[1].rx, SBP_RX_DROPPED);
  }
}

static void test_wrong_version_counted(void **state) {
  uint8_t wire[SBP_MAX_FRAME], body[SBP_MAX_BODY], enc[SBP_MAX_FRAME];
  size_t len = command_frame(5, 2, wire), body_len = 0, enc_len = 0;
  uint32_t crc;
  sbp_decoder_t dec;
  outcome_t out[2];
  (void)state;
  assert_true(sbp_cobs_decode(wire, len - 1, body, sizeof body, &body_len, NULL));
  body[0] = 2;
  crc = sbp_crc32c(body, body_len - 4);
  body[body_len - 4] = (uint8_t)crc;
  body[body_len - 3] = (uint8_t)(crc >> 8);
  body[body_len - 2] = (uint8_t)(crc >> 16);
  body[body_len - 1] = (uint8_t)(crc >> 24);
  assert_true(sbp_cobs_encode(body, body_len, enc, sizeof enc, &enc_len));
  enc[enc_len++] = 0;
  sbp_decoder_init(&dec);
  assert_int_equal(feed_all(&dec, enc, enc_len, 1, out, 2), 1);
  assert_int_equal(out[0].code, SBP_ERR_VERSION);
  assert_int_equal(dec.stats.version_errors, 1);
}

static void test_error_cleared_when_next_frame_starts(void **state) {
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = command_frame(5, 2, wire);
  sbp_decoder_t dec;
  outcome_t out[2];
  (void)state;
  sbp_decoder_init(&dec);
  assert_int_equal(feed_all(&dec, (const uint8_t *)"\x05\x01\x00", 3, 1, out, 2), 1);
  assert_int_equal(dec.error.code, SBP_ERR_COBS);
  assert_int_equal(feed_all(&dec, wire, len, 1, out, 2), 1);
  assert_int_equal(out[0].rx, SBP_RX_FRAME);
  assert_int_equal(dec.error.code, SBP_OK);
}

/* Random streams of good frames, corrupted bytes, stray delimiters and long noise: byte by byte, random
 * chunks and (per delimited piece) the whole-buffer decoder all report the same thing. */
static void test_byte_chunk_and_buffer_decoders_agree(void **state) {
  static uint8_t stream[20000];
#define OUTCOMES 10000
  static outcome_t by_byte[OUTCOMES], by_chunk[OUTCOMES];
  sbp_decoder_t dec;
  int round;
  (void)state;
  for (round = 0; round < 50; round++) {
    size_t n = 0, a, b, i, start;
    while (n < sizeof stream - 2 * SBP_MAX_FRAME - 600) {
      uint8_t wire[SBP_MAX_FRAME];
      size_t len = command_frame((uint16_t)rng(), (uint8_t)(rng() % 17u), wire);
      uint32_t what = rng() % 10u;
      if (what == 0) wire[rng() % len] ^= (uint8_t)(1u << (rng() % 8u)); /* bit flip, maybe a 0x00 */
      if (what == 1) len = 1 + rng() % len;                               /* truncated, no delimiter */
      memcpy(stream + n, wire, len);
      n += len;
      if (what == 2) {
        size_t noise = rng() % 600u;
        for (i = 0; i < noise; i++) stream[n++] = (uint8_t)(rng() % 7u == 0 ? 0 : rng());
      }
    }
    stream[n++] = 0x00;
    memset(by_byte, 0, sizeof by_byte); /* memcmp below compares padding too */
    memset(by_chunk, 0, sizeof by_chunk);
    sbp_decoder_init(&dec);
    a = feed_all(&dec, stream, n, 1, by_byte, OUTCOMES);
    sbp_decoder_init(&dec);
    b = feed_all(&dec, stream, n, 1 + rng() % 97u, by_chunk, OUTCOMES);
    assert_true(a < OUTCOMES);
    assert_int_equal(a, b);
    assert_memory_equal(by_byte, by_chunk, a * sizeof by_byte[0]);

    /* whole-buffer: every delimited non-empty piece */
    start = 0;
    a = 0;
    for (i = 0; i < n; i++) {
      if (stream[i] != 0x00) continue;
      if (i > start) {
        uint8_t body[SBP_MAX_BODY];
        sbp_frame_t f;
        sbp_error_t err = {SBP_OK, NULL};
        bool ok = sbp_frame_unpack(stream + start, i + 1 - start, body, sizeof body, &f, &err);
        assert_true(a < b);
        assert_int_equal(ok ? SBP_RX_FRAME : SBP_RX_DROPPED, by_byte[a].rx);
        assert_int_equal(err.code, by_byte[a].code);
        if (ok) assert_int_equal(f.seq, by_byte[a].seq);
        a++;
      }
      start = i + 1;
    }
    assert_int_equal(a, b);
  }
}

/* ---- messages -------------------------------------------------------------------------------------------- */

static void sample(uint8_t type, sbp_message_t *m) {
  memset(m, 0, sizeof *m);
  m->type = type;
  m->seq = 42;
  if (type == SBP_COMMAND) {
    m->as.command.mode = 1;
    m->as.command.joint_count = 3;
  } else if (type == SBP_STATE) {
    m->as.state.joint_count = 2;
  } else if (type == SBP_FAULT) {
    m->as.fault.text_len = 4;
    memcpy(m->as.fault.text, "oops", 4);
  } else if (type == SBP_HELLO_ACK) {
    m->as.hello_ack.joint_count = 2;
    m->as.hello_ack.firmware_id_len = 3;
    memcpy(m->as.hello_ack.firmware_id, "abc", 3);
  }
}

static void test_every_type_rejects_short_and_long_payloads(void **state) {
  static const uint8_t types[] = {SBP_HELLO,     SBP_HELLO_ACK, SBP_HEARTBEAT, SBP_COMMAND,
                                  SBP_STATE,     SBP_ESTOP,     SBP_ARM,       SBP_FAULT,
                                  SBP_PARAM_GET, SBP_PARAM_SET, SBP_PARAM_VALUE};
  size_t k;
  (void)state;
  for (k = 0; k < sizeof types; k++) {
    sbp_message_t m, back;
    uint8_t wire[SBP_MAX_FRAME], body[SBP_MAX_BODY], payload[SBP_MAX_PAYLOAD + 1];
    size_t len = 0, plen;
    sbp_frame_t f;
    sbp_error_t err = {SBP_OK, NULL};
    sample(types[k], &m);
    assert_true(sbp_encode(&m, wire, sizeof wire, &len, &err));
    assert_true(sbp_frame_unpack(wire, len, body, sizeof body, &f, &err));
    assert_true(sbp_decode(&f, &back, &err));
    plen = f.payload_len;
    assert_int_equal(plen, sbp_payload_size(&m, NULL));
    memcpy(payload, f.payload, plen);
    payload[plen] = 0x01;
    f.payload = payload;
    f.payload_len = plen + 1; /* one byte too many */
    assert_false(sbp_decode(&f, &back, &err));
    assert_int_equal(err.code, SBP_ERR_LENGTH);
    if (plen > 0) {
      err.code = SBP_OK;
      err.msg = NULL;
      f.payload_len = plen - 1; /* one byte too few */
      assert_false(sbp_decode(&f, &back, &err));
      assert_int_equal(err.code, SBP_ERR_LENGTH);
    }
  }
}

static void test_unknown_type_rejected(void **state) {
  sbp_frame_t f;
  sbp_message_t m;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  f.version = 1;
  f.type = 0x7F;
  f.seq = 0;
  f.payload = NULL;
  f.payload_len = 0;
  assert_false(sbp_decode(&f, &m, &err));
  assert_int_equal(err.code, SBP_ERR_TYPE);
}

static void test_text_is_nul_terminated(void **state) {
  sbp_message_t m, back;
  uint8_t wire[SBP_MAX_FRAME], body[SBP_MAX_BODY];
  size_t len = 0;
  sbp_frame_t f;
  (void)state;
  memset(&m, 0, sizeof m);
  m.type = SBP_FAULT;
  m.as.fault.text_len = SBP_FAULT_TEXT_MAX;
  memset(m.as.fault.text, 'x', SBP_FAULT_TEXT_MAX);
  assert_true(sbp_encode(&m, wire, sizeof wire, &len, NULL));
  assert_true(sbp_frame_unpack(wire, len, body, sizeof body, &f, NULL));
  memset(&back, 0x55, sizeof back);
  assert_true(sbp_decode(&f, &back, NULL));
  assert_int_equal(back.as.fault.text[SBP_FAULT_TEXT_MAX], '\0');
  assert_int_equal(strlen(back.as.fault.text), SBP_FAULT_TEXT_MAX);
}

static void test_encoder_refusals(void **state) {
  sbp_message_t m;
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = 0;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  sample(SBP_COMMAND, &m);
  assert_false(sbp_encode(&m, wire, SBP_WIRE_SIZE_MAX(sbp_payload_size(&m, NULL)) - 1u, &len, &err));
  assert_int_equal(err.code, SBP_ERR_BUFFER);
  assert_true(sbp_encode(&m, wire, SBP_WIRE_SIZE_MAX(sbp_payload_size(&m, NULL)), &len, NULL));

  err.code = SBP_OK;
  m.as.command.joint_count = SBP_MAX_JOINTS + 1;
  assert_false(sbp_encode(&m, wire, sizeof wire, &len, &err));
  assert_int_equal(err.code, SBP_ERR_ARGUMENT);

  err.code = SBP_OK;
  m.type = 0x7F;
  assert_false(sbp_encode(&m, wire, sizeof wire, &len, &err));
  assert_int_equal(err.code, SBP_ERR_TYPE);

  err.code = SBP_OK;
  assert_false(sbp_encode(NULL, wire, sizeof wire, &len, &err));
  assert_int_equal(err.code, SBP_ERR_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_frames_are_padding),
      cmocka_unit_test(test_oversized_frame_dropped_without_overrun),
      cmocka_unit_test(test_largest_frame_accepted_one_more_byte_refused),
      cmocka_unit_test(test_truncated_frames_dropped),
      cmocka_unit_test(test_every_single_bit_flip_is_caught),
      cmocka_unit_test(test_garbage_between_frames),
      cmocka_unit_test(test_delimiter_inside_frame),
      cmocka_unit_test(test_wrong_version_counted),
      cmocka_unit_test(test_error_cleared_when_next_frame_starts),
      cmocka_unit_test(test_byte_chunk_and_buffer_decoders_agree),
      cmocka_unit_test(test_every_type_rejects_short_and_long_payloads),
      cmocka_unit_test(test_unknown_type_rejected),
      cmocka_unit_test(test_text_is_nul_terminated),
      cmocka_unit_test(test_encoder_refusals),
  };
  return cmocka_run_group_tests_name("decoder", tests, NULL, NULL);
}
