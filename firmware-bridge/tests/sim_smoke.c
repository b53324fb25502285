/* sim_smoke.c — the host simulator over a real pseudo-terminal, driven like a host would: handshake, a command
 * stream, ARM, silence until the watchdog trips, e-stop, hang-up and reconnect. The simulator runs on a stepped
 * clock (--step-clock-us 1000: one millisecond per frame received), so the healthy-stream and watchdog rules see
 * frame counts, never how this machine scheduled the two processes; the waits below only bound a hang.
 * Then --reply echo: with the simulator's own tick at 1 Hz, every COMMAND still gets its STATE at once.
 * Usage: sim_smoke PATH_TO_SBP_SIM */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sbp.h"

#define FAIL(...)                                      \
  do {                                                 \
    fprintf(stderr, "sim_smoke: FAIL line %d: ", __LINE__); \
    fprintf(stderr, __VA_ARGS__);                      \
    fprintf(stderr, "\n");                             \
    cleanup();                                         \
    exit(1);                                           \
  } while (0)

static pid_t sim_pid = -1;
static int events_fd = -1;
static int port = -1;
static char lines[1 << 16];
static size_t lines_len;
static sbp_decoder_t dec;
static uint16_t seq;
static uint8_t rx[512]; /* bytes read from the port and not yet decoded */
static size_t rx_at, rx_len;

static void cleanup(void) {
  if (sim_pid > 0) {
    kill(sim_pid, SIGTERM);
    waitpid(sim_pid, NULL, 0);
    sim_pid = -1;
  }
}

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

/* ---- simulator stdout ------------------------------------------------------------------------------------- */

static void pump_events(int timeout_ms) {
  struct pollfd p;
  ssize_t n;
  p.fd = events_fd;
  p.events = POLLIN;
  if (poll(&p, 1, timeout_ms) <= 0) return;
  n = read(events_fd, lines + lines_len, sizeof lines - 1 - lines_len);
  if (n > 0) lines_len += (size_t)n;
  lines[lines_len] = '\0';
}

/* Wait for a line containing needle; copy it out and drop everything up to it. */
static void expect_event(const char *needle, char *line, size_t cap) {
  int waited;
  for (waited = 0; waited < 5000; waited += 10) {
    char *hit = strstr(lines, needle), *start, *end;
    if (hit != NULL && (end = strchr(hit, '\n')) != NULL) {
      start = hit;
      while (start > lines && start[-1] != '\n') start--;
      if (line != NULL) {
        size_t len = (size_t)(end - start) < cap - 1 ? (size_t)(end - start) : cap - 1;
        memcpy(line, start, len);
        line[len] = '\0';
      }
      lines_len -= (size_t)(end + 1 - lines);
      memmove(lines, end + 1, lines_len + 1);
      return;
    }
    pump_events(10);
  }
  FAIL("no event containing %s; have: %s", needle, lines);
}

static unsigned long long field(const char *line, const char *key) {
  const char *at = strstr(line, key);
  if (at == NULL) FAIL("no %s in %s", key, line);
  return strtoull(at + strlen(key), NULL, 10);
}

/* ---- the serial port -------------------------------------------------------------------------------------- */

static void open_port(const char *path) {
  struct termios t;
  port = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (port < 0) FAIL("open %s: %s", path, strerror(errno));
  if (tcgetattr(port, &t) != 0) FAIL("tcgetattr");
  t.c_iflag = 0;
  t.c_oflag = 0;
  t.c_lflag = 0;
  t.c_cflag |= CS8 | CREAD | CLOCAL;
  tcsetattr(port, TCSANOW, &t);
  tcflush(port, TCIOFLUSH);
  sbp_decoder_init(&dec);
  rx_at = rx_len = 0;
}

static void send_msg(sbp_message_t *m) {
  uint8_t wire[SBP_MAX_FRAME];
  size_t len = 0;
  m->seq = seq++;
  if (!sbp_encode(m, wire, sizeof wire, &len, NULL)) FAIL("encode");
  if (write(port, wire, len) != (ssize_t)len) FAIL("write: %s", strerror(errno));
}

static void send_simple(uint8_t type) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = type;
  send_msg(&m);
}

static void send_hello(void) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = SBP_HELLO;
  m.as.hello.protocol_version = SBP_PROTOCOL_VERSION;
  m.as.hello.schema_hash = SBP_SCHEMA_HASH;
  send_msg(&m);
}

static void send_command(uint8_t joints) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = SBP_COMMAND;
  m.as.command.mode = SBP_MODE_POSITION;
  m.as.command.joint_count = joints;
  m.as.command.targets[0] = 0.5f;
  send_msg(&m);
}

/* Read frames until one of type arrives (and, for FAULT, has the code); returns it in *out. Bytes after that
 * frame stay in rx for the next call: under the stepped clock a STATE comes once per frame sent, not again. */
static void expect_frame(uint8_t type, uint16_t fault_code, sbp_message_t *out) {
  int waited;
  for (waited = 0; waited < 3000; waited++) {
    ssize_t n;
    while (rx_at < rx_len) {
      sbp_frame_t f;
      if (sbp_decoder_feed(&dec, rx[rx_at++], &f) == SBP_RX_FRAME && sbp_decode(&f, out, NULL) &&
          out->type == type && (type != SBP_FAULT || out->as.fault.code == fault_code)) {
        return;
      }
    }
    n = read(port, rx, sizeof rx);
    rx_at = 0;
    rx_len = n > 0 ? (size_t)n : 0;
    if (n <= 0) sleep_ms(1);
  }
  FAIL("no %s frame (fault code %u)", sbp_type_name(type), fault_code);
}

/* Start the simulator with these arguments (NULL-terminated); its stdout comes to events_fd. */
static void start_sim(const char *binary, ...) {
  const char *args[32];
  int out_pipe[2], n = 0;
  va_list ap;
  args[n++] = binary;
  va_start(ap, binary);
  while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL) n++;
  va_end(ap);
  args[n] = NULL;
  lines_len = 0;
  lines[0] = '\0';
  if (pipe(out_pipe) != 0) FAIL("pipe");
  sim_pid = fork();
  if (sim_pid == 0) {
    dup2(out_pipe[1], 1);
    close(out_pipe[0]);
    execv(binary, (char *const *)args);
    _exit(127);
  }
  close(out_pipe[1]);
  events_fd = out_pipe[0];
}

static void stop_sim(char *line, size_t cap) {
  kill(sim_pid, SIGTERM);
  expect_event("\"event\":\"exit\"", line, cap);
  waitpid(sim_pid, NULL, 0);
  sim_pid = -1;
  close(events_fd);
}

/* --reply echo: the tick runs when a COMMAND arrives. With the simulator's own tick at 1 Hz (it notices the host
 * at its tick at mcu_us 1e6), ten commands, each sent when the last one's STATE came back, are all answered
 * before its next tick at 2e6; answered at the tick, they would take ten seconds. */
static void echo_mode(const char *binary) {
  char line[1024], path[256];
  sbp_message_t m;
  int i;
  start_sim(binary, "--joints", "3", "--rate", "1", "--reply", "echo", (char *)NULL);
  expect_event("PTY ", line, sizeof line);
  if (sscanf(line, "PTY %255s", path) != 1) FAIL("first line: %s", line);
  expect_event("\"reply\":\"echo\"", NULL, 0);
  open_port(path);
  expect_event("\"event\":\"connected\"", NULL, 0);
  send_hello();
  expect_frame(SBP_HELLO_ACK, 0, &m);
  for (i = 0; i < 10; i++) {
    uint16_t sent = seq;
    send_command(3);
    do {
      expect_frame(SBP_STATE, 0, &m);
    } while (m.as.state.last_command_seq != sent);
    if (m.as.state.mcu_time_us >= 2000000u) FAIL("command %d answered at the tick, mcu_us %llu", i,
                                                 (unsigned long long)m.as.state.mcu_time_us);
  }
  close(port);
  stop_sim(line, sizeof line);
  if (field(line, "\"commands_accepted\":") != 10u) FAIL("echo: %s", line);
}

int main(int argc, char **argv) {
  char line[1024], path[256];
  sbp_message_t m;
  int i;
  if (argc < 2) {
    fprintf(stderr, "usage: sim_smoke PATH_TO_SBP_SIM\n");
    return 2;
  }
  start_sim(argv[1], "--joints", "3", "--step-clock-us", "1000", "--watchdog-ms", "20", "--healthy-gap-ms", "10",
            "--healthy-count", "10", (char *)NULL);

  /* the first line names the pty */
  expect_event("PTY ", line, sizeof line);
  if (sscanf(line, "PTY %255s", path) != 1 || strncmp(line, "PTY /dev/", 9) != 0) FAIL("first line: %s", line);
  expect_event("\"event\":\"start\"", NULL, 0);
  open_port(path);
  expect_event("\"event\":\"connected\"", NULL, 0);

  /* handshake */
  send_hello();
  expect_frame(SBP_HELLO_ACK, 0, &m);
  if (m.as.hello_ack.joint_count != 3 || m.as.hello_ack.schema_hash != SBP_SCHEMA_HASH) FAIL("HELLO_ACK fields");
  expect_event("\"event\":\"hello\"", line, sizeof line);
  if (strstr(line, "\"match\":true") == NULL) FAIL("hello: %s", line);

  /* ARM too early is refused */
  send_simple(SBP_ARM);
  expect_frame(SBP_FAULT, SBP_FAULT_ARM_REFUSED, &m);

  /* a healthy stream (commands 1 ms apart on the simulator's clock), then ARM */
  for (i = 0; i < 15; i++) send_command(3);
  send_simple(SBP_ARM);
  expect_event("\"event\":\"armed\"", NULL, 0);
  for (i = 0; i < 5; i++) send_command(3);
  do {
    expect_frame(SBP_STATE, 0, &m);
  } while ((m.as.state.flags & SBP_FLAG_ARMED) == 0);

  /* no commands, only heartbeats (1 ms each): the watchdog trips at the first tick at its timeout, not before */
  for (i = 0; i < 30; i++) send_simple(SBP_HEARTBEAT);
  expect_event("\"event\":\"safe_state\",\"reason\":\"watchdog\"", line, sizeof line);
  if (field(line, "\"since_last_command_us\":") != 20000u) FAIL("watchdog not at its timeout: %s", line);
  expect_frame(SBP_FAULT, SBP_FAULT_WATCHDOG, &m);
  do {
    expect_frame(SBP_STATE, 0, &m);
  } while ((m.as.state.flags & SBP_FLAG_WATCHDOG_SAFE) == 0);
  if (m.as.state.flags & SBP_FLAG_ARMED) FAIL("still armed after watchdog");

  /* e-stop latches */
  send_simple(SBP_ESTOP);
  expect_event("\"event\":\"estop\"", NULL, 0);
  expect_frame(SBP_FAULT, SBP_FAULT_ESTOP, &m);

  /* the host hangs up and comes back: the simulator keeps running and takes the new session */
  close(port);
  expect_event("\"event\":\"disconnected\"", NULL, 0);
  sleep_ms(20);
  open_port(path);
  expect_event("\"event\":\"connected\"", NULL, 0);
  send_hello();
  expect_frame(SBP_HELLO_ACK, 0, &m);
  do {
    expect_frame(SBP_STATE, 0, &m);
  } while ((m.as.state.flags & SBP_FLAG_HANDSHAKE_OK) == 0);
  if ((m.as.state.flags & SBP_FLAG_ESTOPPED) == 0) FAIL("e-stop latch lost across reconnect");

  stop_sim(line, sizeof line);
  printf("sim_smoke: ok (%s)\n", line);
  echo_mode(argv[1]);
  printf("sim_smoke: echo ok\n");
  return 0;
}
