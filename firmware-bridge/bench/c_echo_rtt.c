/* c_echo_rtt.c — baseline round trip of SBP over a pseudo-terminal, C on both ends: the floor any host
 * implementation (the TypeScript serial transport) is compared against.
 *
 * A forked child plays the MCU on the slave side and answers every COMMAND at once with a STATE carrying its
 * sequence number; the parent plays the host, sends one COMMAND per period at a fixed rate on the master and
 * times each until its STATE returns. Same frame sizes as the real link for the chosen joint count. The host
 * simulator answers at its next control tick instead, which adds up to one period: this measures the link.
 * Prints one JSON object. Usage: c_echo_rtt [--joints N] [--rate HZ] [--count N] */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sbp.h"

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int make_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) != 0) return -1;
  t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
  t.c_oflag &= ~(tcflag_t)OPOST;
  t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
  t.c_cflag |= CS8 | CREAD | CLOCAL;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  return tcsetattr(fd, TCSANOW, &t);
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ---- the MCU side: echo a STATE for each COMMAND ----------------------------------------------------------- */

static int mcu_echo(int fd, uint8_t joints) {
  static sbp_decoder_t dec;
  static sbp_message_t in, out;
  uint8_t buf[512], wire[SBP_MAX_FRAME];
  uint16_t seq = 0;
  sbp_decoder_init(&dec);
  memset(&out, 0, sizeof out);
  out.type = SBP_STATE;
  out.as.state.joint_count = joints;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    size_t at = 0;
    if (n <= 0) return 0; /* parent closed the master */
    while (at < (size_t)n) {
      size_t used = 0, len = 0;
      sbp_frame_t frame;
      sbp_rx_t rx = sbp_decoder_push(&dec, buf + at, (size_t)n - at, &used, &frame);
      at += used;
      if (rx != SBP_RX_FRAME || !sbp_decode(&frame, &in, NULL) || in.type != SBP_COMMAND) continue;
      out.seq = seq++;
      out.as.state.mcu_time_us = now_ns() / 1000u;
      out.as.state.last_command_seq = in.seq;
      memcpy(out.as.state.positions, in.as.command.targets, sizeof(float) * joints);
      if (!sbp_encode(&out, wire, sizeof wire, &len, NULL) || write_all(fd, wire, len) != 0) return 1;
    }
  }
}

/* ---- the host side ----------------------------------------------------------------------------------------- */

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

static size_t state_size(uint8_t joints) {
  sbp_message_t m;
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = 0;
  memset(&m, 0, sizeof m);
  m.type = SBP_STATE;
  m.as.state.joint_count = joints;
  m.as.state.mcu_time_us = 0x0102030405060708ull; /* no zero bytes: a typical length, not the shortest */
  return sbp_encode(&m, wire, sizeof wire, &len, NULL) ? len : 0;
}

int main(int argc, char **argv) {
  unsigned joints = 6, count = 2500, warmup = 50, i;
  double rate = 500.0;
  int master, slave;
  pid_t child;
  uint64_t *rtt, period_ns, next;
  unsigned got = 0, lost = 0, skipped = 0;
  static sbp_decoder_t dec;
  static sbp_message_t cmd, reply;
  size_t command_bytes = 0;
  double mean = 0.0;

  for (i = 1; i + 1 < (unsigned)argc; i += 2) {
    if (strcmp(argv[i], "--joints") == 0) joints = (unsigned)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--rate") == 0) rate = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--count") == 0) count = (unsigned)atoi(argv[i + 1]);
    else break;
  }
  if (i < (unsigned)argc || joints < 1 || joints > SBP_MAX_JOINTS || rate <= 0.0 || count < 1) {
    fprintf(stderr, "usage: c_echo_rtt [--joints 1..16] [--rate HZ] [--count N]\n");
    return 2;
  }

  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    perror("pty");
    return 1;
  }
  slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0 || make_raw(slave) != 0) {
    perror("pty slave");
    return 1;
  }
  child = fork();
  if (child == 0) {
    close(master);
    _exit(mcu_echo(slave, (uint8_t)joints));
  }
  close(slave);

  rtt = calloc(count, sizeof *rtt);
  if (rtt == NULL) return 1;
  sbp_decoder_init(&dec);
  memset(&cmd, 0, sizeof cmd);
  cmd.type = SBP_COMMAND;
  cmd.as.command.mode = SBP_MODE_POSITION;
  cmd.as.command.joint_count = (uint8_t)joints;
  period_ns = (uint64_t)(1e9 / rate);
  next = now_ns() + period_ns;
  for (i = 0; i < count + warmup; i++) {
    uint8_t wire[SBP_MAX_FRAME], buf[512];
    size_t len = 0, j;
    uint64_t sent, deadline;
    struct timespec at;
    bool answered = false;
    at.tv_sec = (time_t)(next / 1000000000u);
    at.tv_nsec = (long)(next % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
    cmd.seq = (uint16_t)i;
    for (j = 0; j < joints; j++) cmd.as.command.targets[j] = 0.001f * (float)(i + j);
    if (!sbp_encode(&cmd, wire, sizeof wire, &len, NULL)) return 1;
    command_bytes = len;
    sent = now_ns();
    if (write_all(master, wire, len) != 0) return 1;
    deadline = sent + 100000000u; /* late answers still count in the percentiles; only 100 ms means lost */
    while (!answered) {
      struct pollfd p;
      uint64_t t = now_ns();
      ssize_t n;
      size_t k = 0;
      if (t >= deadline) break;
      p.fd = master;
      p.events = POLLIN;
      if (poll(&p, 1, (int)((deadline - t) / 1000000u) + 1) <= 0) continue;
      n = read(master, buf, sizeof buf);
      while (n > 0 && k < (size_t)n) {
        size_t used = 0;
        sbp_frame_t frame;
        sbp_rx_t rx = sbp_decoder_push(&dec, buf + k, (size_t)n - k, &used, &frame);
        k += used;
        if (rx == SBP_RX_FRAME && sbp_decode(&frame, &reply, NULL) && reply.type == SBP_STATE &&
            reply.as.state.last_command_seq == cmd.seq) {
          uint64_t took = now_ns() - sent;
          answered = true;
          if (i >= warmup) rtt[got++] = took;
        }
      }
    }
    if (!answered && i >= warmup) lost++;
    next += period_ns;
    if (now_ns() > next) { /* a late answer: skip the missed periods instead of bursting */
      skipped += (unsigned)((now_ns() - next) / period_ns + 1u);
      next += ((now_ns() - next) / period_ns + 1u) * period_ns;
    }
  }
  close(master);
  waitpid(child, NULL, 0);

  qsort(rtt, got, sizeof *rtt, compare_u64);
  for (i = 0; i < got; i++) mean += (double)rtt[i];
  if (got > 0) mean /= (double)got;
  printf("{\"bench\":\"c_echo_rtt\",\"transport\":\"pty\",\"rate_hz\":%g,\"joints\":%u,\"command_bytes\":%zu,"
         "\"state_bytes\":%zu,\"samples\":%u,\"lost\":%u,\"skipped_periods\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
         "\"mean_us\":%.1f}\n",
         rate, joints, command_bytes, state_size((uint8_t)joints), got, lost, skipped,
         got ? (double)rtt[got / 2] / 1000.0 : 0.0, got ? (double)rtt[(size_t)((double)got * 0.99)] / 1000.0 : 0.0,
         got ? (double)rtt[got - 1] / 1000.0 : 0.0, mean / 1000.0);
  free(rtt);
  return got > 0 ? 0 : 1;
}
