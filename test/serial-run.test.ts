// `striatum run` on the serial transport as a user runs it: a child process, a real ONNX joint-tracking policy,
// firmware-bridge's host simulator on a pty. The key check: kill -9 the controller mid-run and read, on the
// simulator's own clock (its JSON event log), that the firmware reached its safe state by its watchdog.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SbpSimulator } from '../src/transports/serial/sim-process.js';
import { ensureSimulator } from './helpers/sbp-sim.js';
import { startCli, tempDir, waitFor, writeConfig } from './helpers/fixtures.js';
import { linearPolicyModel } from './helpers/onnx-builder.js';

const JOINTS = ['shoulder', 'elbow', 'wrist'];
const TARGET = [0.6, -0.4, 1.0];
const WATCHDOG_MS = 50;
const SIM_RATE_HZ = 500;

before(() => { ensureSimulator(); });
const sims: SbpSimulator[] = [];
after(async () => { for (const s of sims) await s.stop(); });

/**
 * A joint-tracking policy as a real ONNX model: velocity = K·(target − position) − D·velocity, observation
 * [joint_positions, joint_velocities]. Written with its metadata into dir; returns the model path.
 */
function writeTrackingPolicy(dir: string): string {
  const n = JOINTS.length;
  const K = 4;
  const D = 0.1;
  const W = new Array<number>(2 * n * n).fill(0);
  for (let j = 0; j < n; j++) {
    W[j * n + j] = -K; // positions
    W[(n + j) * n + j] = -D; // velocities
  }
  const b = TARGET.map((t) => K * t);
  writeFileSync(join(dir, 'tracking.onnx'), linearPolicyModel(2 * n, n, 1, W, b));
  writeFileSync(join(dir, 'tracking.json'), JSON.stringify({
    format: 'striatum.policy/v1', name: 'joint-tracking-test', version: 'test-1', task: 'joint-tracking', model: 'tracking.onnx',
    inputs: [{ name: 'observation', shape: [-1, 2 * n], dtype: 'float32' }],
    outputs: [{ name: 'action', shape: [-1, 1, n], dtype: 'float32' }],
    observation: { fields: [{ name: 'joint_positions', size: n }, { name: 'joint_velocities', size: n }] },
    action: { mode: 'velocity', joints: JOINTS, chunk: 1 },
  }, null, 2));
  return join(dir, 'tracking.onnx');
}

function serialConfig(modelPath: string, path: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    robot: { id: 'serial-test', task: 'joint-tracking' },
    joints: JOINTS.map((name) => ({ name, position: { min: -2, max: 2 }, velocity: 2, effort: 10, acceleration: 20 })),
    control: { rate_hz: 100, realtime: true, link_timeout_ms: 300 },
    observation: { fields: ['joint_positions', 'joint_velocities'], normalization: 'model' },
    action: { mode: 'velocity', chunk: 1 },
    policy: { model: modelPath, warmup_runs: 2 },
    transport: { kind: 'serial', path, watchdog_ms: WATCHDOG_MS, time_limit_s: 30, ...extra },
    mqtt: { broker: 'embedded', host: '127.0.0.1', port: 0, ws_port: null, telemetry_hz: 5 },
  };
}

async function startSim(): Promise<SbpSimulator> {
  // Not tied to this process: the test kills the controller, and the simulator must outlive it.
  const sim = await SbpSimulator.start({ args: ['--joints', '3', '--limits', '-2:2:2:10', '--rate', String(SIM_RATE_HZ)], dieWithParent: false });
  sims.push(sim);
  return sim;
}

test('kill -9 of striatum run mid-motion: the firmware is safe within its watchdog, on its own clock', async (ctx) => {
  const dir = tempDir();
  const sim = await startSim();
  const run = startCli(['run', '--config', writeConfig(dir, serialConfig(writeTrackingPolicy(dir), sim.ptyPath))]);
  try {
    await sim.waitFor((e) => e.event === 'armed', 20_000, 'the controller to arm the firmware');
    await waitFor('device armed in the controller log', () => run.logs().find((l) => l.msg === 'device armed'));
    await new Promise((r) => setTimeout(r, 300)); // tracking, commands at 100 Hz
    // A host stall on a busy machine can trip the watchdog during the run; the controller then re-arms. Kill it
    // while the device is armed.
    const lastOf = () => [...sim.events].reverse().find((e) => e.event === 'armed' || e.event === 'safe_state');
    const armed = await waitFor('the device armed', () => { const e = lastOf(); return e?.event === 'armed' && e; });
    const tripsBefore = sim.events.filter((e) => e.event === 'safe_state').length;

    run.child.kill('SIGKILL');
    await run.exited;
    const safe = await sim.waitFor((e) => e.event === 'safe_state' && e.mcu_us > armed.mcu_us, 5000, 'safe state after the kill');
    const sinceUs = safe.since_last_command_us as number;
    ctx.diagnostic(`watchdog ${WATCHDOG_MS} ms; simulator entered its safe state ${sinceUs} us after the last command (its clock), reason ${String(safe.reason)}; watchdog trips during the run before the kill: ${tripsBefore}`);
    assert.equal(safe.reason, 'watchdog');
    // The trip is never early, and comes at the first control tick after the timeout; the allowance covers
    // one tick plus scheduling delay of the simulator's own loop on a loaded machine.
    assert.ok(sinceUs >= WATCHDOG_MS * 1000, `not before the timeout: ${sinceUs} us`);
    assert.ok(sinceUs <= WATCHDOG_MS * 1000 + 1e6 / SIM_RATE_HZ + 50_000, `within the timeout and one tick (plus 50 ms scheduling allowance): ${sinceUs} us`);
    assert.equal(sim.events.filter((e) => e.event === 'estop').length, 0, 'no ESTOP could be sent: the watchdog alone did it');
    await sim.waitFor((e) => e.event === 'disconnected', 2000, 'the host side of the pty to close');
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('SIGINT stops cleanly: last safe command, the watchdog takes the device safe, no e-stop latched', async (ctx) => {
  const dir = tempDir();
  const sim = await startSim();
  const run = startCli(['run', '--config', writeConfig(dir, serialConfig(writeTrackingPolicy(dir), sim.ptyPath))]);
  try {
    await sim.waitFor((e) => e.event === 'armed', 20_000, 'the controller to arm the firmware');
    const ready = run.logs().find((l) => l.msg === 'serial link ready');
    assert.ok(ready);
    assert.equal(ready.watchdog_ms, WATCHDOG_MS);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    const msgs = run.logs().map((l) => l.msg);
    const stopped = msgs.indexOf('control loop stopped');
    const safe = msgs.indexOf('device in its safe state');
    assert.ok(stopped >= 0 && safe > stopped, `loop stopped, then the device confirmed safe: ${JSON.stringify(msgs.slice(stopped))}`);
    const event = await sim.waitFor((e) => e.event === 'safe_state', 2000);
    assert.equal(event.reason, 'watchdog');
    assert.equal(sim.events.filter((e) => e.event === 'estop').length, 0);
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('path auto-sim: the controller starts the simulator itself and stops it on exit', async (ctx) => {
  const dir = tempDir();
  const cfg = serialConfig(writeTrackingPolicy(dir), 'auto-sim', { simulator_args: ['--noise', '0.0001'] });
  const run = startCli(['run', '--config', writeConfig(dir, cfg), '--duration', '1.5']);
  try {
    assert.equal(await run.exited, 0, JSON.stringify(run.logs().filter((l) => l.level !== 'debug').slice(-5)));
    const msgs = run.logs().map((l) => l.msg);
    for (const m of ['host simulator started', 'serial link ready', 'device armed', 'device in its safe state', 'host simulator stopped']) {
      assert.ok(msgs.includes(m), `${m} in ${JSON.stringify(msgs)}`);
    }
    const started = run.logs().find((l) => l.msg === 'host simulator started') as Record<string, any>;
    assert.match(started.pty, /^\/dev\/pts\/\d+$/);
    // The simulator is gone with the controller.
    assert.throws(() => process.kill(started.pid, 0));
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('path auto-sim: a simulator started by a controller that is killed -9 does not outlive it', async (ctx) => {
  const dir = tempDir();
  const run = startCli(['run', '--config', writeConfig(dir, serialConfig(writeTrackingPolicy(dir), 'auto-sim'))]);
  try {
    await waitFor('device armed', () => run.logs().find((l) => l.msg === 'device armed'), 20_000);
    const started = run.logs().find((l) => l.msg === 'host simulator started') as Record<string, any>;
    // The simulator runs under a small guard shell (the logged pid); find the simulator itself among its children.
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(started.pid)]).toString().trim().split(/\s+/).map(Number).filter((p) => p > 0);
    assert.ok(children.length > 0, 'the simulator runs');
    run.child.kill('SIGKILL');
    await run.exited;
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    await waitFor('the simulator to exit', () => ![started.pid, ...children].some(alive), 5000);
  } finally {
    run.child.kill('SIGKILL');
  }
});
