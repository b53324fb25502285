// One control step's reward, every component kept apart so an updater can relabel it later (new PRM weights,
// a late PRM answer, another γ) without re-running the robot. The composer owns one record and overwrites it
// each step; a recorder that keeps steps copies them into its own preallocated records with copyFrom().

export class RewardStep {
  episode = 0;
  /** Step index within the episode, from 0. */
  step = 0;
  /** The PRM's latest answer as received: NaN on a failed or timed-out call, may lie outside [0,1]. */
  rawProgress = Number.NaN;
  /** Progress estimate of s′: the last valid answer clipped to [0,1], held between answers (0 before any). */
  progress = 0;
  /** Φ(s), the potential of the state the action was taken in. */
  potential = 0;
  /** Φ(s′) as used in shaping: `progress`, or 0 at a true terminal. */
  nextPotential = 0;
  /** γ·Φ(s′) − Φ(s). */
  shaping = 0;
  /** 1 when progress ≥ 1 − δ, else 0. */
  gold = 0;
  /** Environment (task) reward. */
  task = 0;
  /** Intrinsic reward (e.g. RND), already scaled by the caller. */
  intrinsic = 0;
  /** task + gold + shaping + intrinsic; never NaN. */
  total = 0;
  /** total after running normalization (equal to total when normalization is off). */
  normalized = 0;
  /** A PRM answer (valid or not) arrived since the previous step. */
  fresh = false;
  /** The PRM had no valid value for s′ (its last answer failed, or none has come this episode). */
  noReward = false;
  /** Done detector state after this step (hysteresis over PRM answers). */
  done = false;
  /** The episode ended in a true terminal state at s′ (Φ(s′) = 0). */
  terminal = false;
  /** The episode was cut by a time limit at s′ (Φ(s′) kept: bootstrap, not terminal). */
  truncated = false;

  copyFrom(s: RewardStep): void {
    this.episode = s.episode;
    this.step = s.step;
    this.rawProgress = s.rawProgress;
    this.progress = s.progress;
    this.potential = s.potential;
    this.nextPotential = s.nextPotential;
    this.shaping = s.shaping;
    this.gold = s.gold;
    this.task = s.task;
    this.intrinsic = s.intrinsic;
    this.total = s.total;
    this.normalized = s.normalized;
    this.fresh = s.fresh;
    this.noReward = s.noReward;
    this.done = s.done;
    this.terminal = s.terminal;
    this.truncated = s.truncated;
  }
}
