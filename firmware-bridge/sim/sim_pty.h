/* sim_pty.h — the simulator's end of a pseudo-terminal: raw mode, host connect/disconnect detection, and a
 * transmit queue so a slow reader never gets half a frame. POSIX only. */
#ifndef SIM_PTY_H
#define SIM_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_PTY_QUEUE 65536u

typedef struct {
  int master;
  char slave_path[128];
  bool connected;          /* a host has the slave open */
  uint8_t queue[SIM_PTY_QUEUE];
  size_t queue_head, queue_len;
  uint64_t frames_queued;
  uint64_t frames_overflowed; /* dropped because the host does not read fast enough */
} sim_pty_t;

/* Open a pty pair, put it in raw mode and leave the slave for the host. 0 on success, -1 with errno. */
int sim_pty_open(sim_pty_t *pty);

/* Has a host opened or closed the slave since the last call? +1 connected, -1 disconnected, 0 no change. */
int sim_pty_poll_connection(sim_pty_t *pty);

/* Non-blocking read of what the host sent; 0 when nothing. A host hang-up is noticed here too. */
size_t sim_pty_read(sim_pty_t *pty, uint8_t *buf, size_t cap);

/* Queue one whole frame (or drop it whole when the queue is full) and write what the pty accepts. */
void sim_pty_send(sim_pty_t *pty, const uint8_t *frame, size_t len);
void sim_pty_flush(sim_pty_t *pty);

/* Forget queued output (after a reconnect: the new host wants fresh state, not old). */
void sim_pty_discard(sim_pty_t *pty);

#endif
