// Which signal ends an episode as a success: the success model with its done rule (learning mode), or the
// environment's own flag. Resolved once at start-up. In learning mode the environment's verdict (the simulator's
// success flag and progress) reaches only the episode summary's ground_truth, for evaluation: never a reward, a
// terminal, a recorded step, a snapshot or the rollback decision. A real robot has no such flag.
import type { RobotConfig } from '../config/schema.js';
import { successModel } from './prm/config.js';

export type SuccessSignal = 'success_model' | 'environment';

/**
 * episodes.success_signal, or its default: the success model when the robot records rollouts for a learner and
 * runs a success model; the environment otherwise (recording demonstrations, evaluation, no learner). A robot
 * whose reward models are not started (offline `record` and `eval`) always uses the environment's verdict.
 */
export function resolveSuccessSignal(cfg: Pick<RobotConfig, 'episodes' | 'reward' | 'rollout'>, rewardsRunning: boolean): SuccessSignal {
  const hasSuccessModel = cfg.reward !== null && successModel(cfg.reward) !== null;
  if (!rewardsRunning || !hasSuccessModel) return 'environment';
  const chosen = cfg.episodes.success_signal;
  if (chosen !== null) return chosen;
  return cfg.rollout !== null && cfg.rollout.enabled ? 'success_model' : 'environment';
}
