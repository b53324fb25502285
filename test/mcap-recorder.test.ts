// The MCAP recorder as a StepSink, driven directly: the tick only fills the ring (nothing reaches the file until
// a drain), files rotate at max_size, each finished, and a full ring drops and counts steps instead of waiting.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StepView } from '../src/control/step.js';
import { McapRecorder } from '../src/dataset/mcap-recorder.js';
import { silentLogger } from '../src/log.js';
import { RewardStep } from '../src/reward/reward-step.js';
import type { CameraFrame } from '../src/transports/types.js';
import { tempDir } from './helpers/fixtures.js';
import { openIndexed, readJointState } from './helpers/mcap-read.js';

const LAYOUT = { joints: ['x', 'y'], observation: [{ name: 'joint_positions', size: 2 }, { name: 'joint_velocities', size: 2 }, { name: 'block', size: 2 }], cameras: [] };

function stepView(): StepView & { observation: Float64Array; step: number; stampMs: number } {
  return {
    episode: 0, step: 0, stampMs: 0, observation: new Float64Array(6), action: new Float64Array(2), command: new Float64Array(2),
    progress: 0, done: false, truncated: false,
  } as never;
}

function recorder(dir: string, options: { maxBytes?: number; ringSteps?: number; frame?: CameraFrame } = {}): McapRecorder {
  const reward = new RewardStep();
  const frame = options.frame;
  return new McapRecorder({
    path: join(dir, 'rec.mcap'), topics: null, maxBytes: options.maxBytes ?? 1 << 30, chunkBytes: 2048,
    layout: frame === undefined ? LAYOUT : { ...LAYOUT, cameras: [{ name: frame.camera, width: frame.width, height: frame.height, channels: 3 }] },
    latestFrame: frame === undefined ? null : (camera) => (camera === frame.camera ? frame : null),
    reward, stampOriginUnixMs: 1_700_000_000_000, logger: silentLogger, ringSteps: options.ringSteps, drainMs: 60_000,
  });
}

test('mcap recorder: steps wait in the ring until a drain; files rotate at max_size, every one finished and in order', async () => {
  const dir = tempDir('striatum-mcap-rotate-');
  const rec = recorder(dir, { maxBytes: 20_000 });
  await rec.start();
  const s = stepView();
  rec.onEpisodeStart({ episode: 0, seed: 1, instruction: 'push', policy_version: 'p1' });
  for (let i = 0; i < 600; i++) {
    s.step = i;
    s.stampMs = i * 20;
    s.observation[0] = i;
    s.observation[2] = -i;
    rec.onStep(s);
    if (i === 99) assert.equal(rec.stats().steps, 0, 'onStep only fills the ring');
    if (i % 100 === 99) await rec.drain();
  }
  rec.onEpisodeEnd({ episode: 0, seed: 1, instruction: 'push', policy_version: 'p1', steps: 600, duration_s: 12, outcome: 'timeout', success: false, final_progress: null, end_reason: null, ground_truth: null });
  await rec.close();
  const files = readdirSync(dir).filter((f) => f.endsWith('.mcap')).sort((a, b) => Number(/-(\d+)\.mcap$/.exec(a)?.[1]) - Number(/-(\d+)\.mcap$/.exec(b)?.[1]));
  assert.ok(files.length >= 3, `rotated into ${files.length} files`);
  assert.deepEqual(files.map((f) => join(dir, f)), rec.files);
  const positions: number[] = [];
  const velocities: number[] = [];
  let last = 0n;
  for (const f of files) {
    const r = await openIndexed(join(dir, f)); // finished: summary and index present
    for await (const m of r.readMessages()) {
      if (r.channelsById.get(m.channelId)?.topic !== '/joint_states') continue;
      const js = readJointState(m.data);
      positions.push(js.position[0]);
      velocities.push(js.velocity[0]);
      assert.ok(m.logTime >= last);
      last = m.logTime;
      assert.equal(js.sec, 1_700_000_000 + Math.floor(positions[positions.length - 1] * 20 / 1000));
    }
  }
  assert.deepEqual(positions, Array.from({ length: 600 }, (_, i) => i), 'every step once, in order, across the files');
  assert.deepEqual(velocities, Array.from({ length: 600 }, (_, i) => -i));
  assert.equal(rec.dropped, 0);
});

test('mcap recorder: a full ring drops and counts steps rather than wait', async () => {
  const dir = tempDir('striatum-mcap-ring-');
  const rec = recorder(dir, { ringSteps: 16 });
  await rec.start();
  const s = stepView();
  for (let i = 0; i < 40; i++) { s.step = i; rec.onStep(s); }
  assert.equal(rec.dropped, 24);
  await rec.close();
  assert.equal(rec.stats().steps, 16);
});

test('mcap recorder: each new camera frame is written once as sensor_msgs/Image, read between ticks', async () => {
  const dir = tempDir('striatum-mcap-frames-');
  const frame: CameraFrame = { camera: 'top', width: 4, height: 2, stampMs: 0, rgb: new Uint8Array(24) };
  const rec = recorder(dir, { frame });
  await rec.start();
  const s = stepView();
  for (let i = 0; i < 30; i++) {
    s.step = i;
    s.stampMs = i * 20;
    rec.onStep(s);
    if (i % 5 === 0) { frame.stampMs = i * 20; frame.rgb.fill(i); }
    // Drains come twice as often as frames: the same frame is not written twice.
    if (i % 5 === 0 || i % 5 === 2) await rec.drain();
  }
  await rec.close();
  const r = await openIndexed(rec.files[0]);
  const image = [...r.channelsById.values()].find((c) => c.topic === '/striatum/camera/top/image');
  assert.equal(r.schemasById.get(image?.schemaId as number)?.name, 'sensor_msgs/msg/Image');
  const firsts: number[] = [];
  for await (const m of r.readMessages()) if (m.channelId === image?.id) firsts.push(m.data[m.data.length - 24]);
  assert.deepEqual(firsts, [0, 5, 10, 15, 20, 25], 'the pixels of each frame, once each');
});
