import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStriatumError } from '../src/errors.js';
import { HackingAlarm } from '../src/reward/hacking-alarm.js';

const options = { successMargin: 0.05, successThreshold: 0.5, disagreements: 3, window: 5 };

test('the alarm fires once after N disagreements within W updates, then re-arms when the window clears', () => {
  const a = new HackingAlarm(options);
  const fired: boolean[] = [];
  // PRM at 0.97 claims success; the success signal disagrees (0), agrees (1), disagrees, disagrees.
  for (const success of [0, 1, 0, 0]) fired.push(a.update(0.97, success));
  assert.deepEqual(fired, [false, false, false, true]);
  assert.equal(a.active, true);
  assert.equal(a.update(0.97, 0), false, 'no second alarm while active');
  // Five clean updates push every disagreement out of the window: re-armed.
  for (let i = 0; i < 4; i++) a.update(0.3, 0);
  assert.equal(a.active, true);
  a.update(0.3, 0);
  assert.equal(a.inWindow, 0);
  assert.equal(a.active, false);
  const again = [a.update(0.99, 0.1), a.update(0.99, 0.1), a.update(0.99, 0.1)];
  assert.deepEqual(again, [false, false, true]);
  assert.equal(a.alarms, 2);
  assert.equal(a.disagreementsTotal, 7);
  assert.equal(a.claims, 8);
});

test('disagreements spread wider than the window do not fire', () => {
  const a = new HackingAlarm({ ...options, disagreements: 2, window: 3 });
  const fired = [a.update(0.97, 0), a.update(0.2, 0), a.update(0.2, 0), a.update(0.97, 0)];
  assert.deepEqual(fired, [false, false, false, false]);
  assert.equal(a.inWindow, 1);
});

test('only a success claim contradicted by the success signal counts', () => {
  const a = new HackingAlarm({ ...options, disagreements: 1, window: 4 });
  assert.equal(a.update(0.5, 0), false, 'the PRM does not claim success');
  assert.equal(a.update(0.97, 0.8), false, 'the success model agrees');
  assert.equal(a.update(0.97, Number.NaN), false, 'no success signal');
  assert.equal(a.update(Number.NaN, 0), false, 'no PRM value');
  assert.equal(a.disagreementsTotal, 0);
  assert.equal(a.update(0.95, 0.49), true, 'exactly 1 − δ is a claim; 0.49 is below the threshold');
});

test('a window shorter than the alarm count is refused', () => {
  assert.throws(() => new HackingAlarm({ ...options, disagreements: 6, window: 5 }), (e) => isStriatumError(e, 'STRIATUM_ERR_CONFIG'));
});
