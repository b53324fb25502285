// SerialTransport against firmware-bridge's host simulator (sbp_sim: the C sbp_node on a real pty): handshake,
// state, commands applied, schema and joint-count refusals, e-stop and arm, link loss, reconnect, safe close.
// The simulator is built with cmake when it is missing; without cmake and a C compiler these tests fail, naming
// the Debian packages to install.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isStriatumError } from '../src/errors.js';
import { createLogger, type Logger } from '../src/log.js';
import { SerialTransport, type SerialTransportOptions } from '../src/transports/serial/serial-transport.js';
import { SbpSimulator, type SbpSimEvent } from '../src/transports/serial/sim-process.js';
import { SBP_FLAG_ARMED, SBP_FLAG_ESTOPPED, SBP_FLAG_SAFE_DISABLED } from '../src/transports/serial/protocol.js';
import type { JointCommand, JointState } from '../src/transports/types.js';
import { serialTestResources } from './helpers/sbp-sim.js';

const { sims, transports } = serialTestResources();

function transport(o: SerialTransportOptions): SerialTransport {
  const t = new SerialTransport(o);
  transports.push(t);
  return t;
}

/** Captures log lines so tests can assert on what an operator would read. */
function captureLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({ level: 'debug', sink: { pretty: false, write: (l) => { lines.push(JSON.parse(l)); } } });
  return { logger, lines };
}

async function startSim(args: string[] = []): Promise<SbpSimulator> {
  const sim = await SbpSimulator.start({ args: ['--joints', '3', '--limits', '-2:2:3:10', ...args] });
  sims.push(sim);
  return sim;
}

function options(path: string, logger: Logger, overrides: Partial<SerialTransportOptions> = {}): SerialTransportOptions {
  return {
    path, baud: 1_000_000, jointNames: ['shoulder', 'elbow', 'wrist'], controlHz: 200, handshakeTimeoutMs: 2000, linkTimeoutMs: 200,
    watchdogMs: 50, safeMode: 'hold', reconnectInitialMs: 50, reconnectMaxMs: 400, logger, ...overrides,
  };
}

function jointState(n = 3): JointState {
  return { stampMs: 0, positions: new Float64Array(n), velocities: new Float64Array(n), efforts: new Float64Array(n), extras: {} };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a 200 Hz loop of read + write until `done` or the step budget runs out; returns whether done. */
async function drive(t: SerialTransport, command: JointCommand, state: JointState, done: () => boolean, steps = 1000): Promise<boolean> {
  for (let i = 0; i < steps; i++) {
    t.readState(state);
    t.writeCommand(command);
    if (done()) return true;
    await sleep(5);
  }
  return done();
}

test('handshake, firmware limits, state flow, commands move the simulated joints, clean close', async (ctx) => {
  const sim = await startSim();
  const { logger, lines } = captureLogger();
  const t = transport(options(sim.ptyPath, logger));
  const robot = await t.open();
  assert.deepEqual([...robot.jointNames], ['shoulder', 'elbow', 'wrist']);
  assert.equal(robot.identity, `serial:${sim.ptyPath} striatum-sim 1.0`);
  assert.deepEqual({ ...robot.extraFields }, {});
  assert.equal(t.jointLimits.length, 3);
  assert.deepEqual({ ...t.jointLimits[1] }, { positionMin: -2, positionMax: 2, velocityMax: 3, effortMax: 10 });
  assert.equal(t.firmwareId, 'striatum-sim 1.0');
  // The watchdog and healthy-stream gap were configured at the handshake.
  const params = sim.events.filter((e) => e.event === 'param_set');
  assert.deepEqual(params.map((e) => [e.id, e.value, e.result]), [[1, 50, 0], [3, 10, 0], [4, 0, 0]]);

  const state = jointState();
  assert.equal(t.readState(state), true, 'open() waited for the first STATE');
  const target = Float64Array.of(0.5, -0.75, 1.25);
  const command: JointCommand = { mode: 'position', targets: target };
  const reached = await drive(t, command, state, () => state.positions.every((p, i) => Math.abs(p - target[i]) < 0.01));
  assert.ok(reached, `joints reached the targets: ${[...state.positions]}`);
  assert.ok((t.flags & SBP_FLAG_ARMED) !== 0, 'armed after a healthy stream');
  await sim.waitFor((e) => e.event === 'armed', 1000);
  assert.ok(state.stampMs > 0 && state.stampMs <= performance.now());

  // Velocity mode drives the other way.
  const moving = await drive(t, { mode: 'velocity', targets: Float64Array.of(-1, 0, 0) }, state, () => state.positions[0] < 0);
  assert.ok(moving, 'velocity command moved joint 0 below 0');
  assert.ok(t.readState(state) || true);

  const s = t.stats();
  assert.equal(s.linkUp, true);
  assert.ok(s.framesIn > 100 && s.framesOut > 100);
  assert.equal(s.crcErrors, 0);
  assert.equal(s.droppedFrames, 0, JSON.stringify(lines.filter((l) => l.level === 'debug' && /dropped|failed/.test(l.msg))));
  assert.ok(s.rttP50Us > 0 && s.rttP99Us >= s.rttP50Us, `rtt p50 ${s.rttP50Us} p99 ${s.rttP99Us}`);
  assert.equal(t.stats(), s, 'the same counters object every call');

  await t.close();
  // No ESTOP on close: the device goes safe by its watchdog, after one last zero-velocity command.
  const safe = await sim.waitFor((e) => e.event === 'safe_state', 2000, 'safe state after close');
  assert.equal(safe.reason, 'watchdog');
  assert.equal(sim.events.filter((e) => e.event === 'estop').length, 0);
  assert.ok(lines.some((l) => l.msg === 'device in its safe state'));
  assert.equal(t.stats().linkUp, false);
  assert.equal(t.readState(state), false);
});

test('schema-hash mismatch: open refuses with both hashes, nothing is actuated', async (ctx) => {
  const sim = await startSim(['--schema-hash', 'DEADBEEF']);
  const { logger } = captureLogger();
  const t = transport(options(sim.ptyPath, logger));
  await assert.rejects(t.open(), (e) => isStriatumError(e, 'STRIATUM_ERR_SERIAL_SCHEMA') && /0xDEADBEEF/.test(e.message) && /0x9AD5EF69/.test(e.message));
  const state = jointState();
  t.writeCommand({ mode: 'position', targets: Float64Array.of(1, 1, 1) });
  assert.equal(t.readState(state), false);
  await sleep(100);
  await sim.stop();
  const exit = sim.events.find((e) => e.event === 'exit') as SbpSimEvent;
  assert.equal(exit.commands_accepted, 0);
  assert.equal(sim.events.filter((e) => e.event === 'armed').length, 0);
  assert.deepEqual(sim.events.filter((e) => e.event === 'hello').map((e) => e.match), [false]);
});

test('joint count differing from the config is refused at open', async (ctx) => {
  const sim = await startSim();
  const { logger } = captureLogger();
  const t = transport(options(sim.ptyPath, logger, { jointNames: ['a', 'b'] }));
  await assert.rejects(t.open(), (e) => isStriatumError(e, 'STRIATUM_ERR_CONFIG') && /reports 3 joints, the config has 2/.test(e.message));
});

test('a missing device and a silent one fail open with transport errors', async (ctx) => {
  const { logger } = captureLogger();
  await assert.rejects(transport(options('/dev/does-not-exist', logger)).open(), (e) => isStriatumError(e, 'STRIATUM_ERR_TRANSPORT'));
  // A pty whose other end never answers: the handshake times out.
  const sim = await startSim(['--disconnect-after-s', '0.001', '--disconnect-for-s', '0']);
  await sleep(20);
  await assert.rejects(transport(options(sim.ptyPath, logger, { handshakeTimeoutMs: 300 })).open(), (e) => isStriatumError(e, 'STRIATUM_ERR_TRANSPORT') && /HELLO_ACK/.test(e.message));
});

test('estop latches on both ends, commands stop; arm resumes after a healthy stream', async (ctx) => {
  const sim = await startSim();
  const { logger } = captureLogger();
  const t = transport(options(sim.ptyPath, logger));
  await t.open();
  const state = jointState();
  const hold: JointCommand = { mode: 'position', targets: Float64Array.of(0, 0, 0) };
  assert.ok(await drive(t, hold, state, () => (t.flags & SBP_FLAG_ARMED) !== 0), 'armed');

  const out = t.stats().framesOut;
  t.estop('test');
  assert.equal(t.isEstopped, true);
  assert.equal(t.stats().framesOut, out + 3, 'ESTOP goes out three times at once');
  assert.ok(await drive(t, hold, state, () => (t.flags & SBP_FLAG_ESTOPPED) !== 0, 200), 'device reports ESTOPPED');
  await sim.waitFor((e) => e.event === 'estop', 1000);
  assert.equal((t.flags & SBP_FLAG_ARMED), 0);
  // While latched no COMMAND leaves the host: the device's last accepted seq stands still.
  const acked = t.deviceLastCommandSeq;
  await drive(t, hold, state, () => false, 30);
  assert.equal(t.deviceLastCommandSeq, acked);

  const armed = t.arm();
  assert.ok(await drive(t, hold, state, () => (t.flags & SBP_FLAG_ARMED) !== 0), 're-armed');
  await armed;
  assert.equal(t.flags & SBP_FLAG_ESTOPPED, 0, 'ARM cleared the latch');
  const estopAt = sim.events.findIndex((e) => e.event === 'estop');
  assert.ok(sim.events.slice(estopAt).some((e) => e.event === 'armed'), 'the device armed again after the e-stop');
  await t.close();
});

test('a watchdog trip during a session is counted and the device is re-armed once the stream is healthy again', async (ctx) => {
  const sim = await startSim();
  const { logger, lines } = captureLogger();
  const t = transport(options(sim.ptyPath, logger));
  await t.open();
  const state = jointState();
  const hold: JointCommand = { mode: 'velocity', targets: Float64Array.of(0, 0, 0) };
  assert.ok(await drive(t, hold, state, () => (t.flags & SBP_FLAG_ARMED) !== 0));
  await sleep(200); // the host stalls: no commands for 4 watchdog periods
  await sim.waitFor((e) => e.event === 'safe_state' && e.reason === 'watchdog', 1000);
  assert.ok(await drive(t, hold, state, () => t.stats().watchdogTrips === 1 && (t.flags & SBP_FLAG_ARMED) !== 0), 're-armed after the trip');
  assert.equal(t.stats().watchdogTrips, 1);
  assert.ok(lines.some((l) => l.msg === 'device watchdog tripped: commands stopped for longer than watchdog_ms'));
  await t.close();
});

test('safe_mode disable is configured at the handshake', async (ctx) => {
  const sim = await startSim();
  const { logger } = captureLogger();
  const t = transport(options(sim.ptyPath, logger, { safeMode: 'disable' }));
  await t.open();
  assert.ok((t.flags & SBP_FLAG_SAFE_DISABLED) !== 0);
  await t.close();
});

test('link loss: the simulator is killed; linkUp drops, reads go stale, writes never throw; it reconnects when the device returns', async (ctx) => {
  // The device path is a symlink, as udev's /dev/serial/by-id names are: the replugged device gets a new pty.
  const dir = mkdtempSync(join(tmpdir(), 'striatum-serial-'));
  const link = join(dir, 'robot-tty');
  const first = await startSim();
  symlinkSync(first.ptyPath, link);
  const { logger, lines } = captureLogger();
  const t = transport(options(link, logger));
  try {
    await t.open();
    const state = jointState();
    const hold: JointCommand = { mode: 'velocity', targets: Float64Array.of(0, 0, 0) };
    assert.ok(await drive(t, hold, state, () => (t.flags & SBP_FLAG_ARMED) !== 0));

    first.child.kill('SIGKILL');
    await first.exited;
    await sleep(250);
    assert.equal(t.stats().linkUp, false);
    t.readState(state);
    assert.equal(t.readState(state), false, 'no fresh state without a link');
    // Dropped and counted (refused while the link is down, or failed in the write), never thrown.
    assert.ok(await drive(t, hold, state, () => t.stats().droppedFrames > 0, 200));
    assert.ok(lines.some((l) => l.msg === 'serial link lost'));
    assert.equal(t.flags, 0, 'nothing is known of a device that is gone');

    const second = await startSim();
    rmSync(link);
    symlinkSync(second.ptyPath, link);
    const back = await drive(t, hold, state, () => t.stats().reconnects === 1 && (t.flags & SBP_FLAG_ARMED) !== 0, 1000);
    assert.ok(back, 'reconnected, handshake redone and re-armed');
    assert.equal(t.stats().linkUp, true);
    assert.ok(second.events.some((e) => e.event === 'hello' && e.match === true));
    await t.close();
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
