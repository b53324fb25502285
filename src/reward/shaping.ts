// The reward composer's per-step math: policy-invariant potential shaping on PRM progress (Ng et al. 1999, as
// Dopamine-RL uses it), a success bonus, done detection, optional normalization.
//
//   r = r_task + r_gold + γ·Φ(s′) − Φ(s) + r_intrinsic,    Φ(s′) = 0 when s′ is a true terminal,
//   r_gold = R (the success reward, default 1) on the step whose s′ is a true terminal, else 0
//
// - A true terminal is a success verdict: the success model's done rule in learning mode, the environment's own
//   success otherwise (failures end by time limit: truncations). So r_gold fires exactly where the episode ends
//   in success, whatever the progress model reads there, and the terminal step earns R − Φ(s) ≥ 0 for R ≥ 1:
//   arriving is never punished, and beats staying (γΦ − Φ ≤ 0). Summed, Σ_t γ^t r_t = γ^T_succ·R − Φ_0 for a
//   success, γ^T·Φ_T − Φ_0 for a truncation (plus r_task, r_intrinsic): the shaping changes no optimal policy.
//   An earlier rule paid r_gold on every step with Φ(s′) ≥ 1 − δ: a progress model that tops out below 1 − δ at
//   the goal never paid it, and one that reaches it paid for hovering near the goal, not for finishing.
//
// - Φ is the PRM's progress in [0,1], held (zero-order hold) between PRM answers, which come slower than
//   control steps. On a held step the shaping term is (γ − 1)·Φ: still a consistent potential, so the sum over
//   an episode telescopes: Σ_t γ^t(γΦ_{t+1} − Φ_t) = γ^T·Φ_T − Φ_0.
// - At a true terminal Φ(s′) = 0 (the sum becomes −Φ_0). On a time-limit truncation Φ(s′) is kept — the state
//   is not terminal and the learner must bootstrap from it — and the step is flagged `truncated`.
// - Without γ and r_gold, Φ(s′) − Φ(s) is the "semantic trap" (hovering near the goal pays as well as finishing).
// - "No reward": when the PRM's last answer was NaN or timed out (or none has come this episode) the step is
//   marked `noReward` and counted; Φ holds its last valid value (0 before any), so the total stays finite and
//   the potential stays consistent. An updater can drop or relabel such steps.
// - Done: K consecutive PRM answers with Φ ≥ 1 − δ set done; an answer below 1 − δ − h clears it; answers in
//   between (or invalid ones) break the streak but leave the state. The caller decides whether done ends the
//   episode; if it does, it passes STEP_TERMINAL to that step.
// - Normalization (optional): Welford running mean/std of the total, clip((r − μ)/σ) or clip(r/σ). Centering is
//   off by default: subtracting a running mean adds a constant per step, which in episodic tasks rewards or
//   punishes episode length and so changes the optimal policy; scaling alone does not.
//
// γ comes from the config, or from the control period and a horizon τ in seconds: γ = exp(−dt/τ). A reward τ
// seconds ahead is then weighted 1/e, whatever the control rate (the effective horizon 1/(1−γ) ≈ τ/dt steps).
// The default τ is 10 s (DEFAULT_HORIZON_S; at 50 Hz γ = e^−0.002 ≈ 0.998). With a shorter horizon a success that
// takes several seconds keeps only a few percent of R, and PRM-only returns rank episodes worse (docs/rewards.md).
//
// Everything is resolved in the constructor; step() allocates nothing and writes into one preallocated record.
import { StriatumError } from '../errors.js';
import { RewardStep } from './reward-step.js';
import { RunningMoments } from './running-stats.js';

export const STEP_CONTINUES = 0;
export const STEP_TERMINAL = 1;
export const STEP_TRUNCATED = 2;
export type StepEnd = 0 | 1 | 2;

/** τ in seconds when the config gives neither gamma nor horizon_s; the robot and the updater must agree on it. */
export const DEFAULT_HORIZON_S = 10;

export const SHAPING_DEFAULTS = {
  successMargin: 0.05,
  doneUpdates: 3,
  doneHysteresis: 0.05,
} as const;

export interface ShapingOptions {
  /** Control period in seconds. */
  readonly periodS: number;
  /** Discount per control step; give this or horizonS, not both. */
  readonly gamma?: number | null;
  /** Horizon τ in seconds: γ = exp(−periodS/τ). */
  readonly horizonS?: number | null;
  /** δ: progress ≥ 1 − δ counts toward done (when done comes from the progress model). */
  readonly successMargin?: number;
  /** R: r_gold on the step that ends the episode in success (a true terminal); default 1. */
  readonly successReward?: number;
  /** K: consecutive PRM answers at ≥ 1 − δ before done. */
  readonly doneUpdates?: number;
  /** h: done clears when an answer falls below 1 − δ − h. */
  readonly doneHysteresis?: number;
  /** Running normalization of the total; null for none. */
  readonly normalization?: { readonly clip: number; readonly center: boolean } | null;
}

/** γ = exp(−dt/τ): the per-step discount that weighs a reward τ seconds ahead by 1/e. */
export function discountFromHorizon(periodS: number, horizonS: number): number {
  return Math.exp(-periodS / horizonS);
}

/** The discount per control step from the config: γ itself, or derived from a horizon in seconds. */
export function resolveDiscount(options: Pick<ShapingOptions, 'periodS' | 'gamma' | 'horizonS'>): number {
  const gamma = options.gamma ?? null;
  const horizonS = options.horizonS ?? null;
  if (gamma !== null && horizonS !== null) throw new StriatumError('STRIATUM_ERR_CONFIG', 'reward shaping: set gamma or horizon_s, not both');
  if (gamma !== null) {
    if (!(gamma > 0 && gamma <= 1)) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: gamma must be in (0,1], got ${gamma}`);
    return gamma;
  }
  if (horizonS === null) throw new StriatumError('STRIATUM_ERR_CONFIG', 'reward shaping: set gamma or horizon_s');
  if (!(horizonS > 0) || !(options.periodS > 0)) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: horizon_s (${horizonS}) and the control period (${options.periodS}) must be positive`);
  }
  return discountFromHorizon(options.periodS, horizonS);
}

export class RewardShaper {
  readonly gamma: number;
  /** 1 − δ. */
  readonly successThreshold: number;
  /** 1 − δ − h. */
  readonly clearThreshold: number;
  readonly doneUpdates: number;
  /** R: r_gold at a true terminal. */
  readonly successReward: number;
  /** The record step() fills; overwritten every step. */
  readonly record = new RewardStep();
  /** Running moments of the total; null when normalization is off. */
  readonly totals: RunningMoments | null;
  private readonly clip: number;
  private readonly center: boolean;

  /** Done detector state. */
  done = false;
  steps = 0;
  noRewardSteps = 0;
  goldSteps = 0;
  progressAnswers = 0;
  invalidProgressAnswers = 0;
  /** Task or intrinsic rewards that were NaN or infinite, counted as 0. */
  invalidComponents = 0;
  terminals = 0;
  truncations = 0;

  private episode = 0;
  private stepInEpisode = 0;
  private ended = true;
  private potential = 0; // Φ(s)
  private held = 0; // last valid progress, clipped
  private rawProgress = Number.NaN;
  private valid = false; // the last answer this episode was valid
  private fresh = false;
  private streak = 0;

  constructor(options: ShapingOptions) {
    this.gamma = resolveDiscount(options);
    const delta = options.successMargin ?? SHAPING_DEFAULTS.successMargin;
    const hysteresis = options.doneHysteresis ?? SHAPING_DEFAULTS.doneHysteresis;
    const k = options.doneUpdates ?? SHAPING_DEFAULTS.doneUpdates;
    if (!(delta >= 0 && delta < 1)) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: success margin must be in [0,1), got ${delta}`);
    if (!(hysteresis >= 0)) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: done hysteresis must be ≥ 0, got ${hysteresis}`);
    if (!Number.isInteger(k) || k < 1) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: done updates must be an integer ≥ 1, got ${k}`);
    this.successThreshold = 1 - delta;
    this.clearThreshold = 1 - delta - hysteresis;
    this.doneUpdates = k;
    this.successReward = options.successReward ?? 1;
    if (!Number.isFinite(this.successReward)) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: success reward must be finite, got ${this.successReward}`);
    const norm = options.normalization ?? null;
    if (norm !== null && !(norm.clip > 0)) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward shaping: normalization clip must be positive, got ${norm.clip}`);
    this.totals = norm === null ? null : new RunningMoments();
    this.clip = norm === null ? Infinity : norm.clip;
    this.center = norm === null ? false : norm.center;
  }

  /**
   * Start an episode. initialProgress is the PRM's answer for s_0 when there is one; NaN (no answer yet) gives
   * Φ(s_0) = 0 and marks steps "no reward" until the first valid answer.
   */
  beginEpisode(initialProgress = Number.NaN): void {
    this.episode++;
    this.stepInEpisode = 0;
    this.ended = false;
    this.done = false;
    this.streak = 0;
    this.rawProgress = initialProgress;
    this.valid = Number.isFinite(initialProgress);
    this.held = this.valid ? clip01(initialProgress) : 0;
    this.potential = this.held;
    this.fresh = false;
  }

  /** A PRM answer arrived: progress of the newest state, NaN when the call failed or timed out. */
  observeProgress(value: number): void {
    this.progressAnswers++;
    this.rawProgress = value;
    this.fresh = true;
    if (!Number.isFinite(value)) {
      this.invalidProgressAnswers++;
      this.valid = false;
      this.streak = 0;
      return;
    }
    this.valid = true;
    this.held = clip01(value);
    if (this.held >= this.successThreshold) {
      this.streak++;
      if (this.streak >= this.doneUpdates) this.done = true;
    } else {
      this.streak = 0;
      if (this.held < this.clearThreshold) this.done = false;
    }
  }

  /**
   * One control step s → s′, with the progress held from the latest answer. `end` says whether s′ is a true
   * terminal, a time-limit truncation, or neither. Returns the shared record.
   */
  step(taskReward: number, intrinsicReward: number, end: StepEnd): RewardStep {
    if (this.ended) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'reward shaping: step() outside an episode (call beginEpisode() first)');
    let task = taskReward;
    let intrinsic = intrinsicReward;
    if (!Number.isFinite(task)) {
      task = 0;
      this.invalidComponents++;
    }
    if (!Number.isFinite(intrinsic)) {
      intrinsic = 0;
      this.invalidComponents++;
    }
    const terminal = end === STEP_TERMINAL;
    const truncated = end === STEP_TRUNCATED;
    const progress = this.held;
    const next = terminal ? 0 : progress;
    const shaping = this.gamma * next - this.potential;
    const gold = terminal ? this.successReward : 0;
    const total = task + gold + shaping + intrinsic;
    const noReward = !this.valid;

    const r = this.record;
    r.episode = this.episode;
    r.step = this.stepInEpisode;
    r.rawProgress = this.rawProgress;
    r.progress = progress;
    r.potential = this.potential;
    r.nextPotential = next;
    r.shaping = shaping;
    r.gold = gold;
    r.task = task;
    r.intrinsic = intrinsic;
    r.total = total;
    r.normalized = this.totals === null ? total : this.normalize(total);
    r.fresh = this.fresh;
    r.noReward = noReward;
    r.done = this.done;
    r.terminal = terminal;
    r.truncated = truncated;

    this.steps++;
    this.stepInEpisode++;
    if (noReward) this.noRewardSteps++;
    if (terminal) this.goldSteps++;
    if (terminal) this.terminals++;
    if (truncated) this.truncations++;
    this.ended = terminal || truncated;
    this.potential = progress;
    this.fresh = false;
    return r;
  }

  private normalize(total: number): number {
    const m = this.totals as RunningMoments;
    m.push(total);
    // One sample has no spread: pass it through unscaled. The 1e-8 keeps a constant stream finite (as gym does).
    const sigma = m.count < 2 ? 1 : Math.sqrt(m.variance + 1e-8);
    const v = (this.center ? total - m.mean : total) / sigma;
    return v > this.clip ? this.clip : v < -this.clip ? -this.clip : v;
  }
}

function clip01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
