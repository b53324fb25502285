/* test_node.c — the MCU node end to end on a fake clock: handshake, commands, arming, watchdog FAULT and
 * STATE flags, e-stop, parameters, clamping and the hold/disable outputs. Frames go in encoded and come out
 * encoded; the test decodes what the node sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sbp_node.h"

#define JOINTS 3
#define PERIOD_US 2000u

static sbp_node_t node;
static uint64_t fake_now;
static uint16_t host_seq;

/* everything the node sent, decoded */
#define MAX_SENT 64
static sbp_message_t sent[MAX_SENT];
static int n_sent;
static sbp_decoder_t host_decoder;

/* events */
static sbp_node_event_t events[MAX_SENT];
static int n_events;

static uint64_t clock_us(void *ctx) {
  (void)ctx;
  return fake_now;
}

static void capture(void *ctx, const uint8_t *wire, size_t len) {
  size_t i;
  (void)ctx;
  for (i = 0; i < len; i++) {
    sbp_frame_t f;
    sbp_rx_t rx = sbp_decoder_feed(&host_decoder, wire[i], &f);
    assert_int_not_equal(rx, SBP_RX_DROPPED);
    if (rx == SBP_RX_FRAME) {
      assert_true(n_sent < MAX_SENT);
      assert_true(sbp_decode(&f, &sent[n_sent++], NULL));
    }
  }
}

static void on_event(void *ctx, const sbp_node_event_t *event) {
  (void)ctx;
  assert_true(n_events < MAX_SENT);
  events[n_events++] = *event;
}

static int setup(void **state) {
  sbp_node_config_t config;
  int i;
  (void)state;
  memset(&config, 0, sizeof config);
  config.joint_count = JOINTS;
  for (i = 0; i < JOINTS; i++) {
    config.limits[i].pos_min = -1.0f;
    config.limits[i].pos_max = 1.0f;
    config.limits[i].vel_max = 2.0f;
    config.limits[i].effort_max = 3.0f;
  }
  config.firmware_id = "test-node";
  config.schema_hash = SBP_SCHEMA_HASH;
  sbp_safety_config_default(&config.safety);
  config.clock_us = clock_us;
  config.send = capture;
  config.on_event = on_event;
  fake_now = 5000000u;
  host_seq = 0;
  n_sent = 0;
  n_events = 0;
  sbp_decoder_init(&host_decoder);
  assert_true(sbp_node_init(&node, &config, NULL));
  return 0;
}

/* ---- host side helpers ----------------------------------------------------------------------------------- */

static void host_send(sbp_message_t *m) {
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = 0;
  m->seq = host_seq++;
  assert_true(sbp_encode(m, wire, sizeof wire, &len, NULL));
  sbp_node_rx(&node, wire, len);
}

static void send_hello(uint32_t hash) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = SBP_HELLO;
  m.as.hello.protocol_version = SBP_PROTOCOL_VERSION;
  m.as.hello.schema_hash = hash;
  host_send(&m);
}

static void send_empty(uint8_t type) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = type;
  host_send(&m);
}

static void send_command(uint8_t mode, uint8_t joints, float target) {
  sbp_message_t m;
  uint8_t i;
  memset(&m, 0, sizeof m);
  m.type = SBP_COMMAND;
  m.as.command.mode = mode;
  m.as.command.joint_count = joints;
  for (i = 0; i < joints; i++) m.as.command.targets[i] = target;
  host_send(&m);
}

static void send_param(uint8_t type, uint16_t id, float value) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = type;
  if (type == SBP_PARAM_GET) {
    m.as.param_get.id = id;
  } else {
    m.as.param_set.id = id;
    m.as.param_set.value = value;
  }
  host_send(&m);
}

static const float measured[JOINTS] = {0.1f, 0.2f, 0.3f};
static const float zeros[JOINTS] = {0.0f, 0.0f, 0.0f};

static const sbp_output_t *tick(void) { return sbp_node_tick(&node, measured, zeros, zeros); }

/* Commands at 500 Hz with a tick after each. */
static void run_stream(unsigned n, float target) {
  unsigned i;
  for (i = 0; i < n; i++) {
    fake_now += PERIOD_US;
    send_command(SBP_MODE_POSITION, JOINTS, target);
    (void)tick();
  }
}

static const sbp_message_t *last_of(uint8_t type) {
  int i;
  for (i = n_sent - 1; i >= 0; i--) {
    if (sent[i].type == type) return &sent[i];
  }
  return NULL;
}

static int count_of(uint8_t type) {
  int i, n = 0;
  for (i = 0; i < n_sent; i++) n += sent[i].type == type;
  return n;
}

static void handshake_and_arm(void) {
  send_hello(SBP_SCHEMA_HASH);
  run_stream(SBP_DEFAULT_HEALTHY_COUNT, 0.5f);
  send_empty(SBP_ARM);
  assert_true(node.safety.armed);
}

/* ---- tests ----------------------------------------------------------------------------------------------- */

static void test_hello_gets_ack_with_limits(void **state) {
  const sbp_message_t *ack;
  (void)state;
  send_hello(SBP_SCHEMA_HASH);
  ack = last_of(SBP_HELLO_ACK);
  assert_non_null(ack);
  assert_int_equal(ack->as.hello_ack.schema_hash, SBP_SCHEMA_HASH);
  assert_int_equal(ack->as.hello_ack.joint_count, JOINTS);
  assert_true(ack->as.hello_ack.limits[2].effort_max == 3.0f);
  assert_string_equal(ack->as.hello_ack.firmware_id, "test-node");
  assert_int_equal(count_of(SBP_FAULT), 0);
  assert_true(node.handshake_ok);
  assert_int_equal(events[0].kind, SBP_EVENT_HELLO);
  assert_true(events[0].ok);
}

static void test_schema_mismatch_refuses_commands(void **state) {
  (void)state;
  send_hello(SBP_SCHEMA_HASH ^ 1u);
  assert_non_null(last_of(SBP_HELLO_ACK)); /* the host still learns our hash */
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_SCHEMA_MISMATCH);
  run_stream(SBP_DEFAULT_HEALTHY_COUNT, 0.5f);
  assert_int_equal(node.stats.commands_accepted, 0);
  send_empty(SBP_ARM);
  assert_false(node.safety.armed);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_ARM_REFUSED);
}

static void test_commands_before_hello_refused_once(void **state) {
  (void)state;
  run_stream(20, 0.5f);
  assert_int_equal(node.stats.commands_rejected, 20);
  assert_int_equal(count_of(SBP_FAULT), 1); /* edge-triggered */
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_NOT_READY);
}

static void test_arm_then_track_clamped_targets(void **state) {
  const sbp_output_t *out;
  const sbp_message_t *st;
  (void)state;
  handshake_and_arm();
  fake_now += PERIOD_US;
  send_command(SBP_MODE_POSITION, JOINTS, 5.0f); /* beyond pos_max 1.0 */
  out = tick();
  assert_int_equal(out->kind, SBP_OUTPUT_TRACK);
  assert_int_equal(out->mode, SBP_MODE_POSITION);
  assert_true(out->targets[0] == 1.0f);
  st = last_of(SBP_STATE);
  assert_true(st->as.state.flags & SBP_FLAG_ARMED);
  assert_true(st->as.state.flags & SBP_FLAG_LIMITED);
  assert_true(st->as.state.flags & SBP_FLAG_HANDSHAKE_OK);
  assert_int_equal(st->as.state.last_command_seq, host_seq - 1u);
  assert_int_equal(st->as.state.joint_count, JOINTS);
  assert_true(st->as.state.positions[1] == 0.2f);
  assert_true(st->as.state.mcu_time_us == fake_now);

  fake_now += PERIOD_US;
  send_command(SBP_MODE_EFFORT, JOINTS, -9.0f);
  out = tick();
  assert_int_equal(out->mode, SBP_MODE_EFFORT);
  assert_true(out->targets[2] == -3.0f);
}

static void test_watchdog_trip_sends_fault_and_holds(void **state) {
  const sbp_output_t *out;
  const sbp_message_t *st;
  uint64_t last_command;
  (void)state;
  handshake_and_arm();
  last_command = fake_now;
  fake_now = last_command + SBP_DEFAULT_WATCHDOG_TIMEOUT_US - 1u;
  out = tick();
  assert_int_equal(out->kind, SBP_OUTPUT_TRACK);
  assert_int_equal(count_of(SBP_FAULT), 0);
  fake_now = last_command + SBP_DEFAULT_WATCHDOG_TIMEOUT_US;
  out = tick();
  assert_int_equal(out->kind, SBP_OUTPUT_HOLD);
  assert_true(out->targets[0] == 0.1f && out->targets[2] == 0.3f); /* where the joints were */
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_WATCHDOG);
  st = last_of(SBP_STATE);
  assert_true(st->as.state.flags & SBP_FLAG_WATCHDOG_SAFE);
  assert_false(st->as.state.flags & SBP_FLAG_ARMED);
  assert_int_equal(events[n_events - 1].kind, SBP_EVENT_SAFE_STATE);
  assert_int_equal(events[n_events - 1].reason, SBP_REASON_WATCHDOG);
  assert_true(events[n_events - 1].since_last_command_us == SBP_DEFAULT_WATCHDOG_TIMEOUT_US);
  assert_int_equal(node.stats.watchdog_trips, 1);
}

static void test_estop_latches_and_rearm_needs_stream(void **state) {
  (void)state;
  handshake_and_arm();
  send_empty(SBP_ESTOP);
  assert_false(node.safety.armed);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_ESTOP);
  send_empty(SBP_ARM);
  assert_false(node.safety.armed);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_ARM_REFUSED);
  run_stream(SBP_DEFAULT_HEALTHY_COUNT, 0.0f);
  assert_true(last_of(SBP_STATE)->as.state.flags & SBP_FLAG_ESTOPPED);
  assert_true(last_of(SBP_STATE)->as.state.flags & SBP_FLAG_STREAM_HEALTHY);
  send_empty(SBP_ARM);
  assert_true(node.safety.armed);
  (void)tick();
  assert_false(last_of(SBP_STATE)->as.state.flags & SBP_FLAG_ESTOPPED);
}

static void test_bad_commands_rejected(void **state) {
  (void)state;
  send_hello(SBP_SCHEMA_HASH);
  send_command(SBP_MODE_POSITION, JOINTS - 1u, 0.0f);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_BAD_COMMAND);
  send_command(SBP_MODE_POSITION, JOINTS, 0.0f); /* good one resets the edge */
  {
    uint32_t nan_bits = 0x7FC00000u;
    float nan_value;
    memcpy(&nan_value, &nan_bits, sizeof nan_value);
    send_command(SBP_MODE_VELOCITY, JOINTS, nan_value);
  }
  assert_int_equal(count_of(SBP_FAULT), 2);
  assert_int_equal(node.stats.commands_rejected, 2);
  assert_int_equal(node.stats.commands_accepted, 1);
}

static void test_hello_while_armed_disarms(void **state) {
  (void)state;
  handshake_and_arm();
  send_hello(SBP_SCHEMA_HASH);
  assert_false(node.safety.armed);
  assert_int_equal(node.safety.reason, SBP_REASON_SESSION);
}

static void test_corrupt_frame_breaks_stream(void **state) {
  static const uint8_t garbage[] = {0x05, 0x11, 0x00};
  (void)state;
  send_hello(SBP_SCHEMA_HASH);
  run_stream(SBP_DEFAULT_HEALTHY_COUNT, 0.0f);
  sbp_node_rx(&node, garbage, sizeof garbage);
  send_empty(SBP_ARM);
  assert_false(node.safety.armed);
  assert_int_equal(node.decoder.stats.resyncs, 1);
}

static void test_params_get_set_and_refuse_while_armed(void **state) {
  const sbp_message_t *v;
  (void)state;
  send_param(SBP_PARAM_GET, SBP_PARAM_WATCHDOG_TIMEOUT_MS, 0.0f);
  v = last_of(SBP_PARAM_VALUE);
  assert_true(v->as.param_value.value == 20.0f);
  assert_int_equal(v->as.param_value.result, SBP_PARAM_OK);

  send_param(SBP_PARAM_SET, SBP_PARAM_WATCHDOG_TIMEOUT_MS, 50.0f);
  assert_int_equal(node.safety.config.watchdog_timeout_us, 50000u);
  send_param(SBP_PARAM_SET, SBP_PARAM_WATCHDOG_TIMEOUT_MS, 0.0f);
  v = last_of(SBP_PARAM_VALUE);
  assert_int_equal(v->as.param_value.result, SBP_PARAM_OUT_OF_RANGE);
  assert_true(v->as.param_value.value == 50.0f);
  send_param(SBP_PARAM_SET, SBP_PARAM_HEALTHY_COUNT, 2.5f);
  assert_int_equal(last_of(SBP_PARAM_VALUE)->as.param_value.result, SBP_PARAM_OUT_OF_RANGE);
  send_param(SBP_PARAM_SET, 999, 1.0f);
  assert_int_equal(last_of(SBP_PARAM_VALUE)->as.param_value.result, SBP_PARAM_UNKNOWN_ID);
  send_param(SBP_PARAM_SET, SBP_PARAM_HEALTHY_COUNT, 4.0f);
  assert_int_equal(node.safety.config.healthy_count, 4);

  send_hello(SBP_SCHEMA_HASH);
  run_stream(4, 0.0f);
  send_empty(SBP_ARM);
  assert_true(node.safety.armed);
  send_param(SBP_PARAM_SET, SBP_PARAM_WATCHDOG_TIMEOUT_MS, 10.0f);
  v = last_of(SBP_PARAM_VALUE);
  assert_int_equal(v->as.param_value.result, SBP_PARAM_REFUSED_WHILE_ARMED);
  assert_int_equal(node.safety.config.watchdog_timeout_us, 50000u);
}

static void test_safe_mode_disable(void **state) {
  const sbp_output_t *out;
  (void)state;
  send_param(SBP_PARAM_SET, SBP_PARAM_SAFE_MODE, 1.0f);
  out = tick();
  assert_int_equal(out->kind, SBP_OUTPUT_DISABLE);
  assert_true(last_of(SBP_STATE)->as.state.flags & SBP_FLAG_SAFE_DISABLED);
}

static void test_boot_holds_first_measured_position(void **state) {
  const sbp_output_t *out;
  (void)state;
  out = tick();
  assert_int_equal(out->kind, SBP_OUTPUT_HOLD);
  assert_true(out->targets[1] == 0.2f);
  assert_int_equal(count_of(SBP_STATE), 1);
}

static void test_firmware_fault_latches(void **state) {
  (void)state;
  handshake_and_arm();
  sbp_node_fault(&node, 0x8001u, "driver overtemp");
  assert_false(node.safety.armed);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, 0x8001u);
  assert_string_equal(last_of(SBP_FAULT)->as.fault.text, "driver overtemp");
  (void)tick();
  assert_true(last_of(SBP_STATE)->as.state.flags & SBP_FLAG_FAULT);
}

static void test_disconnect_forgets_handshake(void **state) {
  (void)state;
  send_hello(SBP_SCHEMA_HASH);
  sbp_node_disconnected(&node);
  assert_false(node.handshake_ok);
  send_command(SBP_MODE_POSITION, JOINTS, 0.0f);
  assert_int_equal(last_of(SBP_FAULT)->as.fault.code, SBP_FAULT_NOT_READY);
}

static void test_init_rejects_bad_config(void **state) {
  sbp_node_config_t config = node.config;
  sbp_error_t err = {SBP_OK, NULL};
  (void)state;
  config.joint_count = SBP_MAX_JOINTS + 1;
  assert_false(sbp_node_init(&node, &config, &err));
  assert_int_equal(err.code, SBP_ERR_ARGUMENT);
  config.joint_count = 1;
  config.send = NULL;
  assert_false(sbp_node_init(&node, &config, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_hello_gets_ack_with_limits, setup),
      cmocka_unit_test_setup(test_schema_mismatch_refuses_commands, setup),
      cmocka_unit_test_setup(test_commands_before_hello_refused_once, setup),
      cmocka_unit_test_setup(test_arm_then_track_clamped_targets, setup),
      cmocka_unit_test_setup(test_watchdog_trip_sends_fault_and_holds, setup),
      cmocka_unit_test_setup(test_estop_latches_and_rearm_needs_stream, setup),
      cmocka_unit_test_setup(test_bad_commands_rejected, setup),
      cmocka_unit_test_setup(test_hello_while_armed_disarms, setup),
      cmocka_unit_test_setup(test_corrupt_frame_breaks_stream, setup),
      cmocka_unit_test_setup(test_params_get_set_and_refuse_while_armed, setup),
      cmocka_unit_test_setup(test_safe_mode_disable, setup),
      cmocka_unit_test_setup(test_boot_holds_first_measured_position, setup),
      cmocka_unit_test_setup(test_firmware_fault_latches, setup),
      cmocka_unit_test_setup(test_disconnect_forgets_handshake, setup),
      cmocka_unit_test_setup(test_init_rejects_bad_config, setup),
  };
  return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
