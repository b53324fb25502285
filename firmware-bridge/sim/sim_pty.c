/* sim_pty.c — pseudo-terminal handling for the simulator (see sim_pty.h).
 *
 * Linux pty facts this relies on (checked on a 6.x kernel):
 *   - until the slave is opened for the first time, the master shows nothing: no POLLHUP, writes are buffered
 *     and handed to the first host that opens it. So we open and close the slave once at start: from then on
 *     "no host" always reads as POLLHUP / EIO on the master.
 *   - after the host closes the slave, the master polls POLLHUP and read() fails with EIO until a host opens
 *     the slave again; termios settings set through the master persist.
 *   - bytes written to the master in the moment between the host's close and our noticing it wait in the
 *     slave's input for the next host: a host should flush its input after opening (any serial port may hold
 *     stale bytes; SBP frames resynchronize anyway). */
#define _XOPEN_SOURCE 700
#include "sim_pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

int sim_pty_open(sim_pty_t *pty) {
  const char *name;
  int slave, flags;
  memset(pty, 0, sizeof *pty);
  pty->master = posix_openpt(O_RDWR | O_NOCTTY);
  if (pty->master < 0) return -1;
  if (grantpt(pty->master) != 0 || unlockpt(pty->master) != 0 || (name = ptsname(pty->master)) == NULL) {
    return -1;
  }
  strncpy(pty->slave_path, name, sizeof pty->slave_path - 1u);
  flags = fcntl(pty->master, F_GETFL);
  if (flags < 0 || fcntl(pty->master, F_SETFL, flags | O_NONBLOCK) != 0) return -1;
  /* termios ioctls on the master act on the slave side: raw, so no echo of our frames back to us */
  if (make_raw(pty->master) != 0) return -1;
  slave = open(pty->slave_path, O_RDWR | O_NOCTTY);
  if (slave < 0) return -1;
  close(slave);
  pty->connected = false;
  return 0;
}

static bool host_present(const sim_pty_t *pty) {
  struct pollfd p;
  p.fd = pty->master;
  p.events = POLLIN;
  p.revents = 0;
  if (poll(&p, 1, 0) < 0) return pty->connected;
  return (p.revents & POLLHUP) == 0;
}

void sim_pty_discard(sim_pty_t *pty) {
  pty->queue_head = 0;
  pty->queue_len = 0;
}

int sim_pty_poll_connection(sim_pty_t *pty) {
  bool now = host_present(pty);
  if (now == pty->connected) return 0;
  pty->connected = now;
  if (now) {
    /* No input flush: a host that writes HELLO right after open() must not lose it, and nothing can have
     * been written to us while no host was there. */
    (void)make_raw(pty->master);
    sim_pty_discard(pty);
    return 1;
  }
  sim_pty_discard(pty);
  return -1;
}

size_t sim_pty_read(sim_pty_t *pty, uint8_t *buf, size_t cap) {
  ssize_t n;
  if (!pty->connected) return 0;
  n = read(pty->master, buf, cap);
  if (n > 0) return (size_t)n;
  /* EIO: the host hung up; sim_pty_poll_connection() reports it on the next call */
  return 0;
}

void sim_pty_flush(sim_pty_t *pty) {
  while (pty->connected && pty->queue_len > 0) {
    size_t run = SIM_PTY_QUEUE - pty->queue_head;
    ssize_t n;
    if (run > pty->queue_len) run = pty->queue_len;
    n = write(pty->master, pty->queue + pty->queue_head, run);
    if (n <= 0) return; /* EAGAIN: the host is behind; EIO: hung up */
    pty->queue_head = (pty->queue_head + (size_t)n) % SIM_PTY_QUEUE;
    pty->queue_len -= (size_t)n;
  }
}

void sim_pty_send(sim_pty_t *pty, const uint8_t *frame, size_t len) {
  size_t i;
  if (!pty->connected) return;
  if (SIM_PTY_QUEUE - pty->queue_len < len) {
    pty->frames_overflowed++;
    return;
  }
  for (i = 0; i < len; i++) {
    pty->queue[(pty->queue_head + pty->queue_len + i) % SIM_PTY_QUEUE] = frame[i];
  }
  pty->queue_len += len;
  pty->frames_queued++;
  sim_pty_flush(pty);
}
