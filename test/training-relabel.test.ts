// Relabeling math against hand-computed values: r = r_task + r_gold + γΦ′ − Φ, Φ′ = 0 and r_gold = R at true
// terminals (success verdicts), r_gold = 0 elsewhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAG_DONE, FLAG_NO_REWARD, FLAG_TRUNCATED, REWARD_COMPONENTS, type RewardComponent } from '../src/contracts/rollout.js';
import { RewardShaper, STEP_CONTINUES, STEP_TERMINAL, STEP_TRUNCATED } from '../src/reward/shaping.js';
import { relabelRewards, relabelSettings } from '../src/updater/relabel.js';

type Row = Partial<Record<RewardComponent, number>>;

function columns(rows: Row[]): Record<RewardComponent, Float32Array> {
  const out = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) out[k] = Float32Array.from(rows, (r) => r[k] ?? 0);
  return out;
}

const close = (actual: ArrayLike<number>, expected: number[]) => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-6, `row ${i}: ${actual[i]} vs ${e}`));
};

const S = { gamma: 0.9, successMargin: 0.1 };

test('relabel: shaping, gold and the zeroed potential at a true terminal, by hand', () => {
  const reward = columns([
    { potential: 0.2, next_potential: 0.5, raw_progress: 0.5 },
    { potential: 0.5, next_potential: 0.95, raw_progress: 0.95, task: 0.1 },
    { potential: 0.95, next_potential: 0, raw_progress: 0.97, gold: 1 }, // terminal: the robot stored Φ′ = 0
  ]);
  const r = relabelRewards(reward, Uint8Array.from([0, 0, FLAG_DONE]), S);
  // 0 + 0 + 0.9·0.5 − 0.2 = 0.25;  0.1 + 0 (not the end, however high Φ′) + 0.9·0.95 − 0.5 = 0.455;
  // 0 + 1 (the success terminal) + 0 − 0.95 = 0.05
  close(r.rewards, [0.25, 0.455, 0.05]);
  assert.deepEqual([...r.terminals], [0, 0, 1]);
  assert.equal(r.goldSteps, 1);
  // The terminal pays R − Φ whatever the progress model read at the goal (0.86: not punished, 1 − 0.86 = 0.14).
  const low = columns([{ potential: 0.86, next_potential: 0, raw_progress: 0.86 }]);
  close(relabelRewards(low, Uint8Array.from([FLAG_DONE]), S).rewards, [0.14]);
  close(relabelRewards(low, Uint8Array.from([FLAG_DONE]), { ...S, taskSuccessReward: 3 }).rewards, [2.14]);
  assert.equal(r.unrecordedSteps, 0);
});

test('relabel: a time-limit truncation keeps Φ′ (no terminal), and done+truncated counts as truncated', () => {
  const reward = columns([{ potential: 0.95, next_potential: 0.95, raw_progress: 0.95 }]);
  for (const flags of [FLAG_TRUNCATED, FLAG_TRUNCATED | FLAG_DONE]) {
    const r = relabelRewards(reward, Uint8Array.from([flags]), S);
    close(r.rewards, [0.9 * 0.95 - 0.95]); // −0.095: a time-out near the goal earns no bonus
    assert.deepEqual([...r.terminals], [0]);
  }
});

test('relabel: the current γ applies, not the robot\'s', () => {
  const reward = columns([{ potential: 0.8, next_potential: 0.92, gold: 0, total: 123 }]);
  close(relabelRewards(reward, new Uint8Array(1), { gamma: 1, successMargin: 0.1 }).rewards, [0.92 - 0.8]);
  close(relabelRewards(reward, new Uint8Array(1), { gamma: 0.5, successMargin: 0.05 }).rewards, [0.46 - 0.8]);
});

test('relabel: steps without a reward record give r_task (or 0) and are counted; intrinsic is left out', () => {
  const reward = columns([{ intrinsic: 5 }, { potential: 0.3, next_potential: 0.3, intrinsic: 7 }]);
  reward.potential[0] = Number.NaN;
  reward.next_potential[0] = Number.NaN;
  reward.task[0] = Number.NaN;
  const r = relabelRewards(reward, Uint8Array.from([FLAG_NO_REWARD, 0]), S);
  close(r.rewards, [0, 0.9 * 0.3 - 0.3]);
  assert.equal(r.unrecordedSteps, 1);
  // No reward composer at all: a true terminal (environment success) earns the task success reward.
  const none = columns([{}, {}, {}]);
  for (const k of REWARD_COMPONENTS) none[k].fill(Number.NaN);
  const flags = Uint8Array.from([FLAG_NO_REWARD, FLAG_NO_REWARD, FLAG_NO_REWARD | FLAG_DONE]);
  close(relabelRewards(none, flags, S).rewards, [0, 0, 1]);
  close(relabelRewards(none, flags, { ...S, taskSuccessReward: 2 }).rewards, [0, 0, 2]);
  close(relabelRewards(none, Uint8Array.from([0, 0, FLAG_TRUNCATED]), S).rewards, [0, 0, 0]);
  // A terminal whose last PRM answer was invalid: progress(s′) is the held Φ.
  const t = columns([{ potential: 0.3, next_potential: 0 }]);
  t.raw_progress[0] = Number.NaN;
  close(relabelRewards(t, Uint8Array.from([FLAG_DONE]), S).rewards, [1 - 0.3]);
});

test('relabel: over an episode the shaping telescopes to γ^T·Φ_T − Φ_0 (minus Φ_T at a terminal)', () => {
  const phi = [0.1, 0.3, 0.3, 0.6, 0.7];
  const rows: Row[] = phi.slice(0, -1).map((p, t) => ({ potential: p, next_potential: phi[t + 1] }));
  const g = 0.99;
  const r = relabelRewards(columns(rows), new Uint8Array(rows.length), { gamma: g, successMargin: 0.05 });
  const discounted = [...r.rewards].reduce((s, x, t) => s + g ** t * x, 0);
  assert.ok(Math.abs(discounted - (g ** 4 * 0.7 - 0.1)) < 1e-5);
});

test('relabel settings: γ from a horizon as the robot resolves it; readable config errors', () => {
  assert.ok(Math.abs(relabelSettings({ horizon_s: 2, period_s: 0.02, success_margin: 0.05 }).gamma - Math.exp(-0.01)) < 1e-12);
  assert.equal(relabelSettings({ gamma: 0.97, horizon_s: null, period_s: 0.02, success_margin: 0.05 }).gamma, 0.97);
  assert.throws(() => relabelSettings({ gamma: 0.9, horizon_s: 2, period_s: 0.02, success_margin: 0.05 }), { code: 'STRIATUM_ERR_CONFIG' } as never);
  assert.throws(() => relabelSettings({ horizon_s: 2, period_s: 0.02, success_margin: 1 }), { code: 'STRIATUM_ERR_CONFIG' } as never);
});

test('relabel reproduces the robot\'s own shaped reward (RewardShaper) from the stored components, step for step', () => {
  // The robot computes r with RewardShaper; the updater recomputes it from what the recorder stored. With the same
  // γ and δ the two must agree, or a round trains on a reward the robot never gave. Seeded episodes with missing
  // and failed PRM answers, answers over the success threshold, task rewards, true terminals and truncations.
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const gamma = 0.97;
  const successMargin = 0.1;
  for (let episode = 0; episode < 20; episode++) {
    const shaper = new RewardShaper({ periodS: 0.02, gamma, successMargin });
    const steps = 5 + Math.floor(rand() * 40);
    const end = rand() < 0.5 ? STEP_TERMINAL : STEP_TRUNCATED;
    shaper.beginEpisode(rand() < 0.3 ? Number.NaN : rand() * 0.3);
    const rows: Row[] = [];
    const flags = new Uint8Array(steps);
    const robot: number[] = [];
    for (let t = 0; t < steps; t++) {
      const u = rand();
      if (u < 0.1) shaper.observeProgress(Number.NaN); // a failed answer
      else if (u < 0.6) shaper.observeProgress(Math.min(1.05, (t / steps) * 1.2 + (rand() - 0.5) * 0.1));
      const last = t === steps - 1;
      const r = shaper.step(rand() < 0.2 ? rand() : 0, 0, last ? end : STEP_CONTINUES);
      rows.push({ raw_progress: r.rawProgress, potential: r.potential, next_potential: r.nextPotential, shaping: r.shaping, gold: r.gold, task: r.task, intrinsic: r.intrinsic, total: r.total });
      if (last) flags[t] = end === STEP_TERMINAL ? FLAG_DONE : FLAG_DONE | FLAG_TRUNCATED;
      robot.push(r.total);
    }
    const relabeled = relabelRewards(columns(rows), flags, { gamma, successMargin });
    close(relabeled.rewards, robot);
  }
});
