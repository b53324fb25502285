import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { reversedValueOrderCorrelation, valueOrderCorrelation, vocF1 } from '../src/reward/voc.js';

const close = (actual: number, expected: number, eps = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not ${expected}`);
};

/** Reference Spearman against time: Pearson on average ranks, computed the slow, obvious way. */
function referenceVoc(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const ranks = values.map((v) => {
    let less = 0;
    let equal = 0;
    for (const w of values) {
      if (w < v) less++;
      else if (w === v) equal++;
    }
    return less + (equal + 1) / 2;
  });
  const time = values.map((_, i) => i);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const mr = mean(ranks);
  const mt = mean(time);
  let cov = 0;
  let vr = 0;
  let vt = 0;
  for (let i = 0; i < n; i++) {
    cov += (ranks[i] - mr) * (time[i] - mt);
    vr += (ranks[i] - mr) ** 2;
    vt += (time[i] - mt) ** 2;
  }
  return vr === 0 ? 0 : cov / Math.sqrt(vr * vt);
}

test('VOC matches a reference Spearman, ties included', () => {
  // Small integers give many ties.
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 }), (values) => {
    return Math.abs(valueOrderCorrelation(values) - referenceVoc(values)) < 1e-12;
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { maxLength: 40 }), (values) => {
    return Math.abs(valueOrderCorrelation(values) - referenceVoc(values)) < 1e-12;
  }));
});

test('VOC by hand: monotone episodes score ±1, ties take average ranks', () => {
  assert.equal(valueOrderCorrelation([0.1, 0.2, 0.3, 0.9]), 1);
  assert.equal(valueOrderCorrelation([0.9, 0.3, 0.2, 0.1]), -1);
  // ranks 1, 2.5, 2.5, 4 against 1..4: cov 4.5, var 4.5 and 5 → 4.5/√22.5 = 3/√10
  close(valueOrderCorrelation([0, 1, 1, 2]), 3 / Math.sqrt(10));
});

test('constant predictions and episodes shorter than 2 score 0', () => {
  assert.equal(valueOrderCorrelation([0.4, 0.4, 0.4]), 0);
  assert.equal(valueOrderCorrelation([0.4]), 0);
  assert.equal(valueOrderCorrelation([]), 0);
});

test('failed predictions (NaN) are left out; the rest keep their order', () => {
  assert.equal(valueOrderCorrelation([0.1, Number.NaN, 0.3, 0.5]), 1);
  assert.equal(valueOrderCorrelation([Number.NaN, 0.3]), 0);
});

test('playing the predictions backwards negates VOC', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 2, maxLength: 40 }), (values) => {
    const forward = valueOrderCorrelation(values);
    const backward = valueOrderCorrelation([...values].reverse());
    return Math.abs(forward + backward) < 1e-12;
  }));
});

test('VROC scores a PRM that sees the reversed video as regress', () => {
  // On the reversed video a good PRM predicts falling progress.
  assert.equal(reversedValueOrderCorrelation([0.9, 0.5, 0.1]), 1);
  assert.equal(reversedValueOrderCorrelation([0.1, 0.5, 0.9]), -1, 'a PRM that rewards undoing the task');
  assert.ok(Object.is(reversedValueOrderCorrelation([0.2, 0.2]), 0), 'no order claimed: 0, not −0');
});

test('VOC-F1 is the harmonic mean when both are positive, else 0', () => {
  close(vocF1(0.8, 0.6), (2 * 0.48) / 1.4);
  assert.equal(vocF1(1, 1), 1);
  assert.equal(vocF1(0.5, -0.49), 0, 'mixed signs: the formula would give −49');
  assert.equal(vocF1(-0.5, -0.5), 0, 'two failures are not a success');
  assert.equal(vocF1(0, 0), 0);
  assert.equal(vocF1(0.9, 0), 0);
});
