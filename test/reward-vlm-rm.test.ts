import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isStriatumError } from '../src/errors.js';
import { GoalBaselineReward, GoalImageReward, cosineSimilarity } from '../src/reward/vlm-rm.js';

const close = (actual: number, expected: number, eps = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not ${expected}`);
};

const unitVector = (dim: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: dim, maxLength: dim })
  .filter((v) => Math.hypot(...v) > 1e-3)
  .map((v) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });

test('alpha 0 gives the plain cosine: 1 − ½‖x − g‖² = x·g for unit vectors', () => {
  fc.assert(fc.property(unitVector(8), unitVector(8), unitVector(8), (x, g, b) => {
    fc.pre(Math.hypot(...g.map((gi, i) => gi - b[i])) > 1e-6);
    const r = new GoalBaselineReward(g, b, 0).reward(x);
    let dot = 0;
    for (let i = 0; i < 8; i++) dot += x[i] * g[i];
    return Math.abs(r - dot) < 1e-12;
  }));
});

test('alpha 0 on embeddings of any length is their cosine', () => {
  // x = (3, 4, 0), g = (1, 0, 0): cos = 3/5
  close(new GoalBaselineReward([2, 0, 0], [0, 1, 0], 0).reward([3, 4, 0]), 0.6);
  close(cosineSimilarity([3, 4, 0], [2, 0, 0]), 0.6);
});

test('alpha 1 ignores the part of the image embedding orthogonal to goal − baseline', () => {
  // g = e1, b = e2, d̂ = (1, −1, 0)/√2. x1 = e3 and x2 = (1, 1, 0)/√2 both have x·d̂ = 0, so
  // (x − g)·d̂ = −g·d̂ = −1/√2 and r = 1 − ½·½ = 0.75 for both, though their cosines to g are 0 and 0.707.
  const rm = new GoalBaselineReward([1, 0, 0], [0, 1, 0], 1);
  close(rm.reward([0, 0, 1]), 0.75);
  close(rm.reward([Math.SQRT1_2, Math.SQRT1_2, 0]), 0.75);
  // Moving along d does change it: x = g gives r = 1.
  close(rm.reward([1, 0, 0]), 1);
});

test('a hand-computed 3-D example with alpha 0.5 matches the explicit projection matrix', () => {
  // ĝ = (1,0,0), b̂ = (0,1,0), d = (1,−1,0), ‖d‖² = 2.
  // P = 0.5·d dᵀ/2 + 0.5·I = [[0.75, −0.25, 0], [−0.25, 0.75, 0], [0, 0, 0.5]]
  // x̂ = (0,0,1), u = x̂ − ĝ = (−1, 0, 1), uP = (−0.75, 0.25, 0.5), ‖uP‖² = 0.875, r = 1 − 0.4375 = 0.5625
  const rm = new GoalBaselineReward([2, 0, 0], [0, 3, 0], 0.5); // norms do not matter: all three are normalized
  close(rm.reward([0, 0, 2]), 0.5625);
});

test('a goal that equals the baseline is refused when alpha > 0', () => {
  assert.throws(() => new GoalBaselineReward([1, 2, 3], [2, 4, 6], 0.5), (e) => isStriatumError(e, 'STRIATUM_ERR_CONFIG'));
  assert.doesNotThrow(() => new GoalBaselineReward([1, 2, 3], [2, 4, 6], 0));
  assert.throws(() => new GoalBaselineReward([1, 0], [0, 1], 1.5), (e) => isStriatumError(e, 'STRIATUM_ERR_CONFIG'));
});

test('an image embedding of the wrong width is refused', () => {
  const rm = new GoalBaselineReward([1, 0, 0], [0, 1, 0], 0.5);
  assert.throws(() => rm.reward([1, 0]), (e) => isStriatumError(e, 'STRIATUM_ERR_PRM_SHAPE'));
});

test('VIP/LIV: reward is the drop in distance to the goal embedding', () => {
  const vip = new GoalImageReward([0, 0]);
  vip.begin([3, 4]); // distance 5
  assert.equal(vip.step([0, 1]), 4); // 5 − 1
  assert.equal(vip.step([0, 2]), -1); // 1 − 2: moving away costs
  assert.equal(vip.potential([0, 1]), -1);
});
