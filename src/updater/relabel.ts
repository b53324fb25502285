// Reward relabeling for training rounds: recompute each stored step's reward from its recorded components with
// the updater's current shaping settings (γ, δ), so a round trains on today's reward definition, not on whatever
// the robot ran with. Pure: arrays in, arrays out, no I/O.
//
//   r = r_task + r_gold + γ·Φ′ − Φ,   Φ′ = 0 at a true terminal,   r_gold = R at a true terminal, else 0
//
// (the formula of src/reward/shaping.ts; docs/rewards.md writes it out). A true terminal is a success verdict:
// in learning mode the success model's done rule, never the simulator's flag (that reaches no stored column).
// - Φ is the stored `potential`, Φ′ the stored `next_potential` (held Φ where that is not finite).
// - The intrinsic reward is left out: it measured novelty against the robot's own running model at that moment,
//   which is no longer the learner's (a round can add its own).
// - A step with no reward record (NaN components: the robot ran without a reward composer) contributes r_task
//   when finite, else R at a true terminal and 0 elsewhere; such steps are counted.
// - A step is a true terminal when flagged done and not truncated. A time-limit truncation keeps Φ′ (bootstrap).
import { FLAG_DONE, FLAG_TRUNCATED, type RewardComponent } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import { resolveDiscount } from '../reward/shaping.js';

export interface RelabelSettings {
  /** Discount per control step. */
  readonly gamma: number;
  /** δ of the robot's done-from-progress rule; recorded in the snapshot manifest, not part of r. */
  readonly successMargin: number;
  /** R: r_gold at a true terminal (the robot's shaping.task_success_reward, default 1). */
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

/** Relabel one episode's steps (columns as stored, one value per step). */
export function relabelRewards(reward: Readonly<Record<RewardComponent, Float32Array>>, flags: Uint8Array, s: RelabelSettings): RelabelResult {
  const n = flags.length;
  const rewards = new Float32Array(n);
  const terminals = new Int32Array(n);
  const successReward = s.taskSuccessReward ?? 1;
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
      rewards[t] = recordedTask ? task : terminal ? successReward : 0;
      continue;
    }
    let next = reward.next_potential[t];
    if (!Number.isFinite(next)) next = phi;
    const gold = terminal ? successReward : 0;
    if (terminal) goldSteps++;
    rewards[t] = task + gold + s.gamma * (terminal ? 0 : next) - phi;
  }
  return { rewards, terminals, unrecordedSteps: unrecorded, goldSteps };
}
