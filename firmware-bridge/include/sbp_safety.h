/* sbp_safety.h — the MCU's safety state machine: command watchdog, e-stop latch and arming.
 *
 * Pure logic: no I/O, no clock of its own. Every call takes the time in microseconds from the caller's
 * monotonic clock, so tests drive it with a fake clock. sbp_node.h wires it to the protocol; firmware that
 * does its own message handling can use it alone.
 *
 * Rules:
 *   - The robot starts SAFE (not armed). Safe means hold or disable, per config.safe_mode.
 *   - ARMED -> SAFE when no valid COMMAND has arrived for watchdog_timeout_us: the watchdog trips on the first
 *     check at which (now - last command) >= timeout, never before. Latches SBP_FLAG_WATCHDOG_SAFE.
 *   - ESTOP -> SAFE from any state, latched (SBP_FLAG_ESTOPPED). A firmware fault likewise (SBP_FLAG_FAULT).
 *   - Entering SAFE, or receiving ESTOP, or any break in the stream (dropped frame, rejected command) resets
 *     the healthy-stream count to zero.
 *   - A valid COMMAND counts toward the healthy stream when it follows the previous one by at most
 *     healthy_max_gap_us; a longer gap restarts the count at 1.
 *   - ARM is accepted only when at least healthy_count such commands arrived in a row since the last reset and
 *     the newest is no older than healthy_max_gap_us. Accepting clears every latch. So leaving a watchdog trip
 *     or an e-stop always takes ARM *after* a fresh healthy stream.
 *   - While SAFE, valid commands are counted but never applied.
 */
#ifndef SBP_SAFETY_H
#define SBP_SAFETY_H

#include "sbp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration --------------------------------------------------------------------------------------- */

#define SBP_DEFAULT_WATCHDOG_TIMEOUT_US 20000u
#define SBP_DEFAULT_HEALTHY_COUNT 10u
#define SBP_DEFAULT_HEALTHY_MAX_GAP_US 10000u

typedef struct {
  uint32_t watchdog_timeout_us; /* SBP_PARAM_WATCHDOG_TIMEOUT_MS */
  uint32_t healthy_max_gap_us;  /* SBP_PARAM_HEALTHY_MAX_GAP_MS */
  uint16_t healthy_count;       /* SBP_PARAM_HEALTHY_COUNT */
  uint8_t safe_mode;            /* SBP_SAFE_HOLD or SBP_SAFE_DISABLE */
} sbp_safety_config_t;

void sbp_safety_config_default(sbp_safety_config_t *config);

/* ---- state ----------------------------------------------------------------------------------------------- */

/* Why the machine last entered the safe state. */
typedef enum {
  SBP_REASON_BOOT = 0,
  SBP_REASON_WATCHDOG,
  SBP_REASON_ESTOP,
  SBP_REASON_FAULT,
  SBP_REASON_SESSION /* a new HELLO while armed: a new host session starts disarmed */
} sbp_reason_t;

const char *sbp_reason_name(uint8_t reason); /* "boot", "watchdog", ... */

typedef struct {
  sbp_safety_config_t config; /* may be changed between calls while not armed */
  bool armed;
  uint16_t latched;           /* SBP_FLAG_ESTOPPED | SBP_FLAG_WATCHDOG_SAFE | SBP_FLAG_FAULT */
  uint8_t reason;             /* sbp_reason_t of the last entry into the safe state */
  bool have_command;
  uint64_t last_command_us;
  uint16_t streak;            /* healthy commands in a row since the last reset */
} sbp_safety_t;

void sbp_safety_init(sbp_safety_t *safety, const sbp_safety_config_t *config);

/* ---- inputs ---------------------------------------------------------------------------------------------- */

/* A valid COMMAND arrived. Feeds the watchdog and the healthy stream. */
void sbp_safety_command(sbp_safety_t *safety, uint64_t now_us);

/* The stream is not clean: a frame was dropped or a command rejected. The healthy count restarts at zero. */
void sbp_safety_break_stream(sbp_safety_t *safety);

/* Run the watchdog. Returns true when this call tripped it (ARMED -> SAFE, reason watchdog). */
SBP_NODISCARD bool sbp_safety_check(sbp_safety_t *safety, uint64_t now_us);

/* Enter the safe state for reason (ESTOP and FAULT latch their flag). Returns true if it was armed. */
bool sbp_safety_enter_safe(sbp_safety_t *safety, sbp_reason_t reason);

/* ARM: true when accepted (or already armed), false when refused; refusal changes nothing. */
SBP_NODISCARD bool sbp_safety_arm(sbp_safety_t *safety, uint64_t now_us);

/* ---- outputs --------------------------------------------------------------------------------------------- */

/* Would ARM be accepted at now_us? */
SBP_NODISCARD bool sbp_safety_healthy(const sbp_safety_t *safety, uint64_t now_us);

/* SBP_FLAG_ARMED, the latches, SBP_FLAG_SAFE_DISABLED and SBP_FLAG_STREAM_HEALTHY. */
uint16_t sbp_safety_flags(const sbp_safety_t *safety, uint64_t now_us);

/* Microseconds since the last valid COMMAND, or UINT64_MAX when none arrived yet. */
uint64_t sbp_safety_since_command(const sbp_safety_t *safety, uint64_t now_us);

#ifdef __cplusplus
}
#endif

#endif /* SBP_SAFETY_H */
