// `striatum record --frames/--progress/--source`: camera frames, their alignment with the step rows, ground-truth
// progress, and the failure sources the PRM trainer needs (test/prm-eval.test.ts reads them back with `prm eval`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../src/util/npy.js';
import { REPO, runCli, simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

const CONTROL_HZ = 50;
const CAMERA_HZ = 10;
const STEPS_PER_FRAME = CONTROL_HZ / CAMERA_HZ;

/** A sim config with two small cameras at one rate; returns its path. */
function recordConfig(dir: string, timeLimitS: number, cameras = [
  { name: 'top', width: 32, height: 32, hz: CAMERA_HZ }, { name: 'wrist', width: 24, height: 16, hz: CAMERA_HZ },
]): string {
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.transport.time_limit_s = timeLimitS;
  cfg.transport.cameras = cameras;
  return writeConfig(dir, cfg);
}

async function record(args: string[]): Promise<{ out: string; summary: any; meta: any }> {
  const dir = tempDir();
  const out = join(dir, 'rec');
  const r = await runCli(['record', '--out', out, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return { out, summary: JSON.parse(r.stdout.trim()), meta: JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')) };
}

function npy(out: string, name: string): { data: ArrayLike<number>; shape: number[] } {
  return readNpy(join(out, name));
}

test('record --frames writes camera frames aligned with the step rows, and ground-truth progress', async () => {
  const dir = tempDir();
  const { out, summary, meta } = await record(['--config', recordConfig(dir, 15), '--episodes', '2', '--seed', '40', '--frames', 'top,wrist']);
  assert.equal(summary.successes, 2, 'the scripted expert solves these seeds');
  const steps = summary.steps as number;
  const top = npy(out, 'frames_top.npy');
  const wrist = npy(out, 'frames_wrist.npy');
  const frameStep = npy(out, 'frame_step.npy');
  const frameEpisode = npy(out, 'frame_episode.npy');
  const frameProgress = npy(out, 'frame_progress.npy');
  const frameSuccess = npy(out, 'frame_success.npy');
  const progress = npy(out, 'progress.npy');
  const episodeIndex = npy(out, 'episode_index.npy');
  const frames = summary.frames as number;

  assert.ok(top.data instanceof Uint8Array && wrist.data instanceof Uint8Array);
  assert.deepEqual(top.shape, [frames, 32, 32, 3]);
  assert.deepEqual(wrist.shape, [frames, 16, 24, 3]);
  for (const a of [frameStep, frameEpisode, frameProgress, frameSuccess]) assert.deepEqual(a.shape, [frames]);
  assert.ok(frameStep.data instanceof Int32Array && frameEpisode.data instanceof Int32Array);
  assert.ok(progress.data instanceof Float32Array && frameProgress.data instanceof Float32Array);
  assert.deepEqual(progress.shape, [steps], 'one progress value per step (implied by --frames)');
  for (let i = 0; i < steps; i++) assert.ok(progress.data[i] >= 0 && progress.data[i] <= 1, `progress[${i}] = ${progress.data[i]}`);

  assert.deepEqual(meta.frames, { cameras: [{ name: 'top', width: 32, height: 32 }, { name: 'wrist', width: 24, height: 16 }], hz: CAMERA_HZ, count: frames });
  assert.equal(meta.source, 'expert');
  let row = 0;
  for (const ep of meta.episodes) {
    const first = ep.first_frame as number;
    const last = first + (ep.frames as number) - 1;
    // The reset image: the episode's first row, zero progress, not a success.
    assert.equal(frameStep.data[first], row);
    assert.equal(frameProgress.data[first], 0);
    assert.equal(frameSuccess.data[first], 0);
    // Then one frame per camera period: rendered after steps 4, 9, 14, … of the episode (50 Hz control, 10 Hz).
    let expected = 1 + Math.floor(ep.steps / STEPS_PER_FRAME);
    if (ep.steps % STEPS_PER_FRAME !== 0) expected++; // plus the final state, rendered by the recorder
    assert.equal(ep.frames, expected, `episode ${ep.index}: frames`);
    for (let f = first + 1; f < last; f++) assert.equal(frameStep.data[f] - row, (f - first) * STEPS_PER_FRAME - 1);
    // The last frame shows the state that ended the episode: its last row, and a success.
    assert.equal(frameStep.data[last], row + ep.steps - 1);
    assert.equal(frameSuccess.data[last], 1);
    for (let f = first; f < last; f++) assert.equal(frameSuccess.data[f], 0, `frame ${f} is before the success`);
    for (let f = first; f <= last; f++) assert.equal(frameEpisode.data[f], ep.index);
    for (let f = first + 1; f <= last; f++) {
      assert.equal(frameProgress.data[f], progress.data[frameStep.data[f]], `frame ${f}: progress of its step`);
      assert.equal(episodeIndex.data[frameStep.data[f]], ep.index);
    }
    assert.ok(Math.abs(frameProgress.data[last] - ep.final_progress) < 1e-6);
    row += ep.steps;
  }
  assert.equal(row, steps);

  // Copies, not the camera's reused buffer: frames differ over an episode and between episodes' layouts.
  const frameBytes = 32 * 32 * 3;
  const image = (f: number): Buffer => Buffer.from(top.data as Uint8Array).subarray(f * frameBytes, (f + 1) * frameBytes);
  const second = meta.episodes[1].first_frame as number;
  assert.notDeepEqual(image(0), image(second - 1), 'the block moved during episode 0');
  assert.notDeepEqual(image(second - 1), image(second), 'episode 1 starts from a new layout');
  assert.ok(image(0).includes(Buffer.from([200, 200, 200])), 'the top view shows the table');

  // NumPy reads the uint8 frames (an independent reader of the .npy format).
  const python = requirePython(['numpy']);
  const py = JSON.parse(execFileSync(python, ['-c', 'import json, sys, numpy as np; f = np.load(sys.argv[1]); print(json.dumps([list(f.shape), str(f.dtype), int(f[1, 5, 7, 2])]))', join(out, 'frames_top.npy')]).toString());
  assert.deepEqual(py, [[frames, 32, 32, 3], 'uint8', top.data[frameBytes + (5 * 32 + 7) * 3 + 2]]);
});

test('record --source stall and random give episodes that do not succeed, and are seeded', async () => {
  const dir = tempDir();
  const config = recordConfig(dir, 4, [{ name: 'top', width: 16, height: 16, hz: CAMERA_HZ }]);
  const stall = await record(['--config', recordConfig(dir, 10, []), '--episodes', '3', '--seed', '40', '--source', 'stall', '--progress']);
  assert.equal(stall.meta.source, 'stall');
  assert.equal(stall.summary.successes, 0);
  for (const ep of stall.meta.episodes) {
    assert.equal(ep.outcome, 'timeout');
    assert.ok(ep.final_progress > 0.1 && ep.final_progress < 0.85, `stalled part-way, progress ${ep.final_progress}`);
  }
  // Standing still: the last two seconds of each stalled episode show no progress.
  const progress = npy(stall.out, 'progress.npy');
  let end = 0;
  for (const ep of stall.meta.episodes) {
    end += ep.steps;
    assert.ok(Math.abs(progress.data[end - 1] - progress.data[end - 100]) < 1e-6);
  }

  const random = await record(['--config', config, '--episodes', '2', '--seed', '40', '--source', 'random', '--progress']);
  assert.equal(random.summary.successes, 0);
  assert.equal(random.meta.frames, null);
  assert.ok(!existsSync(join(random.out, 'frames_top.npy')));
  assert.deepEqual(npy(random.out, 'progress.npy').shape, [random.summary.steps]);
  const again = await record(['--config', config, '--episodes', '2', '--seed', '40', '--source', 'random']);
  assert.deepEqual(readFileSync(join(again.out, 'actions.npy')), readFileSync(join(random.out, 'actions.npy')), 'same seed, same commands');
  assert.ok(!existsSync(join(again.out, 'progress.npy')), 'progress.npy only with --progress or --frames');
});

test('record --source noisy-expert mixes successes and failures', async () => {
  const dir = tempDir();
  const { meta, summary } = await record(['--config', recordConfig(dir, 15, []), '--episodes', '8', '--seed', '20000', '--source', 'noisy-expert']);
  assert.equal(meta.source, 'noisy-expert');
  assert.ok(summary.successes > 0 && summary.successes < 8, `${summary.successes} of 8 succeeded`);
});

test('record refuses unknown sources and cameras, and cameras at different rates', async () => {
  const dir = tempDir();
  const config = recordConfig(dir, 2, [{ name: 'top', width: 16, height: 16, hz: 10 }, { name: 'wrist', width: 16, height: 16, hz: 5 }]);
  const out = join(dir, 'never');
  for (const args of [['--source', 'teleop'], ['--frames', 'side'], ['--frames', 'top,wrist'], ['--frames', 'top,top'], ['--frames', '']]) {
    const r = await runCli(['record', '--config', config, '--out', out, '--episodes', '1', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.ok(!existsSync(out));
});
