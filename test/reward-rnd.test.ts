import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RndObservationNormalizer, RndRewardNormalizer, rndPredictionError } from '../src/reward/rnd.js';

const close = (actual: number, expected: number, eps = 1e-6): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not ${expected}`);
};

test('the intrinsic reward is the mean squared gap between predictor and target features', () => {
  assert.equal(rndPredictionError(Float32Array.of(1, 2, 3), Float32Array.of(1, 0, 0)), 13 / 3);
  assert.equal(rndPredictionError([0.5, 0.5], [0.5, 0.5]), 0);
});

test('observations are normalized by warm-up statistics and clipped at ±5', () => {
  const n = new RndObservationNormalizer(2, 2);
  assert.equal(n.ready, false);
  // Warm-up: dimension 0 sees −1 and 1 (μ 0, σ 1); dimension 1 sees 10 and 30 (μ 20, σ 10).
  n.update([-1, 10]);
  n.update([1, 30]);
  assert.equal(n.ready, true);
  const out = new Float32Array(2);
  n.normalize([10, 25], out);
  assert.equal(out[0], 5, '(10 − 0)/1 = 10 is clipped to 5');
  close(out[1], 0.5);
  n.normalize([-7, -100], out);
  assert.deepEqual([...out], [-5, -5]);
  n.normalize([0.25, 20], out);
  close(out[0], 0.25);
  close(out[1], 0);
});

test('a constant observation feature normalizes to 0, not NaN', () => {
  const n = new RndObservationNormalizer(1, 1);
  n.update([3]);
  n.update([3]);
  const out = new Float64Array(1);
  n.normalize([3], out);
  assert.equal(out[0], 0);
});

test('a NaN observation is refused and leaves the statistics untouched', () => {
  const n = new RndObservationNormalizer(2, 1);
  n.update([1, 1]);
  assert.equal(n.update([Number.NaN, 2]), false);
  assert.equal(n.rejected, 1);
  assert.equal(n.stats.count, 1);
  assert.deepEqual([...n.stats.mean], [1, 1]);
});

test('the intrinsic reward is divided by the running std of the forward-filtered return', () => {
  const f = new RndRewardNormalizer(0.5);
  // R: 1, 1 + 0.5·1 = 1.5, 1 + 0.5·1.5 = 1.75
  assert.equal(f.normalize(1), 1, 'one return has no spread: passed through');
  assert.equal(f.discountedReturn, 1);
  // std of {1, 1.5} = 0.25
  close(f.normalize(1), 1 / 0.25);
  // std of {1, 1.5, 1.75}: mean 17/12, deviations −5/12, 1/12, 4/12 → variance (25 + 1 + 16)/144/3 = 42/432
  close(f.normalize(1), 1 / Math.sqrt(42 / 432));
  close(f.discountedReturn, 1.75);
});

test('a NaN intrinsic reward is refused without poisoning the return', () => {
  const f = new RndRewardNormalizer(0.9);
  f.normalize(2);
  assert.ok(Number.isNaN(f.normalize(Number.NaN)));
  assert.equal(f.rejected, 1);
  assert.equal(f.discountedReturn, 2);
  assert.equal(f.returns.count, 1);
});
