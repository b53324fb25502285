/* sim_options.h — the simulator's command line, resolved once into a flat struct. */
#ifndef SIM_OPTIONS_H
#define SIM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "sbp.h"

typedef struct {
  unsigned joints;               /* --joints */
  double rate_hz;                /* --rate */
  double watchdog_ms;            /* --watchdog-ms */
  unsigned safe_mode;            /* --safe-mode hold|disable */
  unsigned healthy_count;        /* --healthy-count */
  double healthy_gap_ms;         /* --healthy-gap-ms */
  double noise;                  /* --noise: std-dev of position noise, joint units */
  uint64_t seed;                 /* --seed */
  double drop_rate;              /* --drop-rate: probability an outbound frame is dropped */
  double flip_rate;              /* --flip-rate: probability an outbound byte gets one bit flipped */
  double stall_ms;               /* --stall-ms-every MS[:S] */
  double stall_every_s;
  double disconnect_after_s;     /* --disconnect-after-s (0: never) */
  double disconnect_for_s;       /* --disconnect-for-s (0: for good) */
  double duration_s;             /* --duration-s (0: until SIGINT/SIGTERM) */
  double step_clock_us;          /* --step-clock-us (0: the wall clock) */
  bool reply_echo;               /* --reply echo: each COMMAND runs a tick (and gets its STATE) at once */
  unsigned drop_param_replies;   /* --drop-param-replies N: drop the first N PARAM_VALUE frames */
  bool schema_hash_set;
  uint32_t schema_hash;          /* --schema-hash */
  sbp_joint_limits_t limits[SBP_MAX_JOINTS]; /* --limits */
  const char *firmware_id;       /* --firmware-id */
} sim_options_t;

/* Returns 0 to run, 1 when --help was printed, 2 on a bad command line (message on stderr). */
int sim_options_parse(sim_options_t *options, int argc, char **argv);

#endif
