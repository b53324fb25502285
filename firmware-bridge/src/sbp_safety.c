/* sbp_safety.c — watchdog, e-stop latch and arming rules (the rules are listed in sbp_safety.h). */
#include "sbp_safety.h"

#define LATCHES (SBP_FLAG_ESTOPPED | SBP_FLAG_WATCHDOG_SAFE | SBP_FLAG_FAULT)

void sbp_safety_config_default(sbp_safety_config_t *config) {
  config->watchdog_timeout_us = SBP_DEFAULT_WATCHDOG_TIMEOUT_US;
  config->healthy_max_gap_us = SBP_DEFAULT_HEALTHY_MAX_GAP_US;
  config->healthy_count = SBP_DEFAULT_HEALTHY_COUNT;
  config->safe_mode = SBP_SAFE_HOLD;
}

const char *sbp_reason_name(uint8_t reason) {
  switch (reason) {
    case SBP_REASON_BOOT: return "boot";
    case SBP_REASON_WATCHDOG: return "watchdog";
    case SBP_REASON_ESTOP: return "estop";
    case SBP_REASON_FAULT: return "fault";
    case SBP_REASON_SESSION: return "session";
    default: return "unknown";
  }
}

void sbp_safety_init(sbp_safety_t *safety, const sbp_safety_config_t *config) {
  safety->config = *config;
  safety->armed = false;
  safety->latched = 0;
  safety->reason = SBP_REASON_BOOT;
  safety->have_command = false;
  safety->last_command_us = 0;
  safety->streak = 0;
}

void sbp_safety_command(sbp_safety_t *safety, uint64_t now_us) {
  bool in_rhythm = safety->have_command && now_us >= safety->last_command_us &&
                   now_us - safety->last_command_us <= safety->config.healthy_max_gap_us;
  if (!in_rhythm) {
    safety->streak = 1;
  } else if (safety->streak < UINT16_MAX) {
    safety->streak++;
  }
  safety->have_command = true;
  safety->last_command_us = now_us;
}

void sbp_safety_break_stream(sbp_safety_t *safety) { safety->streak = 0; }

bool sbp_safety_enter_safe(sbp_safety_t *safety, sbp_reason_t reason) {
  bool was_armed = safety->armed;
  if (reason == SBP_REASON_ESTOP) {
    safety->latched |= SBP_FLAG_ESTOPPED;
  } else if (reason == SBP_REASON_FAULT) {
    safety->latched |= SBP_FLAG_FAULT;
  } else if (reason == SBP_REASON_WATCHDOG) {
    safety->latched |= SBP_FLAG_WATCHDOG_SAFE;
  }
  /* An e-stop while already safe still counts: it is the newest reason and it restarts the stream. */
  if (was_armed || reason == SBP_REASON_ESTOP || reason == SBP_REASON_FAULT) {
    safety->reason = (uint8_t)reason;
  }
  safety->armed = false;
  safety->streak = 0;
  return was_armed;
}

bool sbp_safety_check(sbp_safety_t *safety, uint64_t now_us) {
  if (!safety->armed) {
    return false;
  }
  /* armed implies have_command (ARM needs a stream). A clock that went backwards reads as no time passed. */
  if (now_us < safety->last_command_us || now_us - safety->last_command_us < safety->config.watchdog_timeout_us) {
    return false;
  }
  (void)sbp_safety_enter_safe(safety, SBP_REASON_WATCHDOG);
  return true;
}

bool sbp_safety_healthy(const sbp_safety_t *safety, uint64_t now_us) {
  return safety->have_command && safety->streak >= safety->config.healthy_count &&
         now_us >= safety->last_command_us &&
         now_us - safety->last_command_us <= safety->config.healthy_max_gap_us;
}

bool sbp_safety_arm(sbp_safety_t *safety, uint64_t now_us) {
  if (safety->armed) {
    return true;
  }
  if (!sbp_safety_healthy(safety, now_us)) {
    return false;
  }
  safety->armed = true;
  safety->latched = 0;
  return true;
}

uint16_t sbp_safety_flags(const sbp_safety_t *safety, uint64_t now_us) {
  uint16_t flags = (uint16_t)(safety->latched & LATCHES);
  if (safety->armed) {
    flags |= SBP_FLAG_ARMED;
  } else if (safety->config.safe_mode == SBP_SAFE_DISABLE) {
    flags |= SBP_FLAG_SAFE_DISABLED;
  }
  if (sbp_safety_healthy(safety, now_us)) {
    flags |= SBP_FLAG_STREAM_HEALTHY;
  }
  return flags;
}

uint64_t sbp_safety_since_command(const sbp_safety_t *safety, uint64_t now_us) {
  if (!safety->have_command) {
    return UINT64_MAX;
  }
  return now_us >= safety->last_command_us ? now_us - safety->last_command_us : 0u;
}
