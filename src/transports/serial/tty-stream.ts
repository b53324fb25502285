// The byte path to a serial device that is a tty (a USB/UART device node or a pty): a second descriptor of the
// same device in a libuv tty stream, so reads and writes run on the event loop. serialport reads through the
// libuv thread pool (poll for readable, then fs.read on a worker, then back to the loop, and once more until
// EAGAIN) and writes the same way; on a busy machine every hop is a thread wake-up that shows in the round trip.
// serialport still opens, locks (flock on its own descriptor) and configures the device: termios settings belong
// to the tty, not to a descriptor, so this one reads and writes the same raw line.
import { closeSync, constants, openSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';

export interface TtyStream {
  /** Duplex: 'data' per read, write() tries the write at once on the loop and queues only what the tty refuses. */
  readonly stream: ReadStream;
  /** Stop reading and release both descriptors. */
  close(): void;
}

/** A tty stream on `path`, or null when it is not a tty or libuv cannot take it (serialport then does the I/O). */
export function openTtyStream(path: string): TtyStream | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  let stream: ReadStream;
  try {
    if (!isatty(fd)) throw new Error('not a tty');
    stream = new ReadStream(fd);
  } catch {
    closeSync(fd);
    return null;
  }
  // libuv opens the tty once more for a descriptor of its own (so non-blocking mode touches no one else) and
  // points ours at it; the stream closes its descriptor, ours is closed here. Same number: the stream owns it.
  const handleFd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const extraFd = handleFd !== undefined && handleFd !== fd ? fd : -1;
  return {
    stream,
    close(): void {
      stream.removeAllListeners();
      stream.on('error', () => undefined); // late errors of a dropped stream must not crash the process
      stream.destroy();
      if (extraFd >= 0) {
        try { closeSync(extraFd); } catch { /* already gone */ }
      }
    },
  };
}
