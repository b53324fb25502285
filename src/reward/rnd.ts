// Random Network Distillation (Burda et al. 2018) intrinsic-reward math. The target f and predictor f̂ are ONNX
// networks run elsewhere; this file sees only their output vectors and the observation.
//
//   observation  ô = clip((o − μ)/σ, −5, 5), μ and σ running (Welford), seeded from a random-policy warm-up
//   raw reward   r_int = mean_i (f̂(ô)_i − f(ô)_i)²
//   scaled       r_int / std(R), where R ← γ_int·R + r_int (the paper's RewardForwardFilter), std running over R
//
// The intrinsic return is non-episodic in RND: R is not reset at episode ends (reset() is for a fresh run).
// A non-finite observation or reward is refused and counted, never folded in: one NaN in a running mean would
// poison it for the rest of the run.
// σ = sqrt(var + 1e-8) so a constant feature normalizes to 0 instead of 0/0. Every method allocates nothing;
// the caller owns the output buffer the normalized observation is written into (the RND input tensor).
import { StriatumError } from '../errors.js';
import { RunningMoments, RunningMomentsVector } from './running-stats.js';

/** r_int = mean of the squared differences between the predictor's and the target's features. */
export function rndPredictionError(predicted: ArrayLike<number>, target: ArrayLike<number>): number {
  if (predicted.length !== target.length) {
    throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `RND predictor gives ${predicted.length} features, target ${target.length}`);
  }
  let s = 0;
  for (let i = 0; i < predicted.length; i++) {
    const d = predicted[i] - target[i];
    s += d * d;
  }
  return s / predicted.length;
}

export class RndObservationNormalizer {
  readonly dim: number;
  readonly clip: number;
  readonly warmupSteps: number;
  readonly stats: RunningMomentsVector;
  /** Observations refused by update() for a NaN or infinite entry. */
  rejected = 0;

  constructor(dim: number, warmupSteps: number, clip = 5) {
    this.dim = dim;
    this.clip = clip;
    this.warmupSteps = warmupSteps;
    this.stats = new RunningMomentsVector(dim);
  }

  /** True once the warm-up has seeded the statistics. */
  get ready(): boolean {
    return this.stats.count >= this.warmupSteps;
  }

  /** Add an observation to the running statistics (during warm-up and, as in RND, afterwards); false if refused. */
  update(observation: ArrayLike<number>): boolean {
    for (let i = 0; i < this.dim; i++) {
      if (!Number.isFinite(observation[i])) {
        this.rejected++;
        return false;
      }
    }
    this.stats.push(observation);
    return true;
  }

  /** out_i = clip((o_i − μ_i)/σ_i, −clip, clip). Does not touch the statistics. */
  normalize(observation: ArrayLike<number>, out: Float32Array | Float64Array): void {
    const { mean } = this.stats;
    for (let i = 0; i < this.dim; i++) {
      const v = (observation[i] - mean[i]) / Math.sqrt(this.stats.variance(i) + 1e-8);
      out[i] = v > this.clip ? this.clip : v < -this.clip ? -this.clip : v;
    }
  }
}

/** Scales r_int by the running std of the discounted intrinsic return. */
export class RndRewardNormalizer {
  readonly gamma: number;
  /** R, the forward-filtered intrinsic return. */
  discountedReturn = 0;
  readonly returns = new RunningMoments();
  /** Raw rewards refused for being NaN or infinite. */
  rejected = 0;

  constructor(gamma = 0.99) {
    this.gamma = gamma;
  }

  /**
   * R ← γ·R + r; push R; return r / std(R). Until two returns are seen there is no spread: r comes back as is.
   * A non-finite r returns NaN and leaves R and its statistics alone.
   */
  normalize(rawReward: number): number {
    if (!Number.isFinite(rawReward)) {
      this.rejected++;
      return Number.NaN;
    }
    this.discountedReturn = this.gamma * this.discountedReturn + rawReward;
    this.returns.push(this.discountedReturn);
    if (this.returns.count < 2) return rawReward;
    const std = this.returns.std;
    return std > 0 ? rawReward / std : rawReward;
  }

  reset(): void {
    this.discountedReturn = 0;
    this.returns.reset();
  }
}
