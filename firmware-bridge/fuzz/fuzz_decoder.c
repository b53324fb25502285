/* fuzz_decoder.c — libFuzzer target over everything that reads untrusted bytes: the streaming decoder (byte by
 * byte and in chunks), the whole-frame decoder, the message decoder, and an MCU node driven by the same bytes.
 *
 * Oracles beyond "no crash, no sanitizer report":
 *   - byte-by-byte and chunked decoding report the same frames and the same counters;
 *   - every message that decodes re-encodes to the same payload bytes, and sbp_frame_unpack() accepts the
 *     re-encoded frame;
 *   - the node never reports armed without a handshake, and while armed its targets respect the joint limits.
 * A fuzzer that flips payload bytes breaks the CRC and never gets past the checksum. Two remedies: the seeds are
 * CRC-valid frames (fuzz/corpus), and when the input's first byte is odd the harness first *repairs* it: every
 * delimited piece that COBS-decodes to a body of 8+ bytes gets its CRC recomputed. Mutated payloads then reach
 * the message decoders and the node as sound frames. Even first bytes are fed raw, to fuzz the checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbp.h"
#include "sbp_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
  do {              \
    if (!(cond)) abort(); \
  } while (0)

/* ---- decoders agree, messages round-trip ------------------------------------------------------------------- */

static void roundtrip(const sbp_frame_t *frame) {
  static sbp_message_t msg, again;
  static uint8_t wire[SBP_MAX_FRAME], body[SBP_MAX_BODY];
  sbp_frame_t reframed;
  sbp_error_t err = {SBP_OK, NULL};
  size_t len = 0;
  if (!sbp_decode(frame, &msg, &err)) {
    CHECK(err.code == SBP_ERR_TYPE || err.code == SBP_ERR_LENGTH || err.code == SBP_ERR_RANGE);
    CHECK(err.msg != NULL);
    return;
  }
  CHECK(sbp_payload_size(&msg, NULL) == frame->payload_len);
  CHECK(sbp_encode(&msg, wire, sizeof wire, &len, &err));
  CHECK(len <= SBP_MAX_FRAME);
  CHECK(sbp_frame_unpack(wire, len, body, sizeof body, &reframed, &err));
  CHECK(reframed.type == frame->type && reframed.seq == frame->seq);
  CHECK(reframed.payload_len == frame->payload_len);
  CHECK(memcmp(reframed.payload, frame->payload, frame->payload_len) == 0);
  CHECK(sbp_decode(&reframed, &again, &err));
}

static void decoders(const uint8_t *data, size_t size) {
  static sbp_decoder_t by_byte, by_chunk;
  size_t i, at = 0, chunk = size > 0 ? (size_t)data[0] % 64u + 1u : 1u;
  uint32_t frames_seen = 0;
  sbp_decoder_init(&by_byte);
  sbp_decoder_init(&by_chunk);
  for (i = 0; i < size; i++) {
    sbp_frame_t frame;
    if (sbp_decoder_feed(&by_byte, data[i], &frame) == SBP_RX_FRAME) {
      CHECK(frame.payload_len <= SBP_MAX_PAYLOAD);
      roundtrip(&frame);
      frames_seen++;
    }
    CHECK(by_byte.body_len <= SBP_MAX_BODY && by_byte.encoded_len <= SBP_MAX_ENCODED);
  }
  while (at < size) {
    size_t used = 0, take = size - at < chunk ? size - at : chunk;
    sbp_frame_t frame;
    sbp_rx_t rx = sbp_decoder_push(&by_chunk, data + at, take, &used, &frame);
    CHECK(used >= 1 && used <= take);
    CHECK(rx == SBP_RX_PENDING ? used == take : true);
    at += used;
  }
  CHECK(frames_seen == by_byte.stats.frames);
  CHECK(memcmp(&by_byte.stats, &by_chunk.stats, sizeof by_byte.stats) == 0);
  CHECK(by_byte.stats.resyncs == by_byte.stats.crc_errors + by_byte.stats.malformed + by_byte.stats.oversize +
                                     by_byte.stats.version_errors);
}

/* ---- an MCU node fed the same bytes ------------------------------------------------------------------------ */

static uint64_t fuzz_now;
static uint64_t fuzz_clock(void *ctx) {
  (void)ctx;
  return fuzz_now;
}
static void fuzz_send(void *ctx, const uint8_t *wire, size_t len) {
  (void)ctx;
  CHECK(len >= 10 && len <= SBP_MAX_FRAME && wire[len - 1] == 0x00);
}

static void node(const uint8_t *data, size_t size) {
  static sbp_node_t n;
  sbp_node_config_t config;
  float positions[SBP_MAX_JOINTS], zeros[SBP_MAX_JOINTS];
  size_t at = 0;
  uint8_t j;
  memset(&config, 0, sizeof config);
  config.joint_count = 2; /* the seed corpus commands 2 joints */
  for (j = 0; j < config.joint_count; j++) {
    config.limits[j].pos_min = -1.0f;
    config.limits[j].pos_max = 1.0f;
    config.limits[j].vel_max = 2.0f;
    config.limits[j].effort_max = 3.0f;
  }
  config.firmware_id = "fuzz";
  config.schema_hash = SBP_SCHEMA_HASH;
  sbp_safety_config_default(&config.safety);
  config.clock_us = fuzz_clock;
  config.send = fuzz_send;
  fuzz_now = 1000;
  memset(positions, 0, sizeof positions);
  memset(zeros, 0, sizeof zeros);
  CHECK(sbp_node_init(&n, &config, NULL));
  while (at < size) {
    /* 24-byte slices, then a 2 ms tick: a 500 Hz host sending about one small frame per tick */
    size_t take = size - at < 24u ? size - at : 24u;
    const sbp_output_t *out;
    sbp_node_rx(&n, data + at, take);
    at += take;
    fuzz_now += 2000u;
    out = sbp_node_tick(&n, positions, zeros, zeros);
    CHECK(!n.safety.armed || n.handshake_ok);
    CHECK(out->kind <= SBP_OUTPUT_DISABLE);
    if (out->kind == SBP_OUTPUT_TRACK) {
      for (j = 0; j < config.joint_count; j++) {
        float t = out->targets[j];
        CHECK(t == t); /* not NaN */
        if (out->mode == SBP_MODE_POSITION) CHECK(t >= -1.0f && t <= 1.0f);
        if (out->mode == SBP_MODE_VELOCITY) CHECK(t >= -2.0f && t <= 2.0f);
        if (out->mode == SBP_MODE_EFFORT) CHECK(t >= -3.0f && t <= 3.0f);
      }
    }
  }
}

/* ---- CRC repair ------------------------------------------------------------------------------------------- */

static size_t repair_crcs(const uint8_t *in, size_t size, uint8_t *out, size_t cap) {
  size_t start = 0, n = 0, i;
  for (i = 0; i <= size; i++) {
    uint8_t body[SBP_MAX_BODY];
    size_t len = i - start, body_len = 0, enc_len = 0;
    if (i < size && in[i] != 0x00) continue;
    if (n + len + 8u > cap) break;
    if (len > 0 && sbp_cobs_decode(in + start, len, body, sizeof body, &body_len, NULL) && body_len >= 8u) {
      uint32_t crc = sbp_crc32c(body, body_len - 4u);
      body[body_len - 4u] = (uint8_t)crc;
      body[body_len - 3u] = (uint8_t)(crc >> 8);
      body[body_len - 2u] = (uint8_t)(crc >> 16);
      body[body_len - 1u] = (uint8_t)(crc >> 24);
      if (!sbp_cobs_encode(body, body_len, out + n, cap - n, &enc_len)) break;
      n += enc_len;
    } else {
      memcpy(out + n, in + start, len);
      n += len;
    }
    if (i < size) out[n++] = 0x00;
    start = i + 1u;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t body[SBP_MAX_BODY];
  static uint8_t repaired[1u << 17];
  sbp_frame_t frame;
  if (size > 0 && (data[0] & 1u) != 0 && size < sizeof repaired / 2u) {
    size = repair_crcs(data, size, repaired, sizeof repaired);
    data = repaired;
  }
  decoders(data, size);
  /* the whole input as one frame: must fail cleanly or yield a sound frame */
  if (sbp_frame_unpack(data, size, body, sizeof body, &frame, NULL)) {
    roundtrip(&frame);
  }
  node(data, size);
  return 0;
}
