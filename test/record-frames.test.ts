// `striatum record --frames/--progress/--source`: camera frames, their alignment with the step rows, ground-truth
// progress, and the failure sources the PRM trainer needs; then those frames read back by `striatum prm eval`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateProgressModel, preprocessFrame, readNpyArray, WordLevelTokenizer } from '../src/cli/prm-eval.js';
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
  return readNpyArray(join(out, name));
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

// The frames feed `striatum prm eval` (src/cli/prm-eval.ts); these live here until it has its own test file.

test('the demo progress model scores VOC ≥ 0.9 on held-out successful episodes and falls on reversed ones', async () => {
  const dir = tempDir();
  // Seeds from 500000 were never in the training data (trainer/prm.py's recordings use 10000–40000 and 110000–130000).
  const { out } = await record(['--config', recordConfig(dir, 15, [{ name: 'top', width: 96, height: 96, hz: CAMERA_HZ }]), '--episodes', '20', '--seed', '500000', '--frames', 'top']);
  const report = await evaluateProgressModel({ model: join(REPO, 'models/push-prm/progress.json'), data: [out] });
  assert.equal(report.successful.episodes, 20);
  assert.equal(report.failed.episodes, 0);
  assert.ok((report.successful.mean as number) >= 0.9, `VOC ${report.successful.mean}`);
  assert.ok((report.reversed.mean as number) < -0.5, `reversed VOC ${report.reversed.mean}`);
  for (const e of report.episodes) {
    assert.ok(e.mean_abs_error < 0.2, `episode ${e.episode}: mean abs error ${e.mean_abs_error}`);
    assert.ok(Math.abs((e.vroc as number) + (e.reversed_voc as number)) < 1e-12);
  }
});

test('the WordLevel tokenizer gives the ids trainer/prm.py gives', () => {
  const tokenizer = WordLevelTokenizer.load(join(REPO, 'models/push-prm/tokenizer.json'));
  const vocab = JSON.parse(readFileSync(join(REPO, 'models/push-prm/tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
  const ids = Array.from(tokenizer.encode('Push the RED block, onto the moon', 10), Number);
  assert.deepEqual(ids, [vocab.push, vocab.the, vocab.red, vocab.block, vocab['[UNK]'], vocab.onto, vocab.the, vocab['[UNK]'], 0, 0]);
  assert.equal(tokenizer.encode('push the red block onto the green pad please now', 3).length, 3);
});

test('preprocessFrame: identity at the same size, 2x2 means at half size, float layout and normalization', () => {
  // A 4x2 RGB frame: pixel (x, y) has channels (10x + y, 100, 200).
  const rgb = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) rgb.set([10 * x + y, 100, 200], 3 * (y * 4 + x));
  const base = { crop: null, channel_order: 'rgb' as const, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
  const same = new Uint8Array(rgb.length);
  preprocessFrame(rgb, 4, 2, { ...base, resize: { width: 4, height: 2 }, layout: 'nhwc', dtype: 'uint8' }, same, 0);
  assert.deepEqual(same, rgb);
  const half = new Uint8Array(2 * 1 * 3);
  preprocessFrame(rgb, 4, 2, { ...base, resize: { width: 2, height: 1 }, layout: 'nhwc', dtype: 'uint8' }, half, 0);
  assert.deepEqual(Array.from(half), [Math.round(5.5), 100, 200, Math.round(25.5), 100, 200]);
  const planar = new Float32Array(2 + 2 * 1 * 3);
  preprocessFrame(rgb, 4, 2, { ...base, resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32', channel_order: 'bgr', scale: 0.5, mean: [1, 2, 3], std: [2, 2, 2] }, planar, 2);
  // Channels written in bgr order: plane 0 is blue, (200·0.5 − 1)/2; plane 2 is red, (5.5·0.5 − 3)/2.
  assert.deepEqual(Array.from(planar.subarray(2)), [49.5, 49.5, 24, 24, -0.125, 4.875]);
});
