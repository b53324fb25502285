// SimTransport through the RobotTransport interface: state, commands, estop latch, episodes, cameras.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStriatumError } from '../src/errors.js';
import { SimTransport, type SimTransportOptions } from '../src/transports/sim/sim-transport.js';
import {
  TRANSPORT_EPISODE_RUNNING,
  TRANSPORT_EPISODE_SUCCESS,
  TRANSPORT_EPISODE_TIMEOUT,
  type JointCommand,
  type JointState,
} from '../src/transports/types.js';

function options(overrides: Partial<SimTransportOptions> = {}): SimTransportOptions {
  return {
    seed: 21,
    controlHz: 50,
    timeLimitS: 15,
    cameras: [
      { name: 'top', width: 96, height: 96, hz: 10 },
      { name: 'wrist', width: 96, height: 96, hz: 10 },
    ],
    mode: 'velocity',
    ...overrides,
  };
}

function jointState(): JointState {
  return {
    stampMs: 0,
    positions: new Float64Array(2),
    velocities: new Float64Array(2),
    efforts: new Float64Array(2),
    extras: { block_position: new Float64Array(2), pad_position: new Float64Array(2), block_velocity: new Float64Array(2) },
  };
}

function velocityCommand(vx: number, vy: number): JointCommand {
  return { mode: 'velocity', targets: Float64Array.of(vx, vy) };
}

test('open describes the robot; readState fills joints and extras and reports freshness', async () => {
  const sim = new SimTransport(options());
  const description = await sim.open();
  assert.deepEqual([...description.jointNames], ['x', 'y']);
  assert.deepEqual({ ...description.extraFields }, { block_position: 2, pad_position: 2, block_velocity: 2 });
  assert.deepEqual(description.cameras.map((c) => c.name), ['top', 'wrist']);
  assert.match(description.identity, /^sim:push rapier2d /);
  assert.equal(sim.jointLimits.length, 2);
  assert.equal(sim.jointLimits[0].velocityMax, 0.25);

  const state = jointState();
  assert.equal(sim.readState(state), true);
  assert.equal(sim.readState(state), false, 'no step since the last read');
  const world = sim.world;
  const b = 2 * world.instructedBlock;
  const p = 2 * world.instructedPad;
  assert.deepEqual([...state.positions], [...world.pusherPosition]);
  assert.deepEqual([...state.extras.block_position], [world.blockPositions[b], world.blockPositions[b + 1]]);
  assert.deepEqual([...state.extras.pad_position], [world.padPositions[p], world.padPositions[p + 1]]);
  sim.stepSimulation(0.02);
  assert.equal(sim.readState(state), true);
  assert.match(sim.episodes!.instruction(), /^push the (red|blue) block onto the (green|yellow) pad$/);
  assert.equal(sim.stats().linkUp, true);
  assert.equal(sim.stats().framesIn, 3);
  await sim.close();
  assert.equal(sim.stats().linkUp, false);
  assert.equal(sim.readState(state), false);
});

test('estop latches zero velocity and ignores commands until arm', async () => {
  const sim = new SimTransport(options({ cameras: [] }));
  await sim.open();
  const state = jointState();
  const push = velocityCommand(0.2, 0);
  const stepFor = (seconds: number): void => {
    for (let k = 0; k < Math.round(seconds * 50); k++) sim.stepSimulation(0.02);
  };
  sim.writeCommand(push);
  stepFor(0.5);
  sim.readState(state);
  assert.ok(Math.abs(state.velocities[0]) > 0.15, 'moving before the estop');

  sim.estop('test');
  stepFor(0.3); // the lag brings the joint to rest
  sim.readState(state);
  const held = state.positions[0];
  assert.ok(Math.abs(state.velocities[0]) < 1e-3);
  sim.writeCommand(push);
  sim.writeCommand(velocityCommand(-0.2, 0.2));
  stepFor(1);
  sim.readState(state);
  assert.ok(Math.abs(state.positions[0] - held) < 1e-4, `latched: x moved from ${held} to ${state.positions[0]}`);
  assert.ok(Math.abs(state.velocities[1]) < 1e-6);

  await sim.arm();
  sim.writeCommand(velocityCommand(-0.2, 0));
  stepFor(0.5);
  sim.readState(state);
  assert.ok(state.positions[0] < held - 0.05, 'armed: commands drive the joint again');
  assert.equal(sim.stats().framesOut, 4);
  await sim.close();
});

test('the outcome becomes TIMEOUT exactly at the time limit', async () => {
  const sim = new SimTransport(options({ timeLimitS: 1, cameras: [] }));
  await sim.open();
  const episodes = sim.episodes!;
  for (let k = 1; k <= 60; k++) {
    sim.writeCommand(velocityCommand(0, 0));
    sim.stepSimulation(0.02);
    assert.equal(episodes.outcome(), k < 50 ? TRANSPORT_EPISODE_RUNNING : TRANSPORT_EPISODE_TIMEOUT, `tick ${k}`);
  }
  await episodes.reset(22);
  assert.equal(episodes.outcome(), TRANSPORT_EPISODE_RUNNING);
  await sim.close();
});

test('effort mode is refused at open() with STRIATUM_ERR_TRANSPORT', async () => {
  const sim = new SimTransport(options({ mode: 'effort' }));
  await assert.rejects(sim.open(), (err: unknown) => isStriatumError(err, 'STRIATUM_ERR_TRANSPORT'));
});

test('invalid options are refused with STRIATUM_ERR_CONFIG', () => {
  assert.throws(() => new SimTransport(options({ controlHz: 0 })), (err: unknown) => isStriatumError(err, 'STRIATUM_ERR_CONFIG'));
  assert.throws(
    () => new SimTransport(options({ cameras: [{ name: 'side' as 'top', width: 96, height: 96, hz: 10 }] })),
    (err: unknown) => isStriatumError(err, 'STRIATUM_ERR_CONFIG'),
  );
});

test('cameras render at their own rate in simulated time, into reused frames', async () => {
  const sim = new SimTransport(options({ cameras: [{ name: 'top', width: 96, height: 96, hz: 10 }] }));
  await sim.open();
  const frame = sim.latestFrame('top');
  assert.ok(frame !== null);
  assert.equal(frame.rgb.length, 96 * 96 * 3);
  assert.equal(sim.latestFrame('wrist'), null);
  sim.writeCommand(velocityCommand(0.25, 0.25));
  let previous = frame.rgb.slice();
  const changedAt: number[] = [];
  for (let k = 1; k <= 25; k++) {
    sim.stepSimulation(0.02);
    assert.equal(sim.latestFrame('top'), frame, 'the frame object is reused');
    if (!frame.rgb.every((v, i) => v === previous[i])) changedAt.push(k);
    previous = frame.rgb.slice();
  }
  // 10 Hz camera, 50 Hz control: a new image every fifth tick, and only then.
  assert.deepEqual(changedAt, [5, 10, 15, 20, 25]);
  await sim.close();
});

test('the expert drives the transport to SUCCESS, with progress near 1', async () => {
  const sim = new SimTransport(options({ cameras: [] }));
  await sim.open();
  const episodes = sim.episodes!;
  const command: JointCommand = { mode: 'velocity', targets: new Float64Array(2) };
  assert.equal(episodes.progress(), 0);
  for (let k = 0; k < 750 && episodes.outcome() === TRANSPORT_EPISODE_RUNNING; k++) {
    sim.expert(command.targets);
    sim.writeCommand(command);
    sim.stepSimulation(0.02);
  }
  assert.equal(episodes.outcome(), TRANSPORT_EPISODE_SUCCESS);
  assert.ok(episodes.progress() > 0.8, `progress ${episodes.progress()}`);
  await sim.close();
});

test('position mode: targets are positions, reached through the clamped P controller', async () => {
  const sim = new SimTransport(options({ mode: 'position', cameras: [] }));
  await sim.open();
  const state = jointState();
  sim.writeCommand({ mode: 'position', targets: Float64Array.of(0.4, 0.1) });
  for (let k = 0; k < 250; k++) sim.stepSimulation(0.02);
  sim.readState(state);
  assert.ok(Math.abs(state.positions[0] - 0.4) < 1e-3 && Math.abs(state.positions[1] - 0.1) < 1e-3, `at ${state.positions}`);
  await sim.close();
});

test('two transports with the same seed and commands report identical states; reset(seed) replays it', async () => {
  const run = async (sim: SimTransport, reseed: boolean): Promise<number[]> => {
    if (reseed) await sim.episodes!.reset(21);
    const state = jointState();
    const command: JointCommand = { mode: 'velocity', targets: new Float64Array(2) };
    const out: number[] = [];
    for (let k = 0; k < 200; k++) {
      sim.expert(command.targets);
      sim.writeCommand(command);
      sim.stepSimulation(0.02);
      sim.readState(state);
      out.push(...state.positions, ...state.extras.block_position, ...state.extras.block_velocity);
    }
    return out;
  };
  const a = new SimTransport(options({ cameras: [], stateNoiseStd: 0.001 }));
  const b = new SimTransport(options({ cameras: [], stateNoiseStd: 0.001 }));
  await a.open();
  await b.open();
  const first = await run(a, false);
  assert.deepEqual(await run(b, false), first);
  assert.deepEqual(await run(a, true), first);
  await a.close();
  await b.close();
});
