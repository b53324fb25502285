// PRM preprocessing against pixels computed by hand: crop, bilinear resize (half-pixel centres), channel order,
// layout, scale/mean/std, uint8; and the per-view frame window.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrmMetadataSchema, type PrmMetadata } from '../src/reward/metadata.js';
import { FramePreprocessor, FrameWindow } from '../src/reward/prm/preprocess.js';

type Pre = PrmMetadata['preprocessing'];

function pre(p: Record<string, unknown>): Pre {
  return PrmMetadataSchema.shape.preprocessing.parse(p);
}

/** An RGB frame from [r, g, b] per pixel, row-major. */
function frame(pixels: number[][]): Uint8Array {
  return Uint8Array.from(pixels.flat());
}

function close(actual: ArrayLike<number>, expected: readonly number[], eps = 1e-5): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= eps, `[${i}] ${actual[i]} vs ${expected[i]}\n${Array.from(actual).join(', ')}`);
}

test('same size, nchw, float: (pixel·scale − mean)/std per channel', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32', scale: 0.5, mean: [1, 2, 3], std: [2, 4, 5] }), { width: 2, height: 1 });
  const out = new Float32Array(6);
  p.write(frame([[10, 20, 30], [40, 50, 60]]), out, 0);
  // R plane: (5−1)/2, (20−1)/2; G plane: (10−2)/4, (25−2)/4; B plane: (15−3)/5, (30−3)/5
  close(out, [2, 9.5, 2, 5.75, 2.4, 5.4]);
});

test('bilinear downscale 4x2 → 2x1 averages each 2x2 block (half-pixel centres)', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32' }), { width: 4, height: 2 });
  const px = [
    [0, 0, 0], [4, 8, 0], [100, 0, 0], [200, 0, 0],
    [8, 0, 0], [12, 0, 4], [0, 0, 0], [100, 0, 0],
  ];
  const out = new Float32Array(6);
  p.write(frame(px), out, 0);
  // output x = (i + ½)·2 − ½ → 0.5 and 2.5; y = 0.5: every weight is ½.
  // R: (0 + 4 + 8 + 12)/4 = 6, (100 + 200 + 0 + 100)/4 = 100; G: 8/4 = 2, 0; B: 4/4 = 1, 0
  close(out, [6, 100, 2, 0, 1, 0]);
});

test('bilinear upscale 2x1 → 4x1 interpolates with weights ¼, ¾ and clamps at the edges', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 4, height: 1 }, layout: 'nhwc', dtype: 'float32' }), { width: 2, height: 1 });
  const out = new Float32Array(12);
  p.write(frame([[0, 100, 40], [80, 0, 40]]), out, 0);
  // x = (i + ½)/2 − ½ = −0.25 (edge), 0.25, 0.75, 1.25 (edge)
  close(out, [0, 100, 40, 20, 75, 40, 60, 25, 40, 80, 0, 40]);
});

test('crop takes the region in source pixels before resizing', () => {
  const px: number[][] = [];
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) px.push([10 * y + x, 0, 0]);
  const p = new FramePreprocessor(pre({ crop: { x: 1, y: 2, width: 2, height: 1 }, resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32' }), { width: 4, height: 4 });
  const out = new Float32Array(6);
  p.write(frame(px), out, 0);
  close(out, [21, 22, 0, 0, 0, 0]);
});

test('bgr with nhwc: channels swapped, mean and std in the model\'s (bgr) order', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 1, height: 1 }, channel_order: 'bgr', layout: 'nhwc', dtype: 'float32', mean: [3, 2, 1], std: [1, 2, 4] }), { width: 1, height: 1 });
  const out = new Float32Array(3);
  p.write(frame([[11, 22, 33]]), out, 0);
  // model channel 0 is blue: (33 − 3)/1; 1 green: (22 − 2)/2; 2 red: (11 − 1)/4
  close(out, [30, 10, 2.5]);
});

test('uint8 input carries rounded raw pixels; writes go at the given offset', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'uint8' }), { width: 3, height: 1 });
  const out = new Uint8Array(8).fill(7);
  p.write(frame([[0, 0, 0], [1, 3, 255], [2, 9, 255]]), out, 2);
  // x = (i + ½)·1.5 − ½ = 0.25, 1.75 → R: 0.25, 1.75 → 0, 2; G: 0.75, 7.5 → 1, 8 (half rounds up); B: 63.75, 255 → 64, 255
  assert.deepEqual(Array.from(out), [7, 7, 0, 2, 1, 8, 64, 255]);
});

test('a crop outside the frame is refused', () => {
  assert.throws(() => new FramePreprocessor(pre({ crop: { x: 3, y: 0, width: 2, height: 1 }, resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32' }), { width: 4, height: 4 }), /does not fit/);
});

test('frame window: oldest first, padded with the oldest frame at the start of an episode', () => {
  const p = new FramePreprocessor(pre({ resize: { width: 1, height: 1 }, layout: 'nchw', dtype: 'float32' }), { width: 1, height: 1 });
  const w = new FrameWindow(p, 3, false);
  const out = new Float32Array(9);
  const px = (v: number) => frame([[v, 0, 0]]);
  w.push(px(1), 10);
  w.push(px(2), 20);
  w.copyWindow(out, 0);
  assert.deepEqual(Array.from(out).filter((_, i) => i % 3 === 0), [1, 1, 2]);
  w.push(px(3), 30);
  w.push(px(4), 40);
  w.copyWindow(out, 0);
  assert.deepEqual(Array.from(out).filter((_, i) => i % 3 === 0), [2, 3, 4]);
  assert.equal(w.newestStampMs(), 40);
  w.reset();
  w.push(px(9), 90);
  w.copyWindow(out, 0);
  assert.deepEqual(Array.from(out).filter((_, i) => i % 3 === 0), [9, 9, 9]);
});

test('identity at the same size, 2x2 means at half size, float layout and normalization (the cases prm eval was checked on)', () => {
  // A 4x2 RGB frame: pixel (x, y) has channels (10x + y, 100, 200).
  const rgb = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) rgb.set([10 * x + y, 100, 200], 3 * (y * 4 + x));
  const base = { crop: null, channel_order: 'rgb' as const, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
  const source = { width: 4, height: 2 };
  const same = new Uint8Array(rgb.length);
  new FramePreprocessor(pre({ ...base, resize: { width: 4, height: 2 }, layout: 'nhwc', dtype: 'uint8' }), source).write(rgb, same, 0);
  assert.deepEqual(same, rgb);
  const half = new Uint8Array(2 * 1 * 3);
  new FramePreprocessor(pre({ ...base, resize: { width: 2, height: 1 }, layout: 'nhwc', dtype: 'uint8' }), source).write(rgb, half, 0);
  assert.deepEqual(Array.from(half), [Math.round(5.5), 100, 200, Math.round(25.5), 100, 200]);
  const planar = new Float32Array(2 + 2 * 1 * 3);
  new FramePreprocessor(pre({ ...base, resize: { width: 2, height: 1 }, layout: 'nchw', dtype: 'float32', channel_order: 'bgr', scale: 0.5, mean: [1, 2, 3], std: [2, 2, 2] }), source).write(rgb, planar, 2);
  // Channels written in bgr order: plane 0 is blue, (200·0.5 − 1)/2; plane 2 is red, (5.5·0.5 − 3)/2.
  assert.deepEqual(Array.from(planar.subarray(2)), [49.5, 49.5, 24, 24, -0.125, 4.875]);
});
