import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ViewFusion } from '../src/reward/view-fusion.js';

const close = (actual: number, expected: number): void => {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
};

test('mean, min and confidence-weighted fusion of three cameras', () => {
  const values = Float64Array.of(0.2, 0.4, 0.9);
  const conf = Float64Array.of(1, 1, 2);
  close(new ViewFusion('mean').fuse(values, conf, 3), 0.5);
  assert.equal(new ViewFusion('min').fuse(values, conf, 3), 0.2);
  // (0.2 + 0.4 + 2·0.9)/4 = 0.6
  close(new ViewFusion('confidence').fuse(values, conf, 3), 0.6);
});

test('a NaN view is dropped and counted, under every rule', () => {
  const values = Float64Array.of(0.2, Number.NaN, 0.6);
  const conf = Float64Array.of(1, 5, 3);
  const mean = new ViewFusion('mean');
  close(mean.fuse(values, conf, 3), 0.4);
  assert.equal(mean.droppedViews, 1);
  assert.equal(mean.validViews, 2);
  assert.equal(new ViewFusion('min').fuse(values, conf, 3), 0.2);
  // (1·0.2 + 3·0.6)/4 = 0.5: the NaN view's confidence 5 does not count
  close(new ViewFusion('confidence').fuse(values, conf, 3), 0.5);
});

test('every view NaN gives NaN', () => {
  for (const rule of ['mean', 'min', 'confidence'] as const) {
    const f = new ViewFusion(rule);
    const v = Float64Array.of(Number.NaN, Number.NaN, Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(f.fuse(v, Float64Array.of(1, 1, 1), 3)), rule);
    assert.equal(f.droppedViews, 3);
    assert.equal(f.validViews, 0);
  }
});

test('confidence weights that are all zero fall back to the mean; negative confidences weigh nothing', () => {
  const f = new ViewFusion('confidence');
  close(f.fuse(Float64Array.of(0.2, 0.8), Float64Array.of(-1, 0), 2), 0.5);
  assert.equal(f.zeroWeightFallbacks, 1);
  assert.equal(f.fuse(Float64Array.of(0.2, 0.8), Float64Array.of(-1, 2), 2), 0.8);
  assert.equal(f.zeroWeightFallbacks, 1);
});

test('only the first count views are read from a larger buffer', () => {
  const values = Float64Array.of(0.3, 0.5, 99);
  close(new ViewFusion('mean').fuse(values, values, 2), 0.4);
});
