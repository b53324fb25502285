/* sbp_message.c — payload layouts: the size, encoding and decoding of every message type (schema.txt). */
#include <string.h>

#include "sbp_internal.h"

/* The wire carries IEEE-754 binary32; a platform where float is anything else cannot speak SBP. */
typedef char sbp_float_is_32_bits[(sizeof(float) == 4) ? 1 : -1];
/* SBP_MAX_PAYLOAD is written as a number in sbp.h so a reader sees it; keep it equal to the formula. */
typedef char sbp_max_payload_matches[(SBP_MAX_PAYLOAD == 1u + 4u + 1u + 16u * SBP_MAX_JOINTS + 1u +
                                                            SBP_FIRMWARE_ID_MAX)
                                         ? 1
                                         : -1];

#define LIMITS_SIZE 16u
#define STATE_FIXED 13u /* time u64, flags u16, last_command_seq u16, joint_count u8 */

size_t sbp_payload_size(const sbp_message_t *msg, sbp_error_t *err) {
  switch (msg->type) {
    case SBP_HELLO:
      return 5u;
    case SBP_HELLO_ACK:
      if (msg->as.hello_ack.joint_count > SBP_MAX_JOINTS) break;
      if (msg->as.hello_ack.firmware_id_len > SBP_FIRMWARE_ID_MAX) break;
      return 7u + LIMITS_SIZE * msg->as.hello_ack.joint_count + msg->as.hello_ack.firmware_id_len;
    case SBP_HEARTBEAT:
    case SBP_ESTOP:
    case SBP_ARM:
      return 0u;
    case SBP_COMMAND:
      if (msg->as.command.joint_count > SBP_MAX_JOINTS) break;
      return 2u + 4u * msg->as.command.joint_count;
    case SBP_STATE:
      if (msg->as.state.joint_count > SBP_MAX_JOINTS) break;
      return STATE_FIXED + 12u * msg->as.state.joint_count;
    case SBP_FAULT:
      if (msg->as.fault.text_len > SBP_FAULT_TEXT_MAX) break;
      return 3u + msg->as.fault.text_len;
    case SBP_PARAM_GET:
      return 2u;
    case SBP_PARAM_SET:
      return 6u;
    case SBP_PARAM_VALUE:
      return 7u;
    default:
      (void)sbp_fail(err, SBP_ERR_TYPE, "unknown message type");
      return 0u;
  }
  (void)sbp_fail(err, SBP_ERR_ARGUMENT, "count above its maximum");
  return 0u;
}

/* ---- encode ---------------------------------------------------------------------------------------------- */

static uint8_t *put_floats(uint8_t *p, const float *values, uint8_t count) {
  uint8_t i;
  for (i = 0; i < count; i++, p += 4) {
    sbp_put_f32(p, values[i]);
  }
  return p;
}

static void write_payload(const sbp_message_t *msg, uint8_t *p) {
  uint8_t i;
  switch (msg->type) {
    case SBP_HELLO:
      p[0] = msg->as.hello.protocol_version;
      sbp_put_u32(p + 1, msg->as.hello.schema_hash);
      break;
    case SBP_HELLO_ACK: {
      const sbp_hello_ack_t *ack = &msg->as.hello_ack;
      p[0] = ack->protocol_version;
      sbp_put_u32(p + 1, ack->schema_hash);
      p[5] = ack->joint_count;
      p += 6;
      for (i = 0; i < ack->joint_count; i++, p += LIMITS_SIZE) {
        sbp_put_f32(p, ack->limits[i].pos_min);
        sbp_put_f32(p + 4, ack->limits[i].pos_max);
        sbp_put_f32(p + 8, ack->limits[i].vel_max);
        sbp_put_f32(p + 12, ack->limits[i].effort_max);
      }
      p[0] = ack->firmware_id_len;
      memcpy(p + 1, ack->firmware_id, ack->firmware_id_len);
      break;
    }
    case SBP_COMMAND:
      p[0] = msg->as.command.mode;
      p[1] = msg->as.command.joint_count;
      (void)put_floats(p + 2, msg->as.command.targets, msg->as.command.joint_count);
      break;
    case SBP_STATE: {
      const sbp_state_t *st = &msg->as.state;
      sbp_put_u64(p, st->mcu_time_us);
      sbp_put_u16(p + 8, st->flags);
      sbp_put_u16(p + 10, st->last_command_seq);
      p[12] = st->joint_count;
      p = put_floats(p + STATE_FIXED, st->positions, st->joint_count);
      p = put_floats(p, st->velocities, st->joint_count);
      (void)put_floats(p, st->efforts, st->joint_count);
      break;
    }
    case SBP_FAULT:
      sbp_put_u16(p, msg->as.fault.code);
      p[2] = msg->as.fault.text_len;
      memcpy(p + 3, msg->as.fault.text, msg->as.fault.text_len);
      break;
    case SBP_PARAM_GET:
      sbp_put_u16(p, msg->as.param_get.id);
      break;
    case SBP_PARAM_SET:
      sbp_put_u16(p, msg->as.param_set.id);
      sbp_put_f32(p + 2, msg->as.param_set.value);
      break;
    case SBP_PARAM_VALUE:
      sbp_put_u16(p, msg->as.param_value.id);
      sbp_put_f32(p + 2, msg->as.param_value.value);
      p[6] = msg->as.param_value.result;
      break;
    default: /* HEARTBEAT, ESTOP, ARM: no payload */
      break;
  }
}

bool sbp_encode(const sbp_message_t *msg, uint8_t *wire, size_t wire_cap, size_t *wire_len, sbp_error_t *err) {
  sbp_error_t size_err = {SBP_OK, NULL};
  size_t payload_len;
  if (msg == NULL || wire == NULL || wire_len == NULL) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "NULL pointer");
  }
  payload_len = sbp_payload_size(msg, &size_err);
  if (size_err.code != SBP_OK) {
    return sbp_fail(err, size_err.code, size_err.msg);
  }
  if (wire_cap < SBP_WIRE_SIZE_MAX(payload_len)) {
    return sbp_fail(err, SBP_ERR_BUFFER, "wire buffer smaller than SBP_WIRE_SIZE_MAX(payload)");
  }
  /* Payload straight into its final place; the body is then COBS-encoded over itself. No scratch buffer. */
  write_payload(msg, wire + sbp_payload_offset(payload_len));
  if (!sbp_seal_in_place(msg->type, msg->seq, payload_len, wire, wire_len)) {
    return sbp_fail(err, SBP_ERR_BUFFER, "wire buffer too small");
  }
  return true;
}

/* ---- decode ---------------------------------------------------------------------------------------------- */

/* A cursor over untrusted payload bytes: every take checks what is left first. */
typedef struct {
  const uint8_t *p;
  size_t left;
  sbp_error_t *err;
} reader_t;

static const uint8_t *take(reader_t *r, size_t n) {
  const uint8_t *at = r->p;
  if (n > r->left) {
    (void)sbp_fail(r->err, SBP_ERR_LENGTH, "payload shorter than its message");
    return NULL;
  }
  r->p += n;
  r->left -= n;
  return at;
}

static bool take_u8(reader_t *r, uint8_t *v) {
  const uint8_t *p = take(r, 1);
  if (p == NULL) return false;
  *v = p[0];
  return true;
}

static bool take_u16(reader_t *r, uint16_t *v) {
  const uint8_t *p = take(r, 2);
  if (p == NULL) return false;
  *v = sbp_get_u16(p);
  return true;
}

static bool take_u32(reader_t *r, uint32_t *v) {
  const uint8_t *p = take(r, 4);
  if (p == NULL) return false;
  *v = sbp_get_u32(p);
  return true;
}

static bool take_f32(reader_t *r, float *v) {
  const uint8_t *p = take(r, 4);
  if (p == NULL) return false;
  *v = sbp_get_f32(p);
  return true;
}

static bool take_floats(reader_t *r, float *values, uint8_t count) {
  const uint8_t *p = take(r, 4u * count);
  uint8_t i;
  if (p == NULL) return false;
  for (i = 0; i < count; i++) {
    values[i] = sbp_get_f32(p + 4u * i);
  }
  return true;
}

/* A count byte, checked against its maximum before anything it counts is read. */
static bool take_count(reader_t *r, uint8_t *count, uint8_t max) {
  if (!take_u8(r, count)) return false;
  if (*count > max) return sbp_fail(r->err, SBP_ERR_RANGE, "count above its maximum");
  return true;
}

static bool take_text(reader_t *r, char *text, uint8_t len) {
  const uint8_t *p = take(r, len);
  if (p == NULL) return false;
  memcpy(text, p, len);
  text[len] = '\0';
  return true;
}

static bool decode_hello_ack(reader_t *r, sbp_hello_ack_t *ack) {
  uint8_t i;
  if (!take_u8(r, &ack->protocol_version) || !take_u32(r, &ack->schema_hash) ||
      !take_count(r, &ack->joint_count, SBP_MAX_JOINTS)) {
    return false;
  }
  for (i = 0; i < ack->joint_count; i++) {
    if (!take_f32(r, &ack->limits[i].pos_min) || !take_f32(r, &ack->limits[i].pos_max) ||
        !take_f32(r, &ack->limits[i].vel_max) || !take_f32(r, &ack->limits[i].effort_max)) {
      return false;
    }
  }
  return take_count(r, &ack->firmware_id_len, SBP_FIRMWARE_ID_MAX) &&
         take_text(r, ack->firmware_id, ack->firmware_id_len);
}

static bool decode_command(reader_t *r, sbp_command_t *cmd) {
  if (!take_u8(r, &cmd->mode)) return false;
  if (cmd->mode >= SBP_MODE_COUNT) return sbp_fail(r->err, SBP_ERR_RANGE, "unknown command mode");
  return take_count(r, &cmd->joint_count, SBP_MAX_JOINTS) &&
         take_floats(r, cmd->targets, cmd->joint_count);
}

static bool decode_state(reader_t *r, sbp_state_t *st) {
  const uint8_t *t = take(r, 8);
  if (t == NULL) return false;
  st->mcu_time_us = sbp_get_u64(t);
  return take_u16(r, &st->flags) && take_u16(r, &st->last_command_seq) &&
         take_count(r, &st->joint_count, SBP_MAX_JOINTS) && take_floats(r, st->positions, st->joint_count) &&
         take_floats(r, st->velocities, st->joint_count) && take_floats(r, st->efforts, st->joint_count);
}

static bool decode_payload(reader_t *r, sbp_message_t *msg) {
  switch (msg->type) {
    case SBP_HELLO:
      return take_u8(r, &msg->as.hello.protocol_version) && take_u32(r, &msg->as.hello.schema_hash);
    case SBP_HELLO_ACK:
      return decode_hello_ack(r, &msg->as.hello_ack);
    case SBP_HEARTBEAT:
    case SBP_ESTOP:
    case SBP_ARM:
      return true;
    case SBP_COMMAND:
      return decode_command(r, &msg->as.command);
    case SBP_STATE:
      return decode_state(r, &msg->as.state);
    case SBP_FAULT:
      return take_u16(r, &msg->as.fault.code) &&
             take_count(r, &msg->as.fault.text_len, SBP_FAULT_TEXT_MAX) &&
             take_text(r, msg->as.fault.text, msg->as.fault.text_len);
    case SBP_PARAM_GET:
      return take_u16(r, &msg->as.param_get.id);
    case SBP_PARAM_SET:
      return take_u16(r, &msg->as.param_set.id) && take_f32(r, &msg->as.param_set.value);
    case SBP_PARAM_VALUE:
      if (!take_u16(r, &msg->as.param_value.id) || !take_f32(r, &msg->as.param_value.value) ||
          !take_u8(r, &msg->as.param_value.result)) {
        return false;
      }
      if (msg->as.param_value.result >= SBP_PARAM_RESULT_COUNT) {
        return sbp_fail(r->err, SBP_ERR_RANGE, "unknown parameter result");
      }
      return true;
    default:
      return sbp_fail(r->err, SBP_ERR_TYPE, "unknown message type");
  }
}

bool sbp_decode(const sbp_frame_t *frame, sbp_message_t *msg, sbp_error_t *err) {
  reader_t r;
  if (frame == NULL || msg == NULL || (frame->payload == NULL && frame->payload_len != 0)) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "NULL pointer");
  }
  r.p = frame->payload;
  r.left = frame->payload_len;
  r.err = err;
  msg->type = frame->type;
  msg->seq = frame->seq;
  if (!decode_payload(&r, msg)) {
    /* A reader failure with err == NULL still lands here: the bool, not err, carries the outcome. */
    return false;
  }
  if (r.left != 0) {
    return sbp_fail(err, SBP_ERR_LENGTH, "payload longer than its message");
  }
  return true;
}
