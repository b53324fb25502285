import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RunningMoments, RunningMomentsVector } from '../src/reward/running-stats.js';

test('running mean and population variance match the two-pass formulas', () => {
  fc.assert(fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 200 }), (xs) => {
    const m = new RunningMoments();
    const v = new RunningMomentsVector(2);
    for (const x of xs) {
      m.push(x);
      v.push([x, 2 * x]);
    }
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    const tol = 1e-9 * (1 + Math.abs(mean) + variance);
    return Math.abs(m.mean - mean) < tol && Math.abs(m.variance - variance) < tol
      && Math.abs(v.mean[1] - 2 * mean) < 2 * tol && Math.abs(v.variance(1) - 4 * variance) < 4 * tol;
  }));
});

test('by hand: 2, 4, 4, 4, 5, 5, 7, 9 has mean 5 and std 2', () => {
  const m = new RunningMoments();
  for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) m.push(x);
  assert.equal(m.mean, 5);
  assert.equal(m.std, 2);
  m.reset();
  assert.equal(m.count, 0);
  assert.equal(m.variance, 0);
});
