// Rewards from embedding models: VLM-RM (CLIP image vs goal text) and VIP/LIV (image vs goal image).
//
// VLM-RM, goal-baseline projection (Rocamonde et al. 2023). With unit goal ĝ, unit baseline b̂, d = ĝ − b̂,
//   P = α·d dᵀ/‖d‖² + (1 − α)·I,   r = 1 − ½·‖(x̂ − ĝ)P‖²,   x̂ = image embedding / its norm.
// α = 0 gives 1 − ½‖x̂ − ĝ‖² = x̂·ĝ, the plain cosine; α = 1 keeps only the part of x̂ − ĝ along d, so the reward
// ignores everything the goal and baseline prompts agree on.
//
// No D×D matrix: P is symmetric with (x̂−ĝ)P = (1−α)(x̂−ĝ) + α((x̂−ĝ)·d̂)d̂, hence
//   ‖(x̂−ĝ)P‖² = (1−α)²‖x̂−ĝ‖² + α(2−α)((x̂−ĝ)·d̂)²,  with ‖x̂−ĝ‖² = 2 − 2x̂·ĝ and (x̂−ĝ)·d̂ = x̂·d̂ − ĝ·d̂.
// So a reward is one pass over the image embedding accumulating ‖x‖², x·ĝ and x·d̂: no scratch buffer, no
// allocation, and ĝ, d̂, ĝ·d̂ are computed once per task (text embeddings are fixed per task).
//
// VIP / LIV: S(o) = −‖φ(o) − φ(g)‖ and r_t = ‖φ(o_t) − φ(g)‖ − ‖φ(o_{t+1}) − φ(g)‖ (potential-based, γ = 1).
import { StriatumError } from '../errors.js';

/** cos(a, b); NaN when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkDim(a.length, b.length, 'embedding');
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

export class GoalBaselineReward {
  readonly dim: number;
  readonly alpha: number;
  /** ĝ, the unit goal embedding. */
  private readonly goal: Float64Array;
  /** d̂ = (ĝ − b̂)/‖ĝ − b̂‖; all zeros when α = 0 (then unused). */
  private readonly direction: Float64Array;
  private readonly goalAlongDirection: number;
  private readonly keep: number; // (1−α)²
  private readonly along: number; // α(2−α)

  /** goal and baseline: text embeddings of the task and of the baseline prompt (e.g. "a robot arm"). */
  constructor(goal: ArrayLike<number>, baseline: ArrayLike<number>, alpha: number) {
    if (!(alpha >= 0 && alpha <= 1)) throw new StriatumError('STRIATUM_ERR_CONFIG', `VLM-RM alpha must be in [0,1], got ${alpha}`);
    checkDim(goal.length, baseline.length, 'baseline embedding');
    this.dim = goal.length;
    this.alpha = alpha;
    this.goal = unit(goal, 'goal embedding');
    const b = unit(baseline, 'baseline embedding');
    this.direction = new Float64Array(this.dim);
    let norm2 = 0;
    for (let i = 0; i < this.dim; i++) {
      this.direction[i] = this.goal[i] - b[i];
      norm2 += this.direction[i] * this.direction[i];
    }
    if (alpha > 0 && !(norm2 > 1e-24)) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', 'VLM-RM goal and baseline embeddings point the same way: the projection direction is undefined (use alpha 0 or another baseline prompt)');
    }
    let gd = 0;
    const inv = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
    for (let i = 0; i < this.dim; i++) {
      this.direction[i] *= inv;
      gd += this.goal[i] * this.direction[i];
    }
    this.goalAlongDirection = gd;
    this.keep = (1 - alpha) * (1 - alpha);
    this.along = alpha * (2 - alpha);
  }

  /** r = 1 − ½‖(x̂ − ĝ)P‖² for an image embedding x (any norm). NaN for a zero or non-finite embedding. */
  reward(image: ArrayLike<number>): number {
    checkDim(image.length, this.dim, 'image embedding');
    let xx = 0;
    let xg = 0;
    let xd = 0;
    for (let i = 0; i < this.dim; i++) {
      const x = image[i];
      xx += x * x;
      xg += x * this.goal[i];
      xd += x * this.direction[i];
    }
    const inv = 1 / Math.sqrt(xx);
    const residual2 = 2 - 2 * xg * inv; // ‖x̂ − ĝ‖²
    const alongD = xd * inv - this.goalAlongDirection; // (x̂ − ĝ)·d̂
    return 1 - 0.5 * (this.keep * residual2 + this.along * alongD * alongD);
  }
}

/** VIP / LIV goal-image reward on embeddings φ(·). */
export class GoalImageReward {
  readonly dim: number;
  private readonly goal: Float64Array;
  private previousDistance = Number.NaN;

  constructor(goalEmbedding: ArrayLike<number>) {
    this.dim = goalEmbedding.length;
    this.goal = Float64Array.from(goalEmbedding);
  }

  /** ‖φ(o) − φ(g)‖. */
  distance(embedding: ArrayLike<number>): number {
    checkDim(embedding.length, this.dim, 'image embedding');
    let s = 0;
    for (let i = 0; i < this.dim; i++) {
      const d = embedding[i] - this.goal[i];
      s += d * d;
    }
    return Math.sqrt(s);
  }

  /** S(o) = −‖φ(o) − φ(g)‖. */
  potential(embedding: ArrayLike<number>): number {
    return -this.distance(embedding);
  }

  /** Start of an episode with φ(o_0). */
  begin(first: ArrayLike<number>): void {
    this.previousDistance = this.distance(first);
  }

  /** r_t = ‖φ(o_t) − φ(g)‖ − ‖φ(o_{t+1}) − φ(g)‖ for the next embedding φ(o_{t+1}); NaN before begin(). */
  step(next: ArrayLike<number>): number {
    const d = this.distance(next);
    const r = this.previousDistance - d;
    this.previousDistance = d;
    return r;
  }
}

function unit(v: ArrayLike<number>, what: string): Float64Array {
  let n2 = 0;
  for (let i = 0; i < v.length; i++) n2 += v[i] * v[i];
  if (!(n2 > 0) || !Number.isFinite(n2)) throw new StriatumError('STRIATUM_ERR_CONFIG', `VLM-RM ${what} is zero or not finite`);
  const inv = 1 / Math.sqrt(n2);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

function checkDim(got: number, want: number, what: string): void {
  // PRM errors use the policy metadata code until errors.ts has a PRM code of its own.
  if (got !== want) throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `${what} has ${got} dimensions, expected ${want}`);
}
