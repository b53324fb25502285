/* sim_rtt_client.c — the C baseline for bench/serial-rtt: a host written in C against the host simulator
 * (sbp_sim --reply echo) on its pty, doing what Striatum's serial transport does on the same pty in the same
 * run: HELLO until HELLO_ACK, then one COMMAND per period on absolute deadlines, each timed until the first STATE
 * that names its seq. It waits for the answer in poll(), as an event loop would. Prints one JSON object.
 * Usage: sim_rtt_client PTY [--joints N] [--rate HZ] [--count N]
 * Built by the bench: cc -O2 -I firmware-bridge/include sim_rtt_client.c firmware-bridge/build/libsbp.a */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sbp.h"

#define WARMUP 200u           /* commands before timing starts (the simulator's healthy stream, caches) */
#define LOST_AFTER_NS 100000000u /* late answers count in the percentiles; only 100 ms without one means lost */

static int port = -1;
static sbp_decoder_t dec;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int fail(const char *what) {
  printf("{\"bench\":\"sim_rtt_client\",\"error\":\"%s: %s\"}\n", what, strerror(errno));
  return 1;
}

static int open_port(const char *path) {
  struct termios t;
  port = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (port < 0 || tcgetattr(port, &t) != 0) return -1;
  t.c_iflag = 0;
  t.c_oflag = 0;
  t.c_lflag = 0;
  t.c_cflag = (t.c_cflag & ~(tcflag_t)(CSIZE | PARENB)) | CS8 | CREAD | CLOCAL;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(port, TCSANOW, &t) != 0) return -1;
  return tcflush(port, TCIOFLUSH); /* PROTOCOL.md 6.2: a session starts on fresh frames */
}

static int send_msg(sbp_message_t *m) {
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = 0;
  if (!sbp_encode(m, wire, sizeof wire, &len, NULL)) return -1;
  return write(port, wire, len) == (ssize_t)len ? 0 : -1;
}

/* Read until a message of this type (and, for STATE, naming this command seq) arrives or the deadline passes.
 * Bytes read past the answer stay in rx for the next call. */
static uint8_t rx[512];
static size_t rx_at, rx_len;

static int await_msg(uint8_t type, int seq, uint64_t deadline, sbp_message_t *out) {
  for (;;) {
    struct pollfd p;
    uint64_t t;
    ssize_t n;
    while (rx_at < rx_len) {
      size_t used = 0;
      sbp_frame_t frame;
      sbp_rx_t got = sbp_decoder_push(&dec, rx + rx_at, rx_len - rx_at, &used, &frame);
      rx_at += used;
      if (got != SBP_RX_FRAME || !sbp_decode(&frame, out, NULL) || out->type != type) continue;
      if (type == SBP_STATE && out->as.state.last_command_seq != (uint16_t)seq) continue;
      return 0;
    }
    t = now_ns();
    if (t >= deadline) return -1;
    p.fd = port;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, (int)((deadline - t) / 1000000u) + 1) <= 0) continue;
    n = read(port, rx, sizeof rx);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return -1;
    rx_at = 0;
    rx_len = (size_t)n;
  }
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

int main(int argc, char **argv) {
  unsigned joints = 6, count = 5000, i, got = 0, lost = 0, skipped = 0;
  double rate = 500.0, mean = 0.0;
  uint64_t *rtt, period_ns, next, t0;
  uint16_t seq = 0;
  static sbp_message_t msg, reply;
  int k;

  for (k = 2; k + 1 < argc; k += 2) {
    if (strcmp(argv[k], "--joints") == 0) joints = (unsigned)atoi(argv[k + 1]);
    else if (strcmp(argv[k], "--rate") == 0) rate = atof(argv[k + 1]);
    else if (strcmp(argv[k], "--count") == 0) count = (unsigned)atoi(argv[k + 1]);
    else break;
  }
  if (argc < 2 || k < argc || joints < 1 || joints > SBP_MAX_JOINTS || rate <= 0.0 || count < 1) {
    fprintf(stderr, "usage: sim_rtt_client PTY [--joints 1..16] [--rate HZ] [--count N]\n");
    return 2;
  }
  if (open_port(argv[1]) != 0) return fail("open");
  sbp_decoder_init(&dec);

  /* The handshake, resent every 250 ms for 2 s. */
  memset(&msg, 0, sizeof msg);
  msg.type = SBP_HELLO;
  msg.as.hello.protocol_version = SBP_PROTOCOL_VERSION;
  msg.as.hello.schema_hash = SBP_SCHEMA_HASH;
  for (i = 0; i < 8; i++) {
    msg.seq = seq++;
    if (send_msg(&msg) != 0) return fail("write HELLO");
    if (await_msg(SBP_HELLO_ACK, -1, now_ns() + 250000000u, &reply) == 0) break;
  }
  if (i == 8) return fail("no HELLO_ACK");

  rtt = calloc(count, sizeof *rtt);
  if (rtt == NULL) return fail("calloc");
  memset(&msg, 0, sizeof msg);
  msg.type = SBP_COMMAND;
  msg.as.command.mode = SBP_MODE_POSITION;
  msg.as.command.joint_count = (uint8_t)joints;
  period_ns = (uint64_t)(1e9 / rate);
  t0 = now_ns();
  next = t0 + period_ns;
  for (i = 0; i < count + WARMUP; i++) {
    struct timespec at;
    uint64_t sent, late;
    unsigned j;
    at.tv_sec = (time_t)(next / 1000000000u);
    at.tv_nsec = (long)(next % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
    msg.seq = seq++;
    for (j = 0; j < joints; j++) msg.as.command.targets[j] = 0.2f * (float)((i + j) % 10) / 10.0f;
    sent = now_ns();
    if (send_msg(&msg) != 0) return fail("write COMMAND");
    if (await_msg(SBP_STATE, msg.seq, sent + LOST_AFTER_NS, &reply) == 0) {
      if (i >= WARMUP) rtt[got++] = now_ns() - sent;
    } else if (i >= WARMUP) {
      lost++;
    }
    next += period_ns;
    late = now_ns();
    if (late > next) { /* a late answer: skip the missed periods instead of bursting */
      uint64_t missed = (late - next) / period_ns + 1u;
      skipped += (unsigned)missed;
      next += missed * period_ns;
    }
  }
  close(port);

  qsort(rtt, got, sizeof *rtt, compare_u64);
  for (i = 0; i < got; i++) mean += (double)rtt[i];
  if (got > 0) mean /= (double)got;
  printf("{\"bench\":\"sim_rtt_client\",\"rate_hz\":%g,\"joints\":%u,\"seconds\":%.1f,\"commands\":%u,\"samples\":%u,"
         "\"lost\":%u,\"skipped_periods\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f}\n",
         rate, joints, (double)(now_ns() - t0) / 1e9, count + WARMUP, got, lost, skipped,
         got ? (double)rtt[got / 2] / 1000.0 : 0.0, got ? (double)rtt[(size_t)((double)got * 0.99)] / 1000.0 : 0.0,
         got ? (double)rtt[got - 1] / 1000.0 : 0.0, mean / 1000.0);
  free(rtt);
  return got > 0 ? 0 : 1;
}
