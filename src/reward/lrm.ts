// LRM combined reward: three heads of one model, mixed and held.
//
//   r = ((r_contrastive + 1)/2 + r_progress + r_completion)/3
//
// r_contrastive ∈ [−1,1] is mapped to [0,1] so the three weigh alike; each input is clamped to its range first
// (contrastive [−1,1], progress and completion [0,1]) so r stays in [0,1] whatever the heads emit. The model is
// queried every k control steps (k = 10 in the paper) and r is held in between. Before the first valid answer
// of an episode r is NaN, which the composer treats as "no reward". An answer with a NaN head is refused and
// counted; the previous r is held. Nothing here allocates.
import { StriatumError } from '../errors.js';

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** ((c + 1)/2 + p + d)/3 with c clamped to [−1,1] and p, d to [0,1]. */
export function lrmCombinedReward(contrastive: number, progress: number, completion: number): number {
  return ((clamp(contrastive, -1, 1) + 1) / 2 + clamp(progress, 0, 1) + clamp(completion, 0, 1)) / 3;
}

export class LrmReward {
  readonly queryEvery: number;
  /** The held combined reward; NaN before the first valid answer of the episode. */
  reward = Number.NaN;
  /** Answers refused for a NaN or infinite head (whole run). */
  invalidAnswers = 0;
  private stepInEpisode = 0;

  constructor(queryEvery = 10) {
    if (!Number.isInteger(queryEvery) || queryEvery < 1) throw new StriatumError('STRIATUM_ERR_CONFIG', `LRM query interval must be an integer ≥ 1, got ${queryEvery}`);
    this.queryEvery = queryEvery;
  }

  beginEpisode(): void {
    this.stepInEpisode = 0;
    this.reward = Number.NaN;
  }

  /** Call once per control step; true when the model should be queried at this step (steps 0, k, 2k, …). */
  advance(): boolean {
    const due = this.stepInEpisode % this.queryEvery === 0;
    this.stepInEpisode++;
    return due;
  }

  /** The model's answer: updates and returns the held reward. */
  answer(contrastive: number, progress: number, completion: number): number {
    if (!Number.isFinite(contrastive) || !Number.isFinite(progress) || !Number.isFinite(completion)) {
      this.invalidAnswers++;
      return this.reward;
    }
    this.reward = lrmCombinedReward(contrastive, progress, completion);
    return this.reward;
  }
}
