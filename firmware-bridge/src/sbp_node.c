/* sbp_node.c — the MCU end of the link: frames in, safety rules, replies and STATE out (see sbp_node.h). */
#include <string.h>

#include "sbp_node.h"

/* ---- small helpers --------------------------------------------------------------------------------------- */

/* By bits, not isfinite(): on newlib isfinite() can pull in libm's __fpclassifyf. */
static bool finite_f32(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return (bits & 0x7F800000u) != 0x7F800000u;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static void no_event(void *ctx, const sbp_node_event_t *event) {
  (void)ctx;
  (void)event;
}

static uint8_t text_len(const char *text, size_t max) {
  size_t n = 0;
  if (text == NULL) {
    return 0;
  }
  while (n < max && text[n] != '\0') {
    n++;
  }
  return (uint8_t)n;
}

static sbp_node_event_t event_at(const sbp_node_t *node, sbp_event_kind_t kind, uint64_t now_us) {
  sbp_node_event_t event;
  memset(&event, 0, sizeof event);
  event.kind = (uint8_t)kind;
  event.reason = node->safety.reason;
  event.now_us = now_us;
  event.since_last_command_us = sbp_safety_since_command(&node->safety, now_us);
  return event;
}

static void emit(const sbp_node_t *node, const sbp_node_event_t *event) {
  node->config.on_event(node->config.ctx, event);
}

/* ---- sending --------------------------------------------------------------------------------------------- */

static void send_tx(sbp_node_t *node) {
  size_t len = 0;
  node->tx.seq = node->tx_seq++;
  /* Our own structs, counts bounded by construction: encoding cannot fail. */
  if (sbp_encode(&node->tx, node->wire, sizeof node->wire, &len, NULL)) {
    node->config.send(node->config.ctx, node->wire, len);
    node->stats.frames_sent++;
  }
}

static void send_fault(sbp_node_t *node, uint16_t code, const char *text) {
  sbp_fault_t *fault = &node->tx.as.fault;
  node->tx.type = SBP_FAULT;
  fault->code = code;
  fault->text_len = text_len(text, SBP_FAULT_TEXT_MAX);
  if (fault->text_len != 0) {
    memcpy(fault->text, text, fault->text_len);
  }
  send_tx(node);
}

static void send_hello_ack(sbp_node_t *node) {
  sbp_hello_ack_t *ack = &node->tx.as.hello_ack;
  node->tx.type = SBP_HELLO_ACK;
  ack->protocol_version = (uint8_t)SBP_PROTOCOL_VERSION;
  ack->schema_hash = node->config.schema_hash;
  ack->joint_count = node->config.joint_count;
  memcpy(ack->limits, node->config.limits, sizeof ack->limits);
  ack->firmware_id_len = text_len(node->config.firmware_id, SBP_FIRMWARE_ID_MAX);
  memcpy(ack->firmware_id, node->config.firmware_id, ack->firmware_id_len);
  send_tx(node);
}

/* ---- safety transitions ---------------------------------------------------------------------------------- */

static void enter_safe(sbp_node_t *node, sbp_reason_t reason, uint64_t now_us) {
  node->hold_pending = true;
  if (sbp_safety_enter_safe(&node->safety, reason)) {
    sbp_node_event_t event = event_at(node, SBP_EVENT_SAFE_STATE, now_us);
    emit(node, &event);
  }
}

/* ---- parameters ------------------------------------------------------------------------------------------ */

static bool param_read(const sbp_node_t *node, uint16_t id, float *value) {
  const sbp_safety_config_t *c = &node->safety.config;
  switch (id) {
    case SBP_PARAM_WATCHDOG_TIMEOUT_MS: *value = (float)c->watchdog_timeout_us / 1000.0f; return true;
    case SBP_PARAM_HEALTHY_COUNT: *value = (float)c->healthy_count; return true;
    case SBP_PARAM_HEALTHY_MAX_GAP_MS: *value = (float)c->healthy_max_gap_us / 1000.0f; return true;
    case SBP_PARAM_SAFE_MODE: *value = (float)c->safe_mode; return true;
    default: *value = 0.0f; return false;
  }
}

/* Comparisons are written so that NaN fails them. */
static uint8_t param_write(sbp_node_t *node, uint16_t id, float v) {
  sbp_safety_config_t *c = &node->safety.config;
  switch (id) {
    case SBP_PARAM_WATCHDOG_TIMEOUT_MS:
      if (!(v >= 1.0f && v <= 1000.0f)) return SBP_PARAM_OUT_OF_RANGE;
      c->watchdog_timeout_us = (uint32_t)(v * 1000.0f + 0.5f);
      return SBP_PARAM_OK;
    case SBP_PARAM_HEALTHY_COUNT:
      if (!(v >= 1.0f && v <= 10000.0f) || v != (float)(uint16_t)v) return SBP_PARAM_OUT_OF_RANGE;
      c->healthy_count = (uint16_t)v;
      return SBP_PARAM_OK;
    case SBP_PARAM_HEALTHY_MAX_GAP_MS:
      if (!(v >= 0.1f && v <= 1000.0f)) return SBP_PARAM_OUT_OF_RANGE;
      c->healthy_max_gap_us = (uint32_t)(v * 1000.0f + 0.5f);
      return SBP_PARAM_OK;
    case SBP_PARAM_SAFE_MODE:
      if (v != 0.0f && v != 1.0f) return SBP_PARAM_OUT_OF_RANGE;
      c->safe_mode = (uint8_t)v;
      node->hold_pending = true; /* switching to hold holds where the joints are now */
      return SBP_PARAM_OK;
    default:
      return SBP_PARAM_UNKNOWN_ID;
  }
}

static void on_param(sbp_node_t *node, bool set, uint64_t now_us) {
  uint16_t id = set ? node->rx.as.param_set.id : node->rx.as.param_get.id;
  uint8_t result = SBP_PARAM_OK;
  float value = 0.0f;
  if (set) {
    result = node->safety.armed ? (uint8_t)SBP_PARAM_REFUSED_WHILE_ARMED
                                : param_write(node, id, node->rx.as.param_set.value);
  }
  if (!param_read(node, id, &value)) {
    result = SBP_PARAM_UNKNOWN_ID;
  }
  node->tx.type = SBP_PARAM_VALUE;
  node->tx.as.param_value.id = id;
  node->tx.as.param_value.value = value;
  node->tx.as.param_value.result = result;
  send_tx(node);
  if (set) {
    sbp_node_event_t event = event_at(node, SBP_EVENT_PARAM_SET, now_us);
    event.id = id;
    event.fvalue = value;
    event.code = result;
    emit(node, &event);
  }
}

/* ---- messages from the host ------------------------------------------------------------------------------ */

static void on_hello(sbp_node_t *node, uint64_t now_us) {
  const sbp_hello_t *hello = &node->rx.as.hello;
  bool match = hello->protocol_version == SBP_PROTOCOL_VERSION && hello->schema_hash == node->config.schema_hash;
  sbp_node_event_t event = event_at(node, SBP_EVENT_HELLO, now_us);
  event.ok = match;
  event.value = hello->schema_hash;
  emit(node, &event);
  enter_safe(node, SBP_REASON_SESSION, now_us); /* no-op unless armed */
  node->handshake_ok = match;
  node->rejecting = false;
  send_hello_ack(node);
  if (!match) {
    send_fault(node, SBP_FAULT_SCHEMA_MISMATCH, "schema hash or protocol version mismatch");
  }
}

static void on_command(sbp_node_t *node, uint64_t now_us) {
  const sbp_command_t *cmd = &node->rx.as.command;
  const char *why = NULL;
  uint16_t code = SBP_FAULT_BAD_COMMAND;
  uint8_t i;
  if (!node->handshake_ok) {
    code = SBP_FAULT_NOT_READY;
    why = "COMMAND before a matching HELLO";
  } else if (cmd->joint_count != node->config.joint_count) {
    why = "COMMAND joint count differs from the robot's";
  } else {
    for (i = 0; i < cmd->joint_count && why == NULL; i++) {
      if (!finite_f32(cmd->targets[i])) {
        why = "COMMAND target is not finite";
      }
    }
  }
  if (why != NULL) {
    node->stats.commands_rejected++;
    sbp_safety_break_stream(&node->safety);
    if (!node->rejecting) { /* edge-triggered: one FAULT per run of bad commands, not 500 a second */
      sbp_node_event_t event = event_at(node, SBP_EVENT_COMMAND_REJECTED, now_us);
      event.code = code;
      emit(node, &event);
      send_fault(node, code, why);
    }
    node->rejecting = true;
    return;
  }
  node->rejecting = false;
  node->stats.commands_accepted++;
  sbp_safety_command(&node->safety, now_us);
  node->last_command_seq = node->rx.seq;
  node->command.mode = cmd->mode;
  node->command.joint_count = cmd->joint_count;
  node->limited = false;
  for (i = 0; i < cmd->joint_count; i++) {
    const sbp_joint_limits_t *lim = &node->config.limits[i];
    float v = cmd->targets[i];
    float clamped = cmd->mode == SBP_MODE_POSITION   ? clampf(v, lim->pos_min, lim->pos_max)
                    : cmd->mode == SBP_MODE_VELOCITY ? clampf(v, -lim->vel_max, lim->vel_max)
                                                     : clampf(v, -lim->effort_max, lim->effort_max);
    node->limited = node->limited || clamped != v;
    node->command.targets[i] = clamped;
  }
}

static void on_arm(sbp_node_t *node, uint64_t now_us) {
  sbp_node_event_t event;
  if (node->safety.armed) {
    return; /* idempotent */
  }
  if (node->handshake_ok && sbp_safety_arm(&node->safety, now_us)) {
    event = event_at(node, SBP_EVENT_ARMED, now_us);
    emit(node, &event);
    return;
  }
  event = event_at(node, SBP_EVENT_ARM_REFUSED, now_us);
  event.value = node->safety.streak;
  emit(node, &event);
  send_fault(node, SBP_FAULT_ARM_REFUSED,
             node->handshake_ok ? "ARM refused: command stream not healthy" : "ARM refused: no matching HELLO");
}

static void on_estop(sbp_node_t *node, uint64_t now_us) {
  sbp_node_event_t event = event_at(node, SBP_EVENT_ESTOP, now_us);
  emit(node, &event);
  enter_safe(node, SBP_REASON_ESTOP, now_us);
  send_fault(node, SBP_FAULT_ESTOP, "ESTOP latched");
}

static void on_frame(sbp_node_t *node, const sbp_frame_t *frame) {
  uint64_t now_us;
  if (!sbp_decode(frame, &node->rx, NULL)) {
    node->stats.message_errors++;
    sbp_safety_break_stream(&node->safety);
    return;
  }
  now_us = node->config.clock_us(node->config.ctx);
  switch (node->rx.type) {
    case SBP_COMMAND: on_command(node, now_us); break;
    case SBP_HELLO: on_hello(node, now_us); break;
    case SBP_ARM: on_arm(node, now_us); break;
    case SBP_ESTOP: on_estop(node, now_us); break;
    case SBP_PARAM_GET: on_param(node, false, now_us); break;
    case SBP_PARAM_SET: on_param(node, true, now_us); break;
    default: break; /* HEARTBEAT, and MCU -> host types a confused peer echoes: nothing to do */
  }
}

/* ---- public ---------------------------------------------------------------------------------------------- */

bool sbp_node_init(sbp_node_t *node, const sbp_node_config_t *config, sbp_error_t *err) {
  const sbp_safety_config_t *s;
  if (node == NULL || config == NULL || config->clock_us == NULL || config->send == NULL) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "node config needs clock_us and send");
  }
  if (config->joint_count == 0 || config->joint_count > SBP_MAX_JOINTS) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "joint_count must be 1 .. SBP_MAX_JOINTS");
  }
  s = &config->safety;
  if (s->watchdog_timeout_us == 0 || s->healthy_count == 0 || s->safe_mode > SBP_SAFE_DISABLE) {
    return sbp_fail(err, SBP_ERR_ARGUMENT, "safety config out of range");
  }
  memset(node, 0, sizeof *node);
  node->config = *config;
  /* Decided once here so the paths below call without checking. */
  if (node->config.on_event == NULL) {
    node->config.on_event = no_event;
  }
  if (node->config.firmware_id == NULL) {
    node->config.firmware_id = "";
  }
  sbp_decoder_init(&node->decoder);
  sbp_safety_init(&node->safety, &config->safety);
  node->hold_pending = true;
  node->output.kind = (uint8_t)(s->safe_mode == SBP_SAFE_DISABLE ? SBP_OUTPUT_DISABLE : SBP_OUTPUT_HOLD);
  return true;
}

void sbp_node_rx(sbp_node_t *node, const uint8_t *bytes, size_t len) {
  size_t at = 0;
  while (at < len) {
    size_t used = 0;
    sbp_frame_t frame;
    sbp_rx_t rx = sbp_decoder_push(&node->decoder, bytes + at, len - at, &used, &frame);
    at += used;
    if (rx == SBP_RX_FRAME) {
      on_frame(node, &frame);
    } else if (rx == SBP_RX_DROPPED) {
      sbp_safety_break_stream(&node->safety);
    }
  }
}

uint16_t sbp_node_flags(const sbp_node_t *node, uint64_t now_us) {
  uint16_t flags = sbp_safety_flags(&node->safety, now_us);
  if (node->handshake_ok) flags |= SBP_FLAG_HANDSHAKE_OK;
  if (node->limited) flags |= SBP_FLAG_LIMITED;
  return flags;
}

const sbp_output_t *sbp_node_tick(sbp_node_t *node, const float *positions, const float *velocities,
                                  const float *efforts) {
  uint64_t now_us = node->config.clock_us(node->config.ctx);
  uint8_t n = node->config.joint_count;
  size_t bytes = sizeof(float) * n;
  sbp_state_t *st = &node->tx.as.state;
  memcpy(node->positions, positions, bytes);

  if (sbp_safety_check(&node->safety, now_us)) {
    sbp_node_event_t event = event_at(node, SBP_EVENT_SAFE_STATE, now_us);
    node->stats.watchdog_trips++;
    node->hold_pending = true;
    emit(node, &event);
    send_fault(node, SBP_FAULT_WATCHDOG, "watchdog: no valid COMMAND in time");
  }
  if (node->hold_pending) {
    memcpy(node->hold, positions, bytes);
    node->hold_pending = false;
  }

  node->tx.type = SBP_STATE;
  st->mcu_time_us = now_us;
  st->flags = sbp_node_flags(node, now_us);
  st->last_command_seq = node->last_command_seq;
  st->joint_count = n;
  memcpy(st->positions, positions, bytes);
  memcpy(st->velocities, velocities, bytes);
  memcpy(st->efforts, efforts, bytes);
  send_tx(node);

  if (node->safety.armed) {
    node->output.kind = SBP_OUTPUT_TRACK;
    node->output.mode = node->command.mode;
    memcpy(node->output.targets, node->command.targets, bytes);
  } else if (node->safety.config.safe_mode == SBP_SAFE_DISABLE) {
    node->output.kind = SBP_OUTPUT_DISABLE;
    node->output.mode = SBP_MODE_EFFORT;
    memset(node->output.targets, 0, bytes);
  } else {
    node->output.kind = SBP_OUTPUT_HOLD;
    node->output.mode = SBP_MODE_POSITION;
    memcpy(node->output.targets, node->hold, bytes);
  }
  return &node->output;
}

void sbp_node_fault(sbp_node_t *node, uint16_t code, const char *text) {
  uint64_t now_us = node->config.clock_us(node->config.ctx);
  sbp_node_event_t event = event_at(node, SBP_EVENT_FAULT, now_us);
  event.code = code;
  emit(node, &event);
  enter_safe(node, SBP_REASON_FAULT, now_us);
  send_fault(node, code, text);
}

void sbp_node_disconnected(sbp_node_t *node) {
  sbp_decoder_stats_t kept = node->decoder.stats;
  sbp_decoder_init(&node->decoder); /* a half-received frame from the old session is worthless */
  node->decoder.stats = kept;
  node->handshake_ok = false;
  node->rejecting = false;
  sbp_safety_break_stream(&node->safety);
}
