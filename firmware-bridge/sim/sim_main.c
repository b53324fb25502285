/* sim_main.c — the host simulator: SBP firmware (the same sbp_node an MCU runs) on a pseudo-terminal, with
 * simulated joints and fault injection. stdout: first line "PTY /dev/pts/N", then one JSON event a line, each
 * stamped with the simulator's own clock (mcu_us, microseconds since start) so tests can measure on it.
 * With --step-clock-us the firmware clock is driven by the host's frames instead of the wall clock, so a test's
 * outcome cannot depend on how the machine schedules either process. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "sbp_node.h"
#include "sim_options.h"
#include "sim_physics.h"
#include "sim_pty.h"

typedef struct {
  sim_options_t options;
  sim_pty_t pty;
  sim_physics_t physics;
  sbp_node_t node;
  struct timespec start;
  uint64_t fault_rng;
  bool link_down;           /* injected: --disconnect-after-s */
  uint64_t injected_drops;
  uint64_t injected_flips;
  uint64_t overruns;        /* control periods skipped because the loop ran late */
  uint64_t stepped_us;      /* the firmware clock under --step-clock-us */
  uint64_t param_replies_dropped; /* --drop-param-replies */
} sim_t;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* ---- time -------------------------------------------------------------------------------------------------- */

static uint64_t mono_us(const sim_t *sim) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)(now.tv_sec - sim->start.tv_sec) * 1000000u + (uint64_t)(now.tv_nsec / 1000) -
         (uint64_t)(sim->start.tv_nsec / 1000);
}

/* The firmware's clock: the wall clock, or under --step-clock-us one step per frame received. */
static uint64_t firmware_us(const sim_t *sim) {
  return sim->options.step_clock_us > 0.0 ? sim->stepped_us : mono_us(sim);
}

static uint64_t node_clock(void *ctx) { return firmware_us((const sim_t *)ctx); }

static struct timespec abs_time(const sim_t *sim, uint64_t us) {
  struct timespec t = sim->start;
  uint64_t ns = (uint64_t)t.tv_nsec + (us % 1000000u) * 1000u;
  t.tv_sec += (time_t)(us / 1000000u + ns / 1000000000u);
  t.tv_nsec = (long)(ns % 1000000000u);
  return t;
}

/* ---- events: one JSON object a line ------------------------------------------------------------------------ */

static void print_since(uint64_t since) {
  if (since == UINT64_MAX) printf("null");
  else printf("%llu", (unsigned long long)since);
}

static void on_event(void *ctx, const sbp_node_event_t *e) {
  (void)ctx;
  switch (e->kind) {
    case SBP_EVENT_HELLO:
      printf("{\"event\":\"hello\",\"mcu_us\":%llu,\"schema_hash\":\"0x%08lX\",\"match\":%s}\n",
             (unsigned long long)e->now_us, (unsigned long)e->value, e->ok ? "true" : "false");
      break;
    case SBP_EVENT_ARMED:
      printf("{\"event\":\"armed\",\"mcu_us\":%llu,\"since_last_command_us\":", (unsigned long long)e->now_us);
      print_since(e->since_last_command_us);
      printf("}\n");
      break;
    case SBP_EVENT_ARM_REFUSED:
      printf("{\"event\":\"arm_refused\",\"mcu_us\":%llu,\"healthy_streak\":%lu}\n", (unsigned long long)e->now_us,
             (unsigned long)e->value);
      break;
    case SBP_EVENT_ESTOP:
      printf("{\"event\":\"estop\",\"mcu_us\":%llu}\n", (unsigned long long)e->now_us);
      break;
    case SBP_EVENT_SAFE_STATE:
      printf("{\"event\":\"safe_state\",\"reason\":\"%s\",\"mcu_us\":%llu,\"since_last_command_us\":",
             sbp_reason_name(e->reason), (unsigned long long)e->now_us);
      print_since(e->since_last_command_us);
      printf("}\n");
      break;
    case SBP_EVENT_COMMAND_REJECTED:
      printf("{\"event\":\"command_rejected\",\"mcu_us\":%llu,\"fault_code\":%u}\n", (unsigned long long)e->now_us,
             (unsigned)e->code);
      break;
    case SBP_EVENT_PARAM_SET:
      printf("{\"event\":\"param_set\",\"mcu_us\":%llu,\"id\":%u,\"value\":%g,\"result\":%u}\n",
             (unsigned long long)e->now_us, (unsigned)e->id, (double)e->fvalue, (unsigned)e->code);
      break;
    case SBP_EVENT_FAULT:
      printf("{\"event\":\"fault\",\"mcu_us\":%llu,\"code\":%u}\n", (unsigned long long)e->now_us, (unsigned)e->code);
      break;
    default:
      break;
  }
}

static void sim_event(const sim_t *sim, const char *name) {
  printf("{\"event\":\"%s\",\"mcu_us\":%llu}\n", name, (unsigned long long)firmware_us(sim));
}

/* ---- outbound frames, with fault injection ----------------------------------------------------------------- */

static void send_frame(void *ctx, const uint8_t *wire, size_t len) {
  sim_t *sim = (sim_t *)ctx;
  uint8_t mangled[SBP_MAX_FRAME];
  size_t i;
  if (sim->link_down) return;
  /* sbp_node sends only its tx message, so its type is the type of this frame. */
  if (sim->node.tx.type == SBP_PARAM_VALUE && sim->param_replies_dropped < sim->options.drop_param_replies) {
    sim->param_replies_dropped++;
    printf("{\"event\":\"param_reply_dropped\",\"mcu_us\":%llu,\"count\":%llu}\n",
           (unsigned long long)firmware_us(sim), (unsigned long long)sim->param_replies_dropped);
    return;
  }
  if (sim->options.drop_rate > 0.0 && sim_uniform(&sim->fault_rng) < sim->options.drop_rate) {
    sim->injected_drops++;
    return;
  }
  if (sim->options.flip_rate > 0.0) {
    memcpy(mangled, wire, len);
    for (i = 0; i < len; i++) {
      if (sim_uniform(&sim->fault_rng) < sim->options.flip_rate) {
        mangled[i] ^= (uint8_t)(1u << (unsigned)(sim_uniform(&sim->fault_rng) * 8.0));
        sim->injected_flips++;
      }
    }
    wire = mangled;
  }
  sim_pty_send(&sim->pty, wire, len);
}

/* ---- set-up ------------------------------------------------------------------------------------------------ */

static int setup(sim_t *sim) {
  sbp_node_config_t config;
  sbp_error_t err = {SBP_OK, NULL};
  const sim_options_t *o = &sim->options;
  memset(&config, 0, sizeof config);
  config.joint_count = (uint8_t)o->joints;
  memcpy(config.limits, o->limits, sizeof config.limits);
  config.firmware_id = o->firmware_id;
  config.schema_hash = o->schema_hash_set ? o->schema_hash : SBP_SCHEMA_HASH;
  sbp_safety_config_default(&config.safety);
  config.safety.watchdog_timeout_us = (uint32_t)(o->watchdog_ms * 1000.0 + 0.5);
  config.safety.healthy_max_gap_us = (uint32_t)(o->healthy_gap_ms * 1000.0 + 0.5);
  config.safety.healthy_count = (uint16_t)o->healthy_count;
  config.safety.safe_mode = (uint8_t)o->safe_mode;
  config.clock_us = node_clock;
  config.send = send_frame;
  config.on_event = on_event;
  config.ctx = sim;
  if (!sbp_node_init(&sim->node, &config, &err)) {
    fprintf(stderr, "sbp_sim: %s\n", SBP_GET_ERROR(&err));
    return 2;
  }
  sim_physics_init(&sim->physics, o->joints, o->limits, o->noise, o->seed);
  sim->fault_rng = o->seed ^ 0xD1B54A32D192ED03ull;
  if (sim_pty_open(&sim->pty) != 0) {
    perror("sbp_sim: pseudo-terminal");
    return 1;
  }
  return 0;
}

/* ---- the loop ---------------------------------------------------------------------------------------------- */

static uint32_t commands_seen(const sim_t *sim) {
  return sim->node.stats.commands_accepted + sim->node.stats.commands_rejected;
}

/* Take whatever the host sent, as an MCU's receive interrupt would, until the deadline. Under --reply echo,
 * return early with true once a read brought a COMMAND (accepted or refused), so the tick answers it at once;
 * commands that arrive in one read share that tick's STATE (it names the last one). */
static bool receive_until(sim_t *sim, uint64_t deadline_us) {
  uint8_t buf[4096];
  for (;;) {
    uint64_t now = mono_us(sim);
    struct timespec wait;
    fd_set readable;
    size_t n;
    uint32_t commands;
    if (now >= deadline_us || stop_requested) return false;
    /* The tick itself is timed by clock_nanosleep on the absolute deadline: precise, and no drift. Before
     * that, wait for input with pselect. A hung-up master is always "readable": no pselect then. */
    if (!sim->pty.connected || deadline_us - now <= 200u) {
      struct timespec until = abs_time(sim, deadline_us);
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR && !stop_requested) {
      }
      return false;
    }
    wait.tv_sec = (time_t)((deadline_us - now - 200u) / 1000000u);
    wait.tv_nsec = (long)((deadline_us - now - 200u) % 1000000u) * 1000L;
    FD_ZERO(&readable);
    FD_SET(sim->pty.master, &readable);
    if (pselect(sim->pty.master + 1, &readable, NULL, NULL, &wait, NULL) <= 0) continue;
    n = sim_pty_read(&sim->pty, buf, sizeof buf);
    if (n == 0) {
      if (sim_pty_poll_connection(&sim->pty) < 0) {
        sim_event(sim, "disconnected");
        sbp_node_disconnected(&sim->node);
      }
      continue;
    }
    if (sim->link_down) continue;
    commands = commands_seen(sim);
    sbp_node_rx(&sim->node, buf, n);
    if (sim->options.reply_echo && commands_seen(sim) != commands) return true;
  }
}

static void injected_link(sim_t *sim, double t_s) {
  const sim_options_t *o = &sim->options;
  if (o->disconnect_after_s <= 0.0) return;
  if (!sim->link_down && t_s >= o->disconnect_after_s &&
      (o->disconnect_for_s <= 0.0 || t_s < o->disconnect_after_s + o->disconnect_for_s)) {
    sim->link_down = true;
    sim_event(sim, "link_down");
  } else if (sim->link_down && o->disconnect_for_s > 0.0 && t_s >= o->disconnect_after_s + o->disconnect_for_s) {
    sim->link_down = false;
    sim_event(sim, "link_up");
  }
}

static void print_exit(const sim_t *sim) {
  const sbp_decoder_stats_t *d = &sim->node.decoder.stats;
  const sbp_node_stats_t *s = &sim->node.stats;
  printf("{\"event\":\"exit\",\"mcu_us\":%llu,\"frames_in\":%lu,\"frames_out\":%lu,\"crc_errors\":%lu,"
         "\"resyncs\":%lu,\"commands_accepted\":%lu,\"commands_rejected\":%lu,\"watchdog_trips\":%lu,"
         "\"overruns\":%llu,\"injected_drops\":%llu,\"injected_flips\":%llu,\"tx_overflow\":%llu}\n",
         (unsigned long long)firmware_us(sim), (unsigned long)d->frames, (unsigned long)s->frames_sent,
         (unsigned long)d->crc_errors, (unsigned long)d->resyncs, (unsigned long)s->commands_accepted,
         (unsigned long)s->commands_rejected, (unsigned long)s->watchdog_trips, (unsigned long long)sim->overruns,
         (unsigned long long)sim->injected_drops, (unsigned long long)sim->injected_flips,
         (unsigned long long)sim->pty.frames_overflowed);
}

static void run(sim_t *sim) {
  const sim_options_t *o = &sim->options;
  uint64_t period_us = (uint64_t)(1e6 / o->rate_hz + 0.5);
  uint64_t next_tick = period_us;
  uint64_t last_tick = 0;
  uint64_t next_stall = (uint64_t)(o->stall_every_s * 1e6);
  const sbp_output_t *out = sbp_node_tick(&sim->node, sim->physics.measured_position,
                                          sim->physics.measured_velocity, sim->physics.measured_effort);
  while (!stop_requested) {
    uint64_t now;
    double t_s;
    int change = sim_pty_poll_connection(&sim->pty);
    if (change > 0) sim_event(sim, "connected");
    if (change < 0) {
      sim_event(sim, "disconnected");
      sbp_node_disconnected(&sim->node);
    }
    bool commanded = receive_until(sim, next_tick);
    if (stop_requested) break;
    now = mono_us(sim);
    t_s = (double)now / 1e6;
    if (o->duration_s > 0.0 && t_s >= o->duration_s) break;
    injected_link(sim, t_s);
    if (o->stall_ms > 0.0 && now >= next_stall) {
      struct timespec stall;
      stall.tv_sec = (time_t)(o->stall_ms / 1000.0);
      stall.tv_nsec = (long)((o->stall_ms - (double)stall.tv_sec * 1000.0) * 1e6);
      printf("{\"event\":\"stall\",\"mcu_us\":%llu,\"ms\":%g}\n", (unsigned long long)now, o->stall_ms);
      (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &stall, NULL);
      next_stall += (uint64_t)(o->stall_every_s * 1e6);
      now = mono_us(sim);
    }
    /* Under --reply echo ticks follow the commands, so the physics steps by the time that really passed. */
    sim_physics_step(&sim->physics, out, (double)(o->reply_echo ? now - last_tick : period_us) / 1e6);
    out = sbp_node_tick(&sim->node, sim->physics.measured_position, sim->physics.measured_velocity,
                        sim->physics.measured_effort);
    sim_pty_flush(&sim->pty);
    last_tick = now;
    if (commanded) { /* echo: the tick ran early for this COMMAND; the next one a full period from now */
      next_tick = now + period_us;
      continue;
    }
    /* Late? Skip the missed periods rather than burst to catch up (as ros2_control does). */
    next_tick += period_us;
    if (now >= next_tick) {
      uint64_t missed = (now - next_tick) / period_us + 1u;
      sim->overruns += missed;
      next_tick += missed * period_us;
    }
  }
}

/* --step-clock-us: nothing happens between the host's frames. Each frame is handled at the current firmware time,
 * then the clock advances one step and the node ticks once, so the safety rules see the host's frame count: a
 * command stream is exactly one step apart and HEARTBEATs let time pass towards the watchdog. */
static void run_stepped(sim_t *sim) {
  const sim_options_t *o = &sim->options;
  uint64_t step_us = (uint64_t)(o->step_clock_us + 0.5);
  const sbp_output_t *out = sbp_node_tick(&sim->node, sim->physics.measured_position,
                                          sim->physics.measured_velocity, sim->physics.measured_effort);
  while (!stop_requested) {
    uint8_t buf[4096];
    struct timespec wait = {0, 5000000L}; /* only how often stop and connection changes are looked at */
    fd_set readable;
    size_t n, i;
    int change = sim_pty_poll_connection(&sim->pty);
    if (change > 0) sim_event(sim, "connected");
    if (change < 0) {
      sim_event(sim, "disconnected");
      sbp_node_disconnected(&sim->node);
    }
    if (!sim->pty.connected) { /* a hung-up master is always "readable": no pselect then */
      (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &wait, NULL);
      continue;
    }
    FD_ZERO(&readable);
    FD_SET(sim->pty.master, &readable);
    if (pselect(sim->pty.master + 1, &readable, NULL, NULL, &wait, NULL) <= 0) continue;
    n = sim_pty_read(&sim->pty, buf, sizeof buf);
    for (i = 0; i < n; i++) { /* byte by byte: two frames in one read still get a step each */
      uint32_t frames = sim->node.decoder.stats.frames;
      sbp_node_rx(&sim->node, buf + i, 1);
      if (sim->node.decoder.stats.frames == frames) continue;
      sim->stepped_us += step_us;
      if (o->duration_s > 0.0 && (double)sim->stepped_us / 1e6 >= o->duration_s) return;
      sim_physics_step(&sim->physics, out, (double)step_us / 1e6);
      out = sbp_node_tick(&sim->node, sim->physics.measured_position, sim->physics.measured_velocity,
                          sim->physics.measured_effort);
    }
    sim_pty_flush(&sim->pty);
  }
}

int main(int argc, char **argv) {
  static sim_t sim; /* ~70 KB: the pty queue */
  struct sigaction sa;
  int rc = sim_options_parse(&sim.options, argc, argv);
  if (rc != 0) return rc == 1 ? 0 : rc;
  setvbuf(stdout, NULL, _IOLBF, 0); /* one event a line, even into a pipe */
  clock_gettime(CLOCK_MONOTONIC, &sim.start);
  rc = setup(&sim);
  if (rc != 0) return rc;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  printf("PTY %s\n", sim.pty.slave_path);
  printf("{\"event\":\"start\",\"mcu_us\":%llu,\"joints\":%u,\"rate_hz\":%g,\"watchdog_ms\":%g,\"safe_mode\":\"%s\","
         "\"healthy_count\":%u,\"schema_hash\":\"0x%08lX\",\"reply\":\"%s\"}\n",
         (unsigned long long)firmware_us(&sim), sim.options.joints, sim.options.rate_hz, sim.options.watchdog_ms,
         sim.options.safe_mode == SBP_SAFE_DISABLE ? "disable" : "hold", sim.options.healthy_count,
         (unsigned long)sim.node.config.schema_hash, sim.options.reply_echo ? "echo" : "tick");
  if (sim.options.step_clock_us > 0.0) run_stepped(&sim);
  else run(&sim);
  print_exit(&sim);
  return 0;
}
