// Run in a child process with UV_THREADPOOL_SIZE=1 by serial-threadpool.test.ts: a SerialTransport on the host
// simulator keeps its command → state stream while the only libuv thread-pool worker is blocked (an fs.read on
// a FIFO nobody writes, as a slow disk, DNS lookup or compression job would hold it). Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, read, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { SerialTransport } from '../../src/transports/serial/serial-transport.js';
import type { JointCommand, JointState } from '../../src/transports/types.js';

export async function busyPoolRun(): Promise<void> {
  const t = new SerialTransport({
    path: 'auto-sim', baud: 1_000_000, jointNames: ['a', 'b', 'c'], controlHz: 200, handshakeTimeoutMs: 3000, linkTimeoutMs: 500,
    watchdogMs: 100, safeMode: 'hold', reconnectInitialMs: 50, reconnectMaxMs: 400, logger: silentLogger,
    simulatorArgs: ['--joints', '3', '--rate', '200'],
  });
  await t.open();
  const dir = mkdtempSync(join(tmpdir(), 'striatum-busy-pool-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, 'r+'); // O_RDWR: opening does not wait for a writer
  const released = new Promise<void>((resolve) => read(fd, Buffer.alloc(1), 0, 1, null, () => resolve()));
  const state: JointState = { stampMs: 0, positions: new Float64Array(3), velocities: new Float64Array(3), efforts: new Float64Array(3), extras: {} };
  const command: JointCommand = { mode: 'position', targets: new Float64Array(3) };
  const framesBefore = t.stats().framesIn;
  const timedBefore = t.rtt.histogram.count;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 5));
    t.readState(state);
    t.writeCommand(command);
  }
  const statesWhileBlocked = t.stats().framesIn - framesBefore;
  const commandsAnsweredWhileBlocked = t.rtt.histogram.count - timedBefore;
  writeSync(fd, 'x'); // let the worker go
  await released;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  await t.close();
  process.stdout.write(`${JSON.stringify({ statesWhileBlocked, commandsAnsweredWhileBlocked })}\n`);
}
