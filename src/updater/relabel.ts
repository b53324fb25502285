// Reward relabeling for training rounds: recompute each stored step's reward from its recorded components with
// the updater's current shaping settings (γ, δ), so a round trains on today's reward definition, not on whatever
// the robot ran with. Pure: arrays in, arrays out, no I/O.
//
//   r = r_task + r_gold + γ·Φ′ − Φ,   Φ′ = 0 at a true terminal,   r_gold = 1 when progress(s′) ≥ 1 − δ
//
// - Φ is the stored `potential`. progress(s′) is the stored `next_potential`, except at a true terminal, where the
//   robot zeroed Φ′: there it is the clipped `raw_progress` when that answer was valid, else Φ (the held value).
// - The intrinsic reward is left out: it measured novelty against the robot's own running model at that moment,
//   which is no longer the learner's (a round can add its own).
// - A step with no reward record (NaN components: the robot ran without a reward composer) contributes r_task
//   when finite, else the task success reward at a true terminal (the environment reported success) and 0
//   elsewhere; such steps are counted.
// - A step is a true terminal when flagged done and not truncated. A time-limit truncation keeps Φ′ (bootstrap).
import { FLAG_DONE, FLAG_TRUNCATED, type RewardComponent } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import { resolveDiscount } from '../reward/shaping.js';

export interface RelabelSettings {
  /** Discount per control step. */
  readonly gamma: number;
  /** δ: progress ≥ 1 − δ earns r_gold. */
  readonly successMargin: number;
  /** r_task of an unrecorded true-terminal step (the robot's shaping.task_success_reward, default 1). */
  readonly taskSuccessReward?: number;
}

export interface RelabelResult {
  readonly rewards: Float32Array;
  /** 1 where s′ is a true terminal (Φ′ = 0, no bootstrap). */
  readonly terminals: Int32Array;
  /** Steps without a reward record (potential NaN). */
  readonly unrecordedSteps: number;
  readonly goldSteps: number;
}

/** γ from either γ itself or a horizon in seconds and the control period, as the robot resolves it. */
export function relabelSettings(o: { gamma?: number | null; horizon_s?: number | null; success_margin: number; period_s: number; task_success_reward?: number }): RelabelSettings {
  if (!(o.success_margin >= 0 && o.success_margin < 1)) throw new StriatumError('STRIATUM_ERR_CONFIG', `training.shaping.success_margin must be in [0,1), got ${o.success_margin}`);
  return { gamma: resolveDiscount({ periodS: o.period_s, gamma: o.gamma ?? null, horizonS: o.horizon_s ?? null }), successMargin: o.success_margin, taskSuccessReward: o.task_success_reward ?? 1 };
}

function clip01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Relabel one episode's steps (columns as stored, one value per step). */
export function relabelRewards(reward: Readonly<Record<RewardComponent, Float32Array>>, flags: Uint8Array, s: RelabelSettings): RelabelResult {
  const n = flags.length;
  const rewards = new Float32Array(n);
  const terminals = new Int32Array(n);
  const threshold = 1 - s.successMargin;
  let unrecorded = 0;
  let goldSteps = 0;
  for (let t = 0; t < n; t++) {
    const terminal = (flags[t] & FLAG_DONE) !== 0 && (flags[t] & FLAG_TRUNCATED) === 0;
    terminals[t] = terminal ? 1 : 0;
    const recordedTask = Number.isFinite(reward.task[t]);
    const task = recordedTask ? reward.task[t] : 0;
    const phi = reward.potential[t];
    if (!Number.isFinite(phi)) {
      unrecorded++;
      rewards[t] = recordedTask ? task : terminal ? (s.taskSuccessReward ?? 1) : 0;
      continue;
    }
    let next: number;
    if (!terminal) next = reward.next_potential[t];
    else next = Number.isFinite(reward.raw_progress[t]) ? clip01(reward.raw_progress[t]) : phi;
    if (!Number.isFinite(next)) next = phi;
    const gold = next >= threshold ? 1 : 0;
    goldSteps += gold;
    rewards[t] = task + gold + s.gamma * (terminal ? 0 : next) - phi;
  }
  return { rewards, terminals, unrecordedSteps: unrecorded, goldSteps };
}
