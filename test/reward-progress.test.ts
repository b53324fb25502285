import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MultiPerspectiveProgress } from '../src/reward/multi-perspective.js';
import { ProgressIntegrator } from '../src/reward/progress-integrator.js';

const close = (actual: number, expected: number, eps = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not ${expected}`);
};

test('pairwise deltas integrate by the incremental rule', () => {
  const p = new ProgressIntegrator();
  // 0 + 0.5·(1−0) = 0.5;  0.5 + 0.5·(1−0.5) = 0.75;  0.75 − 0.5·0.75 = 0.375
  assert.equal(p.add(0.5), 0.5);
  assert.equal(p.add(0.5), 0.75);
  assert.equal(p.add(-0.5), 0.375);
  assert.equal(p.updates, 3);
});

test('deltas outside [-1,1] are clamped and counted; a NaN delta holds progress', () => {
  const p = new ProgressIntegrator();
  p.add(0.2);
  assert.equal(p.add(3), 1, 'clamped to 1: the whole remaining gap');
  assert.equal(p.add(-2), 0, 'clamped to -1: everything given back');
  assert.equal(p.clampedDeltas, 2);
  p.add(0.4);
  assert.equal(p.add(Number.NaN), 0.4);
  assert.equal(p.invalidDeltas, 1);
  assert.equal(p.updates, 4);
});

test('a new episode starts again from zero progress', () => {
  const p = new ProgressIntegrator();
  p.add(0.9);
  p.reset();
  assert.equal(p.progress, 0);
  assert.equal(p.add(0.25), 0.25);
});

test('progress stays in [0,1] for any sequence of deltas', () => {
  fc.assert(fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { maxLength: 200 }), (deltas) => {
    const p = new ProgressIntegrator();
    for (const d of deltas) {
      const v = p.add(d);
      if (!(v >= 0 && v <= 1)) return false;
    }
    return true;
  }));
});

test('multi-perspective fusion averages incremental, forward and backward progress', () => {
  const m = new MultiPerspectiveProgress();
  // Φ_I = 0.5, Φ_F = 0.4, Φ_B = 1 − 0.7 = 0.3 → (0.5 + 0.4 + 0.3)/3 = 0.4
  close(m.update(0.5, 0.4, -0.7), 0.4);
  assert.equal(m.incremental.progress, 0.5);
  assert.equal(m.forward, 0.4);
  close(m.backward, 0.3);
  assert.equal(m.answered, 3);
});

test('only the fused value is clipped to [0,1]; the components keep their range', () => {
  const m = new MultiPerspectiveProgress();
  // Φ_I = 0 (regress from 0), Φ_F = −0.9, Φ_B = 0.1 → mean −0.2667 → 0
  assert.equal(m.update(-0.2, -0.9, -0.9), 0);
  assert.equal(m.forward, -0.9);
  m.reset();
  // Φ_I = 1, Φ_F = 1, Φ_B = 1.5 → mean 1.1667 → 1
  assert.equal(m.update(1, 1, 0.5), 1);
  assert.equal(m.backward, 1.5);
});

test('a failed perspective is left out of the mean; all failed gives NaN', () => {
  const m = new MultiPerspectiveProgress();
  // Φ_I missing, Φ_F = 0.6, Φ_B = 0.8 → 0.7
  close(m.update(Number.NaN, 0.6, -0.2), 0.7);
  assert.equal(m.answered, 2);
  assert.equal(m.missing, 1);
  assert.ok(Number.isNaN(m.update(Number.NaN, Number.NaN, Number.NaN)));
  assert.equal(m.missing, 4);
});
