/* sbp_node.h — the MCU end of the link in one object: decoder, handshake, safety state machine, parameters
 * and replies. Firmware gives it received bytes, calls sbp_node_tick() at its control rate with the measured
 * joint state, and applies the returned output to the motors. The host simulator (sim/) is built on it too.
 *
 * Sections: 1. wiring (config, callbacks)  2. what the motors should do  3. events  4. the node  5. calls.
 *
 * Concurrency: the node is not re-entrant. Call sbp_node_rx() and sbp_node_tick() from one context, or from
 * two interrupts of the same priority (they cannot preempt each other on a Cortex-M NVIC); see
 * examples/generic_mcu_main.c.
 *
 * Behaviour (PROTOCOL.md, "MCU behaviour", is the normative text):
 *   - COMMAND is refused until a HELLO with this protocol version and schema hash arrived (FAULT NOT_READY),
 *     and when its joint count differs from the robot's or a target is not finite (FAULT BAD_COMMAND). Refusal
 *     FAULTs are sent on the first refusal after an accepted command only, not at the command rate.
 *   - Accepted targets are clamped to the joint limits (position, or ±vel_max, or ±effort_max by mode);
 *     SBP_FLAG_LIMITED tells the host. They drive the motors only while armed.
 *   - Every HELLO gets a HELLO_ACK; a HELLO while armed disarms (a new host session starts disarmed).
 *   - ESTOP, a watchdog trip, a refused ARM, a schema mismatch and sbp_node_fault() each send a FAULT.
 *   - PARAM_SET is refused while armed. Every PARAM_GET and PARAM_SET gets a PARAM_VALUE with the value in
 *     effect afterwards.
 *   - One STATE per tick.
 */
#ifndef SBP_NODE_H
#define SBP_NODE_H

#include "sbp.h"
#include "sbp_safety.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. wiring ------------------------------------------------------------------------------------------- */

struct sbp_node_event;

typedef struct {
  uint8_t joint_count; /* 1 .. SBP_MAX_JOINTS */
  sbp_joint_limits_t limits[SBP_MAX_JOINTS];
  const char *firmware_id;  /* up to SBP_FIRMWARE_ID_MAX bytes are sent; longer is cut */
  uint32_t schema_hash;     /* SBP_SCHEMA_HASH; a simulator may lie to test the host's mismatch handling */
  sbp_safety_config_t safety;
  /* Monotonic microseconds since boot. On an MCU: a 32-bit timer extended to 64 bits. */
  uint64_t (*clock_us)(void *ctx);
  /* Queue len bytes for the UART. Called with whole frames, from within sbp_node_rx() and sbp_node_tick(). */
  void (*send)(void *ctx, const uint8_t *wire, size_t len);
  /* Optional: told about handshakes, arming, safe state entries ... for logs. NULL for none. */
  void (*on_event)(void *ctx, const struct sbp_node_event *event);
  void *ctx;
} sbp_node_config_t;

/* ---- 2. what the motors should do ------------------------------------------------------------------------ */

typedef enum {
  SBP_OUTPUT_TRACK = 0, /* armed: follow targets in mode */
  SBP_OUTPUT_HOLD,      /* safe, hold: position mode at the positions measured when the safe state began */
  SBP_OUTPUT_DISABLE    /* safe, disable: motor power off */
} sbp_output_kind_t;

typedef struct {
  uint8_t kind; /* sbp_output_kind_t */
  uint8_t mode; /* sbp_mode_t; SBP_MODE_POSITION for HOLD */
  float targets[SBP_MAX_JOINTS];
} sbp_output_t;

/* ---- 3. events ------------------------------------------------------------------------------------------- */

typedef enum {
  SBP_EVENT_HELLO = 0,        /* ok: hash and version matched; value: the host's schema hash */
  SBP_EVENT_ARMED,
  SBP_EVENT_ARM_REFUSED,      /* value: healthy streak at the time */
  SBP_EVENT_ESTOP,
  SBP_EVENT_SAFE_STATE,       /* armed -> safe; reason, since_last_command_us */
  SBP_EVENT_COMMAND_REJECTED, /* code: SBP_FAULT_BAD_COMMAND or SBP_FAULT_NOT_READY */
  SBP_EVENT_PARAM_SET,        /* id, fvalue (in effect afterwards), code: SBP_PARAM_* result */
  SBP_EVENT_FAULT             /* code: a firmware fault from sbp_node_fault() */
} sbp_event_kind_t;

typedef struct sbp_node_event {
  uint8_t kind;   /* sbp_event_kind_t */
  uint8_t reason; /* sbp_reason_t, for SBP_EVENT_SAFE_STATE */
  bool ok;
  uint16_t code;
  uint16_t id;
  uint32_t value;
  float fvalue;
  uint64_t now_us;
  uint64_t since_last_command_us; /* UINT64_MAX when no command arrived yet */
} sbp_node_event_t;

/* ---- 4. the node ----------------------------------------------------------------------------------------- */

typedef struct {
  uint32_t commands_accepted;
  uint32_t commands_rejected;
  uint32_t message_errors; /* sound frames whose payload did not decode */
  uint32_t watchdog_trips;
  uint32_t frames_sent;
} sbp_node_stats_t;

typedef struct {
  sbp_node_config_t config;
  sbp_decoder_t decoder;
  sbp_safety_t safety;
  bool handshake_ok;
  bool limited;           /* the last accepted command was clamped */
  bool rejecting;         /* the last command was refused: no FAULT for the next refusals */
  bool hold_pending;      /* capture hold positions at the next tick */
  uint16_t tx_seq;
  uint16_t last_command_seq;
  sbp_command_t command;  /* last accepted command, clamped */
  float positions[SBP_MAX_JOINTS]; /* measured at the last tick */
  float hold[SBP_MAX_JOINTS];      /* where SBP_OUTPUT_HOLD keeps the joints */
  sbp_output_t output;
  sbp_node_stats_t stats;
  sbp_message_t rx;       /* message being handled */
  sbp_message_t tx;       /* message being sent */
  uint8_t wire[SBP_MAX_FRAME];
} sbp_node_t;

/* ---- 5. calls -------------------------------------------------------------------------------------------- */

/* False (and err set) when the config is unusable: joint_count out of range, clock_us or send NULL. */
SBP_NODISCARD bool sbp_node_init(sbp_node_t *node, const sbp_node_config_t *config, sbp_error_t *err);

/* Bytes received from the host, any number, e.g. one from a UART interrupt. Whole frames are handled at once. */
void sbp_node_rx(sbp_node_t *node, const uint8_t *bytes, size_t len);

/* The control tick: run the watchdog, send STATE with the measured joint state (joint_count entries each),
 * and return what the motors should do until the next tick. The pointer stays valid; contents change. */
const sbp_output_t *sbp_node_tick(sbp_node_t *node, const float *positions, const float *velocities,
                                  const float *efforts);

/* A firmware fault (driver over-temperature, encoder lost ...): latch SBP_FLAG_FAULT, enter the safe state and
 * send FAULT with code (use SBP_FAULT_FIRMWARE_FIRST and up) and text (NULL for none). */
void sbp_node_fault(sbp_node_t *node, uint16_t code, const char *text);

/* A session ended on the host side (pty closed, USB unplugged): forget the handshake. The watchdog will have
 * made the robot safe already if it was armed. */
void sbp_node_disconnected(sbp_node_t *node);

/* Current STATE flags. */
uint16_t sbp_node_flags(const sbp_node_t *node, uint64_t now_us);

#ifdef __cplusplus
}
#endif

#endif /* SBP_NODE_H */
