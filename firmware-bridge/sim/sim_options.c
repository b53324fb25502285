/* sim_options.c — command-line parsing for the host simulator. */
#include "sim_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: sbp_sim [options]\n"
    "Simulated SBP firmware on a pseudo-terminal. Prints 'PTY /dev/pts/N' first, then JSON events, one a line.\n"
    "\n"
    "robot\n"
    "  --joints N              simulated joints, 1..16 (default 6)\n"
    "  --limits A:B:V:E[,...]  pos_min:pos_max:vel_max:effort_max, one for all joints or one per joint\n"
    "                          (default -3.14159:3.14159:5:10)\n"
    "  --noise SIGMA           Gaussian noise on measured positions (velocities get 10x), default 0\n"
    "  --seed N                random seed for noise and fault injection (default 1)\n"
    "  --firmware-id TEXT      id sent in HELLO_ACK (default 'striatum-sim 1.0')\n"
    "firmware\n"
    "  --rate HZ               control and STATE rate (default 500)\n"
    "  --watchdog-ms MS        command watchdog timeout (default 20)\n"
    "  --safe-mode hold|disable  what the safe state does (default hold)\n"
    "  --healthy-count N       consecutive valid commands before ARM is accepted (default 10)\n"
    "  --healthy-gap-ms MS     largest gap between commands that still counts as healthy (default 10)\n"
    "  --schema-hash HEX       claim another schema hash, to test the host's mismatch handling\n"
    "  --reply tick|echo       when a COMMAND gets its STATE: at the next control tick (tick, default), or at\n"
    "                          once (echo: the tick runs when the COMMAND arrives, the next one a period\n"
    "                          later), so a round trip measures the link and not the tick\n"
    "fault injection\n"
    "  --drop-rate P           drop each outbound frame with probability P\n"
    "  --flip-rate P           flip one bit of each outbound byte with probability P\n"
    "  --stall-ms-every MS[:S] freeze the whole firmware loop (no receive, no STATE) for MS milliseconds every\n"
    "                          S seconds (default S = 1); a stall longer than the watchdog trips it\n"
    "  --disconnect-after-s S  the link goes dead (nothing read or written) after S seconds...\n"
    "  --disconnect-for-s D    ...for D seconds (default 1; 0 = for good)\n"
    "  --drop-param-replies N  drop the first N PARAM_VALUE replies (a deterministic lost reply)\n"
    "run\n"
    "  --duration-s S          exit after S seconds (default: run until SIGINT/SIGTERM)\n"
    "  --step-clock-us US      a controlled clock for tests: the firmware clock stands still and each frame\n"
    "                          received advances it by US and runs one tick (one STATE); HEARTBEAT passes time\n"
    "  --help                  this text\n";

static int bad(const char *flag, const char *value, const char *why) {
  fprintf(stderr, "sbp_sim: %s %s: %s (see --help)\n", flag, value != NULL ? value : "", why);
  return 2;
}

static int number(const char *flag, const char *text, double lo, double hi, double *out) {
  char *end = NULL;
  double v;
  if (text == NULL) return bad(flag, text, "needs a value");
  errno = 0;
  v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0') return bad(flag, text, "not a number");
  if (!(v >= lo && v <= hi)) return bad(flag, text, "out of range");
  *out = v;
  return 0;
}

static int parse_limits(sim_options_t *o, const char *text) {
  unsigned n = 0, i;
  const char *p = text;
  while (p != NULL && *p != '\0') {
    float v[4];
    char *end = NULL;
    int k;
    if (n >= SBP_MAX_JOINTS) return bad("--limits", text, "more entries than joints");
    for (k = 0; k < 4; k++) {
      v[k] = strtof(p, &end);
      if (end == p) return bad("--limits", text, "expected pos_min:pos_max:vel_max:effort_max");
      p = end;
      if (k < 3) {
        if (*p != ':') return bad("--limits", text, "expected pos_min:pos_max:vel_max:effort_max");
        p++;
      }
    }
    if (!(v[0] < v[1]) || !(v[2] > 0.0f) || !(v[3] > 0.0f)) return bad("--limits", text, "inconsistent");
    o->limits[n].pos_min = v[0];
    o->limits[n].pos_max = v[1];
    o->limits[n].vel_max = v[2];
    o->limits[n].effort_max = v[3];
    n++;
    if (*p == ',') p++;
    else if (*p != '\0') return bad("--limits", text, "entries are separated by ','");
  }
  if (n == 0) return bad("--limits", text, "empty");
  if (n == 1) {
    for (i = 1; i < SBP_MAX_JOINTS; i++) o->limits[i] = o->limits[0];
  } else if (n != o->joints) {
    return bad("--limits", text, "give one entry, or one per joint (put --joints first)");
  }
  return 0;
}

int sim_options_parse(sim_options_t *o, int argc, char **argv) {
  int i;
  double v;
  memset(o, 0, sizeof *o);
  o->joints = 6;
  o->rate_hz = 500.0;
  o->watchdog_ms = 20.0;
  o->safe_mode = SBP_SAFE_HOLD;
  o->healthy_count = 10;
  o->healthy_gap_ms = 10.0;
  o->seed = 1;
  o->stall_every_s = 1.0;
  o->disconnect_for_s = 1.0;
  o->firmware_id = "striatum-sim 1.0";
  if (parse_limits(o, "-3.14159:3.14159:5:10") != 0) return 2;
  for (i = 1; i < argc; i += 2) { /* every option but --help takes one value */
    const char *flag = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
      fputs(usage, stdout);
      return 1;
    }
    if (strcmp(flag, "--joints") == 0) {
      rc = number(flag, value, 1, SBP_MAX_JOINTS, &v);
      o->joints = (unsigned)v;
      if (rc == 0 && v != (double)o->joints) rc = bad(flag, value, "not an integer");
    } else if (strcmp(flag, "--rate") == 0) {
      rc = number(flag, value, 1, 20000, &o->rate_hz);
    } else if (strcmp(flag, "--watchdog-ms") == 0) {
      rc = number(flag, value, 1, 1000, &o->watchdog_ms);
    } else if (strcmp(flag, "--safe-mode") == 0) {
      if (value != NULL && strcmp(value, "hold") == 0) o->safe_mode = SBP_SAFE_HOLD;
      else if (value != NULL && strcmp(value, "disable") == 0) o->safe_mode = SBP_SAFE_DISABLE;
      else rc = bad(flag, value, "hold or disable");
    } else if (strcmp(flag, "--healthy-count") == 0) {
      rc = number(flag, value, 1, 10000, &v);
      o->healthy_count = (unsigned)v;
    } else if (strcmp(flag, "--healthy-gap-ms") == 0) {
      rc = number(flag, value, 0.1, 1000, &o->healthy_gap_ms);
    } else if (strcmp(flag, "--noise") == 0) {
      rc = number(flag, value, 0, 1e3, &o->noise);
    } else if (strcmp(flag, "--seed") == 0) {
      rc = number(flag, value, 0, 1e15, &v);
      o->seed = (uint64_t)v;
    } else if (strcmp(flag, "--drop-rate") == 0) {
      rc = number(flag, value, 0, 1, &o->drop_rate);
    } else if (strcmp(flag, "--flip-rate") == 0) {
      rc = number(flag, value, 0, 1, &o->flip_rate);
    } else if (strcmp(flag, "--stall-ms-every") == 0) {
      char ms[64];
      const char *colon = value != NULL ? strchr(value, ':') : NULL;
      size_t len = colon != NULL ? (size_t)(colon - value) : (value != NULL ? strlen(value) : 0);
      if (value == NULL || len >= sizeof ms) {
        rc = bad(flag, value, "MS or MS:S");
      } else {
        memcpy(ms, value, len);
        ms[len] = '\0';
        rc = number(flag, ms, 0, 60000, &o->stall_ms);
        if (rc == 0 && colon != NULL) rc = number(flag, colon + 1, 0.001, 3600, &o->stall_every_s);
      }
    } else if (strcmp(flag, "--disconnect-after-s") == 0) {
      rc = number(flag, value, 0, 1e6, &o->disconnect_after_s);
    } else if (strcmp(flag, "--disconnect-for-s") == 0) {
      rc = number(flag, value, 0, 1e6, &o->disconnect_for_s);
    } else if (strcmp(flag, "--drop-param-replies") == 0) {
      rc = number(flag, value, 0, 1e6, &v);
      o->drop_param_replies = (unsigned)v;
    } else if (strcmp(flag, "--reply") == 0) {
      if (value != NULL && strcmp(value, "tick") == 0) o->reply_echo = false;
      else if (value != NULL && strcmp(value, "echo") == 0) o->reply_echo = true;
      else rc = bad(flag, value, "tick or echo");
    } else if (strcmp(flag, "--step-clock-us") == 0) {
      rc = number(flag, value, 1, 1e7, &o->step_clock_us);
    } else if (strcmp(flag, "--duration-s") == 0) {
      rc = number(flag, value, 0, 1e7, &o->duration_s);
    } else if (strcmp(flag, "--schema-hash") == 0) {
      char *end = NULL;
      unsigned long h = value != NULL ? strtoul(value, &end, 16) : 0;
      if (value == NULL || end == value || *end != '\0' || h > 0xFFFFFFFFul) rc = bad(flag, value, "hex u32");
      o->schema_hash_set = true;
      o->schema_hash = (uint32_t)h;
    } else if (strcmp(flag, "--limits") == 0) {
      rc = value != NULL ? parse_limits(o, value) : bad(flag, value, "needs a value");
    } else if (strcmp(flag, "--firmware-id") == 0) {
      if (value == NULL) rc = bad(flag, value, "needs a value");
      o->firmware_id = value;
    } else {
      return bad(flag, "", "unknown option");
    }
    if (rc != 0) return rc;
  }
  return 0;
}
