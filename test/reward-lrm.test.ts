import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LrmReward, lrmCombinedReward } from '../src/reward/lrm.js';

const close = (actual: number, expected: number): void => {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
};

test('the combined reward maps contrastive to [0,1] and averages the three heads', () => {
  // ((0.2 + 1)/2 + 0.5 + 0.1)/3 = (0.6 + 0.6)/3 = 0.4
  close(lrmCombinedReward(0.2, 0.5, 0.1), 0.4);
  close(lrmCombinedReward(-1, 0, 0), 0);
  close(lrmCombinedReward(1, 1, 1), 1);
});

test('heads out of range are clamped, so the reward stays in [0,1]', () => {
  close(lrmCombinedReward(3, 2, -1), 2 / 3); // (1 + 1 + 0)/3
});

test('queried every k steps and held in between', () => {
  const lrm = new LrmReward(10);
  lrm.beginEpisode();
  const due: number[] = [];
  for (let step = 0; step < 25; step++) {
    if (lrm.advance()) {
      due.push(step);
      lrm.answer(0, step / 100, 0);
    }
  }
  assert.deepEqual(due, [0, 10, 20]);
  close(lrm.reward, (0.5 + 0.2 + 0) / 3); // the answer from step 20, held
});

test('no reward before the first answer of an episode; a NaN answer holds the last reward', () => {
  const lrm = new LrmReward(5);
  lrm.beginEpisode();
  assert.ok(Number.isNaN(lrm.reward));
  lrm.answer(1, 1, 1);
  assert.equal(lrm.answer(Number.NaN, 0, 0), 1);
  assert.equal(lrm.invalidAnswers, 1);
  lrm.beginEpisode();
  assert.ok(Number.isNaN(lrm.reward));
});
