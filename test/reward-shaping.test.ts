import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isStriatumError } from '../src/errors.js';
import {
  DEFAULT_HORIZON_S, RewardShaper, STEP_CONTINUES, STEP_TERMINAL, STEP_TRUNCATED, discountFromHorizon, type StepEnd,
} from '../src/reward/shaping.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { relabelSettings } from '../src/updater/relabel.js';

const close = (actual: number, expected: number, eps = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not ${expected}`);
};

test('shaping telescopes: Σ γ^t(γΦ′ − Φ) = γ^T·Φ_T − Φ_0, Φ_T = 0 at a terminal, kept on truncation', () => {
  const episode = fc.record({
    gamma: fc.double({ min: 0.5, max: 1, noNaN: true }),
    phi0: fc.double({ min: 0, max: 1, noNaN: true }),
    answers: fc.array(fc.record({ arrives: fc.boolean(), value: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 60 }),
    end: fc.constantFrom<StepEnd>(STEP_CONTINUES, STEP_TERMINAL, STEP_TRUNCATED),
  });
  fc.assert(fc.property(episode, ({ gamma, phi0, answers, end }) => {
    const shaper = new RewardShaper({ periodS: 0.02, gamma });
    shaper.beginEpisode(phi0);
    const T = answers.length;
    let sum = 0;
    let held = phi0;
    for (let t = 0; t < T; t++) {
      if (answers[t].arrives) {
        shaper.observeProgress(answers[t].value);
        held = answers[t].value;
      }
      const r = shaper.step(0, 0, t === T - 1 ? end : STEP_CONTINUES);
      sum += gamma ** t * r.shaping;
      // r_gold exactly on the step that ends the episode in success (a true terminal), whatever the progress.
      if (r.gold !== (t === T - 1 && end === STEP_TERMINAL ? 1 : 0)) return false;
      if (r.progress !== held) return false;
    }
    const phiT = end === STEP_TERMINAL ? 0 : held;
    return Math.abs(sum - (gamma ** T * phiT - phi0)) < 1e-9;
  }), { numRuns: 500 });
});

test('a hand-worked episode: held progress, success bonus, terminal potential', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.9 });
  s.beginEpisode(0.2);
  s.observeProgress(0.5);
  let r = s.step(0, 0, STEP_CONTINUES);
  close(r.shaping, 0.9 * 0.5 - 0.2); // 0.25
  assert.equal(r.gold, 0);
  assert.equal(r.fresh, true);
  r = s.step(0, 0, STEP_CONTINUES); // no new answer: Φ held at 0.5
  close(r.shaping, 0.9 * 0.5 - 0.5); // −0.05
  assert.equal(r.fresh, false);
  s.observeProgress(0.96);
  r = s.step(1, 0.25, STEP_TERMINAL);
  assert.equal(r.progress, 0.96);
  assert.equal(r.nextPotential, 0);
  close(r.shaping, -0.5);
  assert.equal(r.gold, 1, 'the step that ends the episode in success earns r_gold');
  close(r.total, 1 + 1 - 0.5 + 0.25); // task + gold + shaping + intrinsic
  assert.equal(r.terminal, true);
  assert.equal(r.step, 2);
});

test('reaching the goal is rewarded whatever the progress model reads there; hovering near it earns no bonus', () => {
  // The progress model of the first demo PRMs ended successful episodes near 0.86: under the old rule (r_gold when
  // progress ≥ 1 − δ) the terminal step paid 0.9·0 − 0.86 = −0.86, arriving was punished.
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.9 });
  s.beginEpisode(0);
  s.observeProgress(0.86);
  let r = s.step(0, 0, STEP_CONTINUES);
  close(r.total, 0.9 * 0.86 - 0); // 0.774
  r = s.step(0, 0, STEP_TERMINAL);
  assert.equal(r.gold, 1);
  close(r.total, 1 + 0 - 0.86); // 0.14: arriving beats staying (0.9·0.86 − 0.86 = −0.086)
  // Near the goal but not done: no bonus, and staying costs (1 − γ)·Φ per step.
  const h = new RewardShaper({ periodS: 0.02, gamma: 0.9, successReward: 2 });
  h.beginEpisode(0.97);
  h.observeProgress(0.99);
  r = h.step(0, 0, STEP_CONTINUES);
  assert.equal(r.gold, 0);
  close(r.total, 0.9 * 0.99 - 0.97); // −0.079
  r = h.step(0, 0, STEP_TERMINAL);
  close(r.total, 2 - 0.99); // R = 2
  assert.equal(h.goldSteps, 1);
});

test('a time-limit truncation keeps Φ(s′) and flags the step', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.9 });
  s.beginEpisode(0.4);
  s.observeProgress(0.7);
  const r = s.step(0, 0, STEP_TRUNCATED);
  assert.equal(r.nextPotential, 0.7);
  close(r.shaping, 0.9 * 0.7 - 0.4);
  assert.equal(r.truncated, true);
  assert.equal(r.terminal, false);
  assert.equal(s.truncations, 1);
});

test('steps without a valid PRM value are marked and counted, and their total is never NaN', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.99 });
  s.beginEpisode(); // no answer for s_0 yet: Φ = 0
  let r = s.step(0.5, 0, STEP_CONTINUES);
  assert.equal(r.noReward, true);
  assert.equal(r.shaping, 0);
  assert.equal(r.total, 0.5);
  s.observeProgress(0.6);
  r = s.step(0, 0, STEP_CONTINUES);
  assert.equal(r.noReward, false);
  s.observeProgress(Number.NaN); // the PRM timed out
  r = s.step(0, 0, STEP_CONTINUES);
  assert.equal(r.noReward, true);
  assert.ok(Number.isNaN(r.rawProgress));
  assert.equal(r.progress, 0.6, 'Φ holds its last valid value');
  close(r.shaping, 0.99 * 0.6 - 0.6);
  r = s.step(Number.NaN, Number.POSITIVE_INFINITY, STEP_CONTINUES);
  assert.ok(Number.isFinite(r.total));
  assert.equal(s.invalidComponents, 2);
  assert.equal(s.noRewardSteps, 3);
  assert.equal(s.invalidProgressAnswers, 1);
});

test('out-of-range PRM progress is clipped to [0,1] but recorded raw', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 1 });
  s.beginEpisode(0);
  s.observeProgress(1.3);
  const r = s.step(0, 0, STEP_CONTINUES);
  assert.equal(r.rawProgress, 1.3);
  assert.equal(r.progress, 1);
  assert.equal(r.shaping, 1);
});

test('γ from a horizon in seconds: exp(−dt/τ)', () => {
  // 50 Hz, τ = 2 s: exp(−0.01)
  close(discountFromHorizon(0.02, 2), 0.9900498337491681, 1e-15);
  assert.equal(new RewardShaper({ periodS: 0.02, horizonS: 2 }).gamma, discountFromHorizon(0.02, 2));
  assert.equal(new RewardShaper({ periodS: 0.02, gamma: 0.97 }).gamma, 0.97);
  const config = (e: unknown) => isStriatumError(e, 'STRIATUM_ERR_CONFIG');
  assert.throws(() => new RewardShaper({ periodS: 0.02 }), config);
  assert.throws(() => new RewardShaper({ periodS: 0.02, gamma: 0.9, horizonS: 2 }), config);
  assert.throws(() => new RewardShaper({ periodS: 0.02, gamma: 1.2 }), config);
  assert.throws(() => new RewardShaper({ periodS: 0.02, horizonS: 0 }), config);
});

test('the robot and the updater discount alike by default: a 10 s horizon', () => {
  // The robot's reward pipeline uses DEFAULT_HORIZON_S when its config gives neither gamma nor horizon_s; the
  // updater's relabeler must discount the same way or the shaping is no longer policy-invariant.
  assert.equal(DEFAULT_HORIZON_S, 10);
  const updater = UpdaterConfigSchema.parse({ broker: { url: 'mqtt://127.0.0.1:1883', username: 'u', password: 'p' }, store: { path: 'store.sqlite' },
    training: { base_policy_dir: 'models/push', out_dir: 'rounds' } });
  const shaping = updater.training?.shaping;
  assert.equal(shaping?.horizon_s, DEFAULT_HORIZON_S);
  close(relabelSettings({ ...shaping, success_margin: 0.05, period_s: 0.02 }).gamma, Math.exp(-0.002), 1e-15);
});

test('done needs K consecutive answers at ≥ 1 − δ and clears only below 1 − δ − h', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.99, doneUpdates: 3, successMargin: 0.05, doneHysteresis: 0.1 });
  s.beginEpisode(0);
  const seen: boolean[] = [];
  for (const p of [0.96, 0.97, 0.94, 0.96, 0.96, 0.96, 0.9, 0.86, 0.96, 0.84]) {
    s.observeProgress(p);
    seen.push(s.done);
  }
  // 0.94 breaks the first streak; the second reaches 3; 0.9 and 0.86 sit above 0.85 and keep done; 0.84 clears.
  assert.deepEqual(seen, [false, false, false, false, false, true, true, true, true, false]);
  assert.equal(s.step(0, 0, STEP_CONTINUES).done, false);
});

test('an invalid answer breaks the done streak but does not clear done', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.99, doneUpdates: 2 });
  s.beginEpisode(0);
  s.observeProgress(0.97);
  s.observeProgress(Number.NaN);
  s.observeProgress(0.97);
  assert.equal(s.done, false);
  s.observeProgress(0.97);
  assert.equal(s.done, true);
  s.observeProgress(Number.NaN);
  assert.equal(s.done, true);
});

test('running normalization scales by the running std, centers only on request, and clips', () => {
  const scaled = new RewardShaper({ periodS: 0.02, gamma: 1, normalization: { clip: 10, center: false } });
  const centered = new RewardShaper({ periodS: 0.02, gamma: 1, normalization: { clip: 10, center: true } });
  const clipped = new RewardShaper({ periodS: 0.02, gamma: 1, normalization: { clip: 0.5, center: false } });
  for (const s of [scaled, centered, clipped]) s.beginEpisode(0);
  // Totals 1 then 3 (task reward only; Φ stays 0). After two: mean 2, population std 1.
  assert.equal(scaled.step(1, 0, STEP_CONTINUES).normalized, 1, 'one sample passes through');
  close(scaled.step(3, 0, STEP_CONTINUES).normalized, 3, 1e-7);
  centered.step(1, 0, STEP_CONTINUES);
  close(centered.step(3, 0, STEP_CONTINUES).normalized, 1, 1e-7);
  clipped.step(1, 0, STEP_CONTINUES);
  const r = clipped.step(3, 0, STEP_CONTINUES);
  assert.equal(r.normalized, 0.5);
  assert.equal(r.total, 3, 'the raw total is kept beside the normalized one');
});

test('stepping after the episode ended, without beginning a new one, is refused', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.99 });
  s.beginEpisode(0);
  s.step(0, 0, STEP_TERMINAL);
  assert.throws(() => s.step(0, 0, STEP_CONTINUES), (e) => isStriatumError(e, 'STRIATUM_ERR_INTERNAL'));
  s.beginEpisode(0);
  assert.equal(s.step(0, 0, STEP_CONTINUES).step, 0);
});

test('step() hands back the same preallocated record every time', () => {
  const s = new RewardShaper({ periodS: 0.02, gamma: 0.99 });
  s.beginEpisode(0);
  assert.equal(s.step(0, 0, STEP_CONTINUES), s.record);
  assert.equal(s.step(0, 0, STEP_CONTINUES), s.record);
});
