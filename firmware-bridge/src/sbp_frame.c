/* sbp_frame.c — frames: sealing a body in place on the way out; COBS, CRC and version checks on the way in,
 * one byte at a time (streaming) or one whole frame at a time. */
#include <string.h>

#include "sbp_internal.h"

#define SBP_MIN_BODY (SBP_HEADER_SIZE + SBP_CRC_SIZE)

/* ---- out ------------------------------------------------------------------------------------------------ */

bool sbp_seal_in_place(uint8_t type, uint16_t seq, size_t payload_len, uint8_t *wire, size_t *wire_len) {
  size_t body_len = SBP_HEADER_SIZE + payload_len + SBP_CRC_SIZE;
  uint8_t *body = wire + (sbp_payload_offset(payload_len) - SBP_HEADER_SIZE);
  size_t encoded_len = 0;
  body[0] = (uint8_t)SBP_PROTOCOL_VERSION;
  body[1] = type;
  sbp_put_u16(body + 2, seq);
  sbp_put_u32(body + SBP_HEADER_SIZE + payload_len, sbp_crc32c(body, SBP_HEADER_SIZE + payload_len));
  /* body - wire == 1 + body_len / 254: the gap the in-place encoder needs. */
  if (!sbp_cobs_encode(body, body_len, wire, SBP_COBS_MAX_ENCODED(body_len), &encoded_len)) {
    return false;
  }
  wire[encoded_len] = 0x00;
  *wire_len = encoded_len + 1u;
  return true;
}

bool sbp_frame_pack(uint8_t type, uint16_t seq, const uint8_t *payload, size_t payload_len, uint8_t *wire,
                    size_t wire_cap, size_t *wire_len, sbp_error_t *err) {
  if (wire == NULL || wire_len == NULL || (payload == NULL && payload_len != 0)) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "NULL pointer");
  }
  if (payload_len > SBP_MAX_PAYLOAD) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "payload longer than SBP_MAX_PAYLOAD");
  }
  if (wire_cap < SBP_WIRE_SIZE_MAX(payload_len)) {
    return sbp_fail(err, SBP_ERR_BUFFER, "wire buffer smaller than SBP_WIRE_SIZE_MAX(payload)");
  }
  if (payload_len != 0) {
    memmove(wire + sbp_payload_offset(payload_len), payload, payload_len);
  }
  if (!sbp_seal_in_place(type, seq, payload_len, wire, wire_len)) {
    return sbp_fail(err, SBP_ERR_BUFFER, "wire buffer too small");
  }
  return true;
}

/* ---- in: checks shared by both decoders ------------------------------------------------------------------ */

/* A COBS-decoded body: length, CRC, version, in that order (the order PROTOCOL.md fixes). */
static bool check_body(const uint8_t *body, size_t body_len, sbp_frame_t *frame, sbp_error_t *err) {
  size_t covered;
  if (body_len < SBP_MIN_BODY) {
    return sbp_fail(err, SBP_ERR_SHORT, "frame shorter than header and CRC");
  }
  covered = body_len - SBP_CRC_SIZE;
  if (sbp_crc32c(body, covered) != sbp_get_u32(body + covered)) {
    return sbp_fail(err, SBP_ERR_CRC, "CRC-32C mismatch");
  }
  if (body[0] != SBP_PROTOCOL_VERSION) {
    return sbp_fail(err, SBP_ERR_VERSION, "unsupported protocol version");
  }
  frame->version = body[0];
  frame->type = body[1];
  frame->seq = sbp_get_u16(body + 2);
  frame->payload = body + SBP_HEADER_SIZE;
  frame->payload_len = covered - SBP_HEADER_SIZE;
  return true;
}

/* ---- in: streaming --------------------------------------------------------------------------------------- */

void sbp_decoder_init(sbp_decoder_t *dec) { memset(dec, 0, sizeof *dec); }

static void start_over(sbp_decoder_t *dec) {
  dec->body_len = 0;
  dec->encoded_len = 0;
  dec->block_left = 0;
  dec->block_code = 0;
  dec->discarding = false;
}

static void count_drop(sbp_decoder_stats_t *stats, sbp_code_t code) {
  switch (code) {
    case SBP_ERR_CRC: stats->crc_errors++; break;
    case SBP_ERR_OVERSIZE: stats->oversize++; break;
    case SBP_ERR_VERSION: stats->version_errors++; break;
    default: stats->malformed++; break;
  }
  stats->resyncs++;
}

static void overflow(sbp_decoder_t *dec) {
  dec->discarding = true;
  (void)sbp_fail(&dec->error, SBP_ERR_OVERSIZE, "frame longer than the maximum");
}

static sbp_rx_t end_of_frame(sbp_decoder_t *dec, sbp_frame_t *frame) {
  sbp_rx_t result = SBP_RX_DROPPED;
  if (dec->encoded_len == 0 && !dec->discarding) {
    return SBP_RX_PENDING; /* 0x00 0x00: empty frame, legal padding */
  }
  if (dec->discarding) {
    /* error already recorded by overflow() */
  } else if (dec->block_left != 0) {
    (void)sbp_fail(&dec->error, SBP_ERR_COBS, "COBS block runs past the end of the frame");
  } else if (check_body(dec->body, dec->body_len, frame, &dec->error)) {
    result = SBP_RX_FRAME;
  }
  if (result == SBP_RX_FRAME) {
    dec->stats.frames++;
  } else {
    count_drop(&dec->stats, dec->error.code);
  }
  start_over(dec);
  return result;
}

sbp_rx_t sbp_decoder_feed(sbp_decoder_t *dec, uint8_t byte, sbp_frame_t *frame) {
  if (byte == 0x00) {
    return end_of_frame(dec, frame);
  }
  if (dec->discarding) {
    return SBP_RX_PENDING;
  }
  if (dec->encoded_len == 0) {
    dec->error.code = SBP_OK; /* a new frame starts: forget why the previous one was dropped */
    dec->error.msg = NULL;
  }
  if (dec->encoded_len >= SBP_MAX_ENCODED) {
    overflow(dec);
    return SBP_RX_PENDING;
  }
  dec->encoded_len++;
  if (dec->block_left == 0) {
    /* A code byte. The block before it, unless it was a full 0xFF block, ended in an implied 0x00 that is real
     * only now that more data follows. */
    if (dec->block_code != 0 && dec->block_code != 0xFF) {
      if (dec->body_len >= SBP_MAX_BODY) {
        overflow(dec);
        return SBP_RX_PENDING;
      }
      dec->body[dec->body_len++] = 0x00;
    }
    dec->block_code = byte;
    dec->block_left = (uint8_t)(byte - 1u);
    return SBP_RX_PENDING;
  }
  if (dec->body_len >= SBP_MAX_BODY) {
    overflow(dec);
    return SBP_RX_PENDING;
  }
  dec->body[dec->body_len++] = byte;
  dec->block_left--;
  return SBP_RX_PENDING;
}

sbp_rx_t sbp_decoder_push(sbp_decoder_t *dec, const uint8_t *data, size_t len, size_t *consumed,
                          sbp_frame_t *frame) {
  size_t i;
  for (i = 0; i < len; i++) {
    sbp_rx_t rx = sbp_decoder_feed(dec, data[i], frame);
    if (rx != SBP_RX_PENDING) {
      *consumed = i + 1u;
      return rx;
    }
  }
  *consumed = len;
  return SBP_RX_PENDING;
}

/* ---- in: one whole frame --------------------------------------------------------------------------------- */

bool sbp_frame_unpack(const uint8_t *wire, size_t wire_len, uint8_t *body, size_t body_cap,
                      sbp_frame_t *frame, sbp_error_t *err) {
  size_t body_len = 0;
  if (wire == NULL || body == NULL || frame == NULL || body_cap < SBP_MAX_BODY) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "NULL pointer or body buffer under SBP_MAX_BODY");
  }
  if (wire_len > 0 && wire[wire_len - 1u] == 0x00) {
    wire_len--;
  }
  if (wire_len > SBP_MAX_ENCODED) {
    return sbp_fail(err, SBP_ERR_OVERSIZE, "frame longer than the maximum");
  }
  if (!sbp_cobs_decode(wire, wire_len, body, SBP_MAX_BODY, &body_len, err)) {
    return false;
  }
  return check_body(body, body_len, frame, err);
}
