// Exploration on the robot: the policy gives a mean action and a per-joint standard deviation; in a training
// episode the loop samples a ~ N(mean, std²) here, inside the tick, before the safety filter, and records the
// mean and the log-probability of the sample. In an evaluation episode (or with exploration off) the mean runs.
// Allocation-free: xoshiro128** on four 32-bit words and Box–Muller into fields, buffers made once.

import { mixSeed32 } from '../sim/rng.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** xoshiro128** (Blackman & Vigna): 128-bit state, 32-bit outputs; seeded through splitmix32 so no state is zero. */
export class Xoshiro128 {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Second deviate of the last Box–Muller pair; NaN when none is kept. */
  private spare = Number.NaN;

  constructor(seed: number, stream = 0) {
    this.reseed(seed, stream);
  }

  /** Restart the stream from (seed, stream); seeds may be any finite number (high bits are folded in). */
  reseed(seed: number, stream = 0): void {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    let x = mixSeed32(lo ^ mixSeed32(hi ^ mixSeed32(stream)));
    this.s0 = x; x = mixSeed32(x);
    this.s1 = x; x = mixSeed32(x);
    this.s2 = x; x = mixSeed32(x);
    this.s3 = x;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spare = Number.NaN;
  }

  /** Next 32-bit output as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal deviate (Box–Muller, the pair's second value kept for the next call). */
  normal(): number {
    if (this.spare === this.spare) {
      const v = this.spare;
      this.spare = Number.NaN;
      return v;
    }
    const u1 = 1 - this.next(); // (0, 1]: the log stays finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Exploration as the runtime resolves it from the config, once. */
export interface ExplorationSettings {
  /** Sample in training episodes; false runs the mean everywhere (and records it). */
  readonly enabled: boolean;
  /** RNG seed; each episode's stream is (seed, episode seed), so a rerun of one episode samples the same noise. */
  readonly seed: number;
  /** Every k-th episode (k, 2k, ...) is an evaluation episode that runs the mean; 0: none. */
  readonly evaluationEvery: number;
  /** ρ in [0, 1): the noise's correlation from one tick to the next (noiseCorrelation); 0: white. */
  readonly correlation?: number;
  /** Bursts of wider noise while the robot stands still in a training episode; absent: none. */
  readonly stall?: StallBursts;
}

/**
 * A policy that has settled where its mean command is about zero (parked behind the object, waiting, or dithering
 * in place) is an attractor: noise of the usual spread is pulled back into it and never finds what lies beyond.
 * When over the last `afterTicks` ticks no joint has travelled more than `speed` of its velocity limit would carry
 * it, the spread is multiplied by `stdScale` for `burstTicks` ticks; then the watch starts again. Only joint
 * positions are read, so it works on any robot; the burst's samples are recorded with their own (wider)
 * Gaussian's log-probability.
 */
export interface StallBursts {
  readonly afterTicks: number;
  readonly burstTicks: number;
  /** Fraction of each joint's velocity limit: a net speed over the window below it counts as standing still. */
  readonly speed: number;
  readonly stdScale: number;
}

export const NO_EXPLORATION: ExplorationSettings = { enabled: false, seed: 0, evaluationEvery: 0 };

/** ρ = exp(−Δt/τ) for a noise time constant τ (s) at the control rate; 0 (white) for τ = 0. */
export function noiseCorrelation(timeConstantS: number, rateHz: number): number {
  return timeConstantS > 0 ? Math.exp(-1 / (rateHz * timeConstantS)) : 0;
}

/** Stall bursts in ticks at the control rate, from the config's seconds (each at least one tick). */
export function stallBursts(
  stall: { readonly after_s: number; readonly speed: number; readonly std_scale: number; readonly duration_s: number },
  rateHz: number,
): StallBursts {
  return {
    afterTicks: Math.max(1, Math.round(stall.after_s * rateHz)),
    burstTicks: Math.max(1, Math.round(stall.duration_s * rateHz)),
    speed: stall.speed,
    stdScale: stall.std_scale,
  };
}

/**
 * Per-tick sampling. `perturb` takes the policy's mean (in `action`, physical units) and its per-joint std, keeps
 * the mean in `mean`, writes the sample into `action` and its log-density into `logProb`. The safety filter comes
 * after, on the sample. log π(a|s) = −½ Σ_j ((a_j − μ_j)/σ_j)² + 2·log σ_j + log 2π, in the command's units;
 * NaN on steps that ran the mean (nothing was sampled).
 *
 * With a correlation ρ > 0 the standard deviates form an Ornstein–Uhlenbeck process, ε_t = ρ·ε_{t−1} + √(1−ρ²)·z_t
 * (ε_0 = z_0, z ~ N(0, 1)), so each ε_t is still N(0, 1) and a = μ + σ·ε keeps the policy's Gaussian at every
 * step; what changes is that successive samples lean the same way (temporally correlated exploration, as pink or
 * OU noise in off-policy RL). The recorded log-probability is that per-step Gaussian's.
 */
export class Exploration {
  readonly mean: Float64Array;
  logProb = Number.NaN;
  /** Whether the current episode samples (a training episode with a stochastic policy). */
  exploring = false;
  /** Whether the current episode is an evaluation episode (mean action by the config's schedule). */
  evaluationEpisode = false;
  private readonly rng: Xoshiro128;
  /** The standard deviates of the last tick (correlated noise); NaN before the episode's first draw. */
  private readonly deviates: Float64Array;
  private readonly rho: number;
  private readonly innovation: number;
  /** Negative: the ticks left in the current burst; 0 otherwise. */
  private stallTicks = 0;
  /** The last afterTicks + 1 joint positions (stall bursts), a ring indexed by `seen`. */
  private readonly positions: Float64Array | null;
  /** Positions written to the ring since the episode began or the last burst ended. */
  private seen = 0;
  /** The stall window in seconds (afterTicks at the control rate), for the distance a joint must travel in it. */
  private readonly windowS: number;
  /** Bursts started in this episode (status and tests). */
  bursts = 0;

  /** velocityMax: per-joint velocity limits, read only with `settings.stall`. */
  constructor(
    readonly settings: ExplorationSettings,
    actDim: number,
    private readonly velocityMax: ArrayLike<number> | null = null,
    periodS = 0,
  ) {
    const stall = settings.stall;
    this.positions = stall !== undefined ? new Float64Array((stall.afterTicks + 1) * actDim) : null;
    this.windowS = stall !== undefined ? stall.afterTicks * periodS : 0;
    if (stall !== undefined) {
      if (!(Number.isInteger(stall.afterTicks) && stall.afterTicks >= 1 && Number.isInteger(stall.burstTicks) && stall.burstTicks >= 1)) {
        throw new RangeError(`stall bursts need whole tick counts ≥ 1, got after ${stall.afterTicks}, burst ${stall.burstTicks}`);
      }
      if (!(stall.speed > 0 && stall.stdScale > 0)) throw new RangeError('stall speed and std scale must be > 0');
      if (velocityMax === null || velocityMax.length !== actDim) throw new RangeError('stall bursts need one velocity limit per joint');
      if (!(periodS > 0)) throw new RangeError('stall bursts need the control period');
    }
    this.mean = new Float64Array(actDim);
    this.rng = new Xoshiro128(settings.seed);
    this.deviates = new Float64Array(actDim).fill(Number.NaN);
    const rho = settings.correlation ?? 0;
    if (!(rho >= 0 && rho < 1)) throw new RangeError(`exploration correlation must be in [0, 1), got ${rho}`);
    this.rho = rho;
    this.innovation = Math.sqrt(1 - rho * rho);
  }

  /** At each episode's start (index counts from 0): reseed, and decide training or evaluation. */
  beginEpisode(index: number, episodeSeed: number): void {
    const k = this.settings.evaluationEvery;
    this.evaluationEpisode = k > 0 && (index + 1) % k === 0;
    this.exploring = this.settings.enabled && !this.evaluationEpisode;
    this.rng.reseed(this.settings.seed, episodeSeed);
    this.deviates.fill(Number.NaN);
    this.stallTicks = 0;
    this.seen = 0;
    this.bursts = 0;
  }

  /**
   * Advance the stall detector on the measured joint positions; true while a burst runs (this tick included). The
   * robot stands still when no joint's net travel over the last `afterTicks` ticks is `speed` of its velocity limit
   * over that time: a policy that dithers in place is as stuck as one that stopped.
   */
  private burstStep(positions: ArrayLike<number>): boolean {
    const stall = this.settings.stall as StallBursts;
    if (this.stallTicks < 0) {
      this.stallTicks++;
      return true;
    }
    const n = this.mean.length;
    const window = stall.afterTicks;
    const slot = (this.seen % (window + 1)) * n;
    const ring = this.positions as Float64Array;
    for (let j = 0; j < n; j++) ring[slot + j] = positions[j];
    this.seen++;
    if (this.seen <= window) return false;
    const oldest = (this.seen % (window + 1)) * n; // the sample `window` ticks before this one
    const limits = this.velocityMax as ArrayLike<number>;
    for (let j = 0; j < n; j++) {
      if (Math.abs(positions[j] - ring[oldest + j]) >= stall.speed * limits[j] * this.windowS) return false;
    }
    this.stallTicks = -(stall.burstTicks - 1);
    this.seen = 0; // the window refills after the burst
    this.bursts++;
    return true;
  }

  /**
   * `std` null: the policy is deterministic, the mean runs. `positions`: the joints' measured positions, read
   * for stall bursts (null: no burst). Allocates nothing.
   */
  perturb(action: Float64Array, std: Float64Array | null, positions: ArrayLike<number> | null = null): void {
    const mean = this.mean;
    const n = mean.length;
    for (let j = 0; j < n; j++) mean[j] = action[j];
    if (!this.exploring || std === null) {
      this.logProb = Number.NaN;
      return;
    }
    const widen = this.settings.stall !== undefined && positions !== null && this.burstStep(positions)
      ? (this.settings.stall as StallBursts).stdScale
      : 1;
    let logProb = 0;
    for (let j = 0; j < n; j++) {
      const sigma = std[j] * widen;
      if (!(sigma > 0)) continue; // a joint with no spread runs its mean and adds nothing to the density
      const z = this.rng.normal();
      const last = this.deviates[j];
      const eps = last === last ? this.rho * last + this.innovation * z : z;
      this.deviates[j] = eps;
      action[j] = mean[j] + sigma * eps;
      logProb -= 0.5 * (eps * eps + 2 * Math.log(sigma) + LOG_2PI);
    }
    this.logProb = logProb;
  }
}

/** log N(a; μ, σ²) summed over joints; the formula perturb() records (tests and tools). */
export function gaussianLogProb(action: ArrayLike<number>, mean: ArrayLike<number>, std: ArrayLike<number>): number {
  let sum = 0;
  for (let j = 0; j < action.length; j++) {
    const z = (action[j] - mean[j]) / std[j];
    sum -= 0.5 * (z * z + 2 * Math.log(std[j]) + LOG_2PI);
  }
  return sum;
}
