// The push task itself: determinism, joint limits, block friction, the scripted expert, and camera images.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expertAction } from '../src/sim/expert.js';
import {
  initPhysics,
  JOINT_POSITION_MAX_M,
  JOINT_POSITION_MIN_M,
  JOINT_VELOCITY_MAX_M_S,
  PushWorld,
} from '../src/sim/push-world.js';
import { BLOCK_RGB, PushCamera, PUSHER_RGB, projectToPixel, renderToPng, TABLE_RGB } from '../src/sim/render.js';
import { SeededRng } from '../src/sim/rng.js';

await initPhysics();

/** Run `steps` control periods of `dtS`: expert commands plus seeded noise; record pusher and block poses. */
function recordTrajectory(world: PushWorld, seed: number, steps: number, dtS: number): Float64Array {
  world.reset(seed);
  const noise = new SeededRng(1234);
  const action = new Float64Array(2);
  const stride = 2 + 4 + 2;
  const trajectory = new Float64Array(steps * stride);
  for (let k = 0; k < steps; k++) {
    expertAction(world, action);
    world.setVelocityCommand(action[0] + noise.uniform(-0.05, 0.05), action[1] + noise.uniform(-0.05, 0.05));
    world.step(dtS);
    const o = k * stride;
    trajectory[o] = world.pusherPosition[0];
    trajectory[o + 1] = world.pusherPosition[1];
    trajectory.set(world.blockPositions, o + 2);
    trajectory.set(world.blockAngles, o + 6);
  }
  return trajectory;
}

function rgbAt(rgb: Uint8Array, width: number, col: number, row: number): number[] {
  const i = 3 * (Math.floor(row) * width + Math.floor(col));
  return [rgb[i], rgb[i + 1], rgb[i + 2]];
}

test('same seed and same commands give a bit-identical trajectory, even after other episodes', () => {
  const world = new PushWorld(11);
  const first = recordTrajectory(world, 11, 300, 0.02);
  recordTrajectory(world, 99, 120, 0.02); // a different episode in between must leave no trace
  const second = recordTrajectory(world, 11, 300, 0.02);
  assert.deepEqual(second, first);
  // The run must have pushed a block, or the comparison proves little about contact dynamics.
  const stride = 8;
  const last = 299 * stride;
  const moved = Math.max(Math.hypot(first[last + 2] - first[2], first[last + 3] - first[3]), Math.hypot(first[last + 4] - first[4], first[last + 5] - first[5]));
  assert.ok(moved > 0.05, `a block should have moved more than 5 cm, moved ${moved}`);
  world.free();
});

test('different seeds give different layouts, each inside the workspace', () => {
  const world = new PushWorld(0);
  const layouts = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    world.reset(seed);
    layouts.add(Array.from(world.blockPositions).concat(Array.from(world.padPositions)).join(','));
    for (const v of [...world.blockPositions, ...world.padPositions, ...world.pusherPosition]) {
      assert.ok(v > JOINT_POSITION_MIN_M && v < JOINT_POSITION_MAX_M, `seed ${seed}: ${v} outside the workspace`);
    }
    assert.match(world.instruction, /^push the (red|blue) block onto the (green|yellow) pad$/);
    assert.ok(world.blockToPadDistance() >= 0.2, `seed ${seed}: task starts too close to done`);
    assert.equal(world.progress(), 0);
  }
  assert.equal(layouts.size, 20);
  world.free();
});

test('joint limits hold under extreme commands and the velocity is clamped', () => {
  const world = new PushWorld(3);
  const extremes = [[50, -50], [-1e9, 1e9], [Infinity, -Infinity], [Number.NaN, 3]];
  for (const [vx, vy] of extremes) {
    world.setVelocityCommand(vx, vy);
    for (let k = 0; k < 250; k++) {
      world.step(0.02);
      for (let j = 0; j < 2; j++) {
        const p = world.pusherPosition[j];
        const v = world.pusherVelocity[j];
        assert.ok(p >= JOINT_POSITION_MIN_M && p <= JOINT_POSITION_MAX_M, `position ${p} out of limits`);
        assert.ok(Math.abs(v) <= JOINT_VELOCITY_MAX_M_S, `velocity ${v} over the limit`);
      }
    }
  }
  // After [NaN, 3] the x joint holds still and y sits on its upper limit.
  assert.equal(world.pusherPosition[1], JOINT_POSITION_MAX_M);
  // Position mode: a target beyond the limit ends on the limit.
  world.setPositionCommand(-5, 0.5);
  for (let k = 0; k < 300; k++) world.step(0.02);
  assert.ok(world.pusherPosition[0] - JOINT_POSITION_MIN_M < 1e-6, `x should settle on its lower limit, is ${world.pusherPosition[0]}`);
  assert.ok(Math.abs(world.pusherPosition[1] - 0.5) < 1e-3, `y should settle at 0.5, is ${world.pusherPosition[1]}`);
  world.free();
});

test('velocity tracks its command with a short lag, at any control rate', () => {
  for (const hz of [50, 100, 500]) {
    const world = new PushWorld(3);
    world.setVelocityCommand(0.1, 0);
    let t = 0;
    while (t < 0.2) {
      world.step(1 / hz);
      t += 1 / hz;
    }
    assert.ok(Math.abs(world.pusherVelocity[0] - 0.1) < 1e-3, `${hz} Hz: velocity ${world.pusherVelocity[0]}`);
    world.free();
  }
});

test('a pushed block stops within a few centimetres once released', () => {
  const world = new PushWorld(5);
  const action = new Float64Array(2);
  const b = 2 * world.instructedBlock;
  let speed = 0;
  for (let k = 0; k < 1000 && speed < 0.12; k++) {
    expertAction(world, action);
    world.setVelocityCommand(action[0], action[1]);
    world.step(0.01);
    speed = Math.hypot(world.blockVelocities[b], world.blockVelocities[b + 1]);
  }
  assert.ok(speed >= 0.12, `the expert should get the block moving, speed ${speed}`);
  const x0 = world.blockPositions[b];
  const y0 = world.blockPositions[b + 1];
  // Release: the pusher backs off along its own velocity reversed, so it leaves the block.
  world.setVelocityCommand(-world.pusherVelocity[0], -world.pusherVelocity[1]);
  for (let k = 0; k < 100; k++) world.step(0.01);
  const coast = Math.hypot(world.blockPositions[b] - x0, world.blockPositions[b + 1] - y0);
  assert.ok(coast < 0.04, `block coasted ${coast} m`);
  assert.ok(Math.hypot(world.blockVelocities[b], world.blockVelocities[b + 1]) < 1e-3, 'block should be at rest');
  world.free();
});

test('the scripted expert succeeds on at least 17 of 20 seeds at 50 Hz', () => {
  const world = new PushWorld(0);
  const action = new Float64Array(2);
  let successes = 0;
  for (let seed = 0; seed < 20; seed++) {
    world.reset(seed);
    while (world.timeS < 15 - 1e-9 && !world.isSuccess()) {
      expertAction(world, action);
      assert.ok(Math.abs(action[0]) <= JOINT_VELOCITY_MAX_M_S && Math.abs(action[1]) <= JOINT_VELOCITY_MAX_M_S);
      world.setVelocityCommand(action[0], action[1]);
      world.step(0.02);
    }
    if (world.isSuccess()) successes++;
  }
  console.log(`expert success at 50 Hz: ${successes}/20`);
  assert.ok(successes >= 17, `expert succeeded on ${successes}/20`);
  world.free();
});

test('the expert is rate-independent: it also succeeds at 250 Hz', () => {
  const world = new PushWorld(0);
  const action = new Float64Array(2);
  let successes = 0;
  for (let seed = 100; seed < 105; seed++) {
    world.reset(seed);
    while (world.timeS < 15 - 1e-9 && !world.isSuccess()) {
      expertAction(world, action);
      world.setVelocityCommand(action[0], action[1]);
      world.step(1 / 250);
    }
    if (world.isSuccess()) successes++;
  }
  console.log(`expert success at 250 Hz: ${successes}/5`);
  assert.ok(successes >= 4, `expert succeeded on ${successes}/5`);
  world.free();
});

test('top camera: a hand-placed red block shows at its pixel, the table in a corner', () => {
  const world = new PushWorld(2);
  // Hand-placed layout, away from everything else: red block at (0.2, 0.6), blue at (0.6, 0.2), pusher at (0.6, 0.6).
  world.blockPositions.set([0.2, 0.6, 0.6, 0.2]);
  world.blockAngles.set([0.3, 0]);
  world.padPositions.set([0.2, 0.2, 0.45, 0.45]);
  world.pusherPosition.set([0.65, 0.65]);
  const camera = new PushCamera('top', 96, 96);
  camera.render(world);
  // 96 px over 0.8 m: x = 0.2 -> column 24; y = 0.6 -> row (0.8 - 0.6) / 0.8 * 96 = 24.
  assert.deepEqual(rgbAt(camera.rgb, 96, 24, 24), [...BLOCK_RGB[0]]);
  assert.deepEqual(rgbAt(camera.rgb, 96, 72, 72), [...BLOCK_RGB[1]]);
  assert.deepEqual(rgbAt(camera.rgb, 96, 78, 18), [...PUSHER_RGB]);
  assert.deepEqual(rgbAt(camera.rgb, 96, 0, 0), [...TABLE_RGB]);
  assert.deepEqual(rgbAt(camera.rgb, 96, 95, 0), [...TABLE_RGB]);
  world.free();
});

test('top camera of a seeded layout matches projectToPixel; the frame changes when the pusher moves', () => {
  const world = new PushWorld(8);
  const camera = new PushCamera('top', 96, 96);
  camera.render(world);
  const pixel = new Float64Array(3);
  const red = 0;
  projectToPixel('top', world, 96, 96, world.blockPositions[2 * red], world.blockPositions[2 * red + 1], pixel);
  assert.deepEqual(rgbAt(camera.rgb, 96, pixel[0], pixel[1]), [...BLOCK_RGB[red]]);
  const before = camera.rgb.slice();
  world.setVelocityCommand(0.2, 0.2);
  for (let k = 0; k < 10; k++) world.step(0.02);
  camera.render(world);
  assert.notDeepEqual(camera.rgb, before);
  world.free();
});

test('wrist camera is centred on the pusher', () => {
  const world = new PushWorld(4);
  const camera = new PushCamera('wrist', 64, 48);
  camera.render(world);
  assert.deepEqual(rgbAt(camera.rgb, 64, 32, 24), [...PUSHER_RGB]);
  world.free();
});

test('renderToPng writes a PNG file', async () => {
  const world = new PushWorld(1);
  const dir = await mkdtemp(join(tmpdir(), 'striatum-sim-'));
  try {
    const path = join(dir, 'top.png');
    await renderToPng(world, { name: 'top', width: 128, height: 128 }, path);
    const bytes = await readFile(path);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  } finally {
    await rm(dir, { recursive: true, force: true });
    world.free();
  }
});
