/* test_safety.c — the safety state machine on a fake clock: the watchdog trips at exactly the timeout, the
 * e-stop latches, and leaving either needs ARM after a fresh healthy command stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sbp_safety.h"

#define PERIOD_US 2000u /* a 500 Hz host */

static sbp_safety_t safety;
static uint64_t now_us;

static int setup(void **state) {
  sbp_safety_config_t config;
  (void)state;
  sbp_safety_config_default(&config);
  sbp_safety_init(&safety, &config);
  now_us = 1000000u;
  return 0;
}

/* n commands at the host's rate, ending at now_us */
static void stream(unsigned n) {
  unsigned i;
  for (i = 0; i < n; i++) {
    now_us += PERIOD_US;
    sbp_safety_command(&safety, now_us);
    assert_false(sbp_safety_check(&safety, now_us));
  }
}

static void arm_from_boot(void) {
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_true(sbp_safety_arm(&safety, now_us));
  assert_true(safety.armed);
}

static void test_boots_safe_and_unarmed(void **state) {
  (void)state;
  assert_false(safety.armed);
  assert_int_equal(safety.reason, SBP_REASON_BOOT);
  assert_int_equal(sbp_safety_flags(&safety, now_us), 0);
  assert_false(sbp_safety_arm(&safety, now_us));
  assert_false(sbp_safety_check(&safety, now_us + 10000000u)); /* nothing to trip while unarmed */
}

static void test_watchdog_trips_at_exactly_the_timeout(void **state) {
  uint64_t last;
  (void)state;
  arm_from_boot();
  last = now_us;
  assert_false(sbp_safety_check(&safety, last + SBP_DEFAULT_WATCHDOG_TIMEOUT_US - 1u));
  assert_true(safety.armed);
  assert_true(sbp_safety_check(&safety, last + SBP_DEFAULT_WATCHDOG_TIMEOUT_US));
  assert_false(safety.armed);
  assert_int_equal(safety.reason, SBP_REASON_WATCHDOG);
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_WATCHDOG_SAFE);
  assert_false(sbp_safety_check(&safety, last + 2u * SBP_DEFAULT_WATCHDOG_TIMEOUT_US)); /* trips once */
}

static void test_watchdog_timeout_is_configurable(void **state) {
  uint64_t last;
  (void)state;
  safety.config.watchdog_timeout_us = 5000u;
  arm_from_boot();
  last = now_us;
  assert_false(sbp_safety_check(&safety, last + 4999u));
  assert_true(sbp_safety_check(&safety, last + 5000u));
}

static void test_steady_commands_never_trip(void **state) {
  unsigned i;
  (void)state;
  arm_from_boot();
  for (i = 0; i < 10000; i++) {
    now_us += PERIOD_US;
    sbp_safety_command(&safety, now_us);
    assert_false(sbp_safety_check(&safety, now_us + PERIOD_US - 1u));
  }
  assert_true(safety.armed);
}

static void test_clock_going_backwards_does_not_trip(void **state) {
  (void)state;
  arm_from_boot();
  assert_false(sbp_safety_check(&safety, now_us - 500000u));
  assert_true(safety.armed);
}

static void test_rearm_after_watchdog_needs_fresh_healthy_stream(void **state) {
  (void)state;
  arm_from_boot();
  now_us += SBP_DEFAULT_WATCHDOG_TIMEOUT_US;
  assert_true(sbp_safety_check(&safety, now_us));
  assert_false(sbp_safety_arm(&safety, now_us)); /* the old stream does not count */
  stream(SBP_DEFAULT_HEALTHY_COUNT - 1u);
  assert_false(sbp_safety_arm(&safety, now_us));
  assert_false(sbp_safety_flags(&safety, now_us) & SBP_FLAG_STREAM_HEALTHY);
  stream(1);
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_STREAM_HEALTHY);
  assert_true(sbp_safety_arm(&safety, now_us));
  assert_int_equal(sbp_safety_flags(&safety, now_us) & SBP_FLAG_WATCHDOG_SAFE, 0);
}

static void test_estop_latches_until_arm_after_healthy_stream(void **state) {
  (void)state;
  arm_from_boot();
  assert_true(sbp_safety_enter_safe(&safety, SBP_REASON_ESTOP));
  assert_false(safety.armed);
  /* commands keep coming but do not clear the latch on their own */
  stream(3 * SBP_DEFAULT_HEALTHY_COUNT);
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_ESTOPPED);
  assert_false(safety.armed);
  assert_true(sbp_safety_arm(&safety, now_us));
  assert_int_equal(sbp_safety_flags(&safety, now_us) & SBP_FLAG_ESTOPPED, 0);
}

static void test_estop_while_safe_restarts_the_stream(void **state) {
  (void)state;
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_false(sbp_safety_enter_safe(&safety, SBP_REASON_ESTOP)); /* was not armed */
  assert_int_equal(safety.reason, SBP_REASON_ESTOP);
  assert_false(sbp_safety_arm(&safety, now_us));
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_true(sbp_safety_arm(&safety, now_us));
}

static void test_slow_stream_is_not_healthy(void **state) {
  unsigned i;
  (void)state;
  for (i = 0; i < 50; i++) {
    now_us += SBP_DEFAULT_HEALTHY_MAX_GAP_US + 1u; /* just too slow */
    sbp_safety_command(&safety, now_us);
  }
  assert_int_equal(safety.streak, 1);
  assert_false(sbp_safety_arm(&safety, now_us));
}

static void test_gap_restarts_the_count(void **state) {
  (void)state;
  stream(SBP_DEFAULT_HEALTHY_COUNT - 1u);
  now_us += SBP_DEFAULT_HEALTHY_MAX_GAP_US + 1u;
  sbp_safety_command(&safety, now_us);
  stream(SBP_DEFAULT_HEALTHY_COUNT - 2u);
  assert_false(sbp_safety_arm(&safety, now_us));
  stream(1);
  assert_true(sbp_safety_arm(&safety, now_us));
}

static void test_stale_stream_is_not_healthy(void **state) {
  (void)state;
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_false(sbp_safety_arm(&safety, now_us + SBP_DEFAULT_HEALTHY_MAX_GAP_US + 1u));
  assert_true(sbp_safety_arm(&safety, now_us + SBP_DEFAULT_HEALTHY_MAX_GAP_US));
}

static void test_break_in_stream_restarts_the_count(void **state) {
  (void)state;
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  sbp_safety_break_stream(&safety); /* a CRC error, say */
  assert_false(sbp_safety_arm(&safety, now_us));
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_true(sbp_safety_arm(&safety, now_us));
}

static void test_fault_latches_and_arm_clears(void **state) {
  (void)state;
  arm_from_boot();
  assert_true(sbp_safety_enter_safe(&safety, SBP_REASON_FAULT));
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_FAULT);
  stream(SBP_DEFAULT_HEALTHY_COUNT);
  assert_true(sbp_safety_arm(&safety, now_us));
  assert_int_equal(sbp_safety_flags(&safety, now_us) & SBP_FLAG_FAULT, 0);
}

static void test_safe_disabled_flag_follows_mode(void **state) {
  (void)state;
  assert_int_equal(sbp_safety_flags(&safety, now_us) & SBP_FLAG_SAFE_DISABLED, 0);
  safety.config.safe_mode = SBP_SAFE_DISABLE;
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_SAFE_DISABLED);
  arm_from_boot();
  assert_int_equal(sbp_safety_flags(&safety, now_us) & SBP_FLAG_SAFE_DISABLED, 0);
  assert_true(sbp_safety_flags(&safety, now_us) & SBP_FLAG_ARMED);
}

static void test_healthy_count_is_configurable(void **state) {
  (void)state;
  safety.config.healthy_count = 3;
  stream(2);
  assert_false(sbp_safety_arm(&safety, now_us));
  stream(1);
  assert_true(sbp_safety_arm(&safety, now_us));
}

static void test_since_command(void **state) {
  (void)state;
  assert_true(sbp_safety_since_command(&safety, now_us) == UINT64_MAX);
  stream(1);
  assert_true(sbp_safety_since_command(&safety, now_us + 123u) == 123u);
  assert_string_equal(sbp_reason_name(SBP_REASON_WATCHDOG), "watchdog");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_boots_safe_and_unarmed, setup),
      cmocka_unit_test_setup(test_watchdog_trips_at_exactly_the_timeout, setup),
      cmocka_unit_test_setup(test_watchdog_timeout_is_configurable, setup),
      cmocka_unit_test_setup(test_steady_commands_never_trip, setup),
      cmocka_unit_test_setup(test_clock_going_backwards_does_not_trip, setup),
      cmocka_unit_test_setup(test_rearm_after_watchdog_needs_fresh_healthy_stream, setup),
      cmocka_unit_test_setup(test_estop_latches_until_arm_after_healthy_stream, setup),
      cmocka_unit_test_setup(test_estop_while_safe_restarts_the_stream, setup),
      cmocka_unit_test_setup(test_slow_stream_is_not_healthy, setup),
      cmocka_unit_test_setup(test_gap_restarts_the_count, setup),
      cmocka_unit_test_setup(test_stale_stream_is_not_healthy, setup),
      cmocka_unit_test_setup(test_break_in_stream_restarts_the_count, setup),
      cmocka_unit_test_setup(test_fault_latches_and_arm_clears, setup),
      cmocka_unit_test_setup(test_safe_disabled_flag_follows_mode, setup),
      cmocka_unit_test_setup(test_healthy_count_is_configurable, setup),
      cmocka_unit_test_setup(test_since_command, setup),
  };
  return cmocka_run_group_tests_name("safety", tests, NULL, NULL);
}
