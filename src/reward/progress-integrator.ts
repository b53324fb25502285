// Pairwise progress deltas → absolute progress (VLAC; Robo-Dopamine's "incremental" perspective).
//
//   Φ_0 = 0;  Φ_t = Φ_{t−1} + c·(1 − Φ_{t−1})  if c ≥ 0,  else  Φ_{t−1} + c·Φ_{t−1}
//
// A positive delta closes that fraction of the remaining gap to 1, a negative one gives back that fraction of
// what was made, so Φ stays in [0,1] whenever c ∈ [−1,1]. Deltas are clamped to [−1,1] (and counted) for that
// reason. add() is a few flops and allocates nothing: it runs once per pairwise answer.

/** One step of the incremental rule, with c clamped to [−1,1]. */
export function integrateDelta(previous: number, delta: number): number {
  const c = delta > 1 ? 1 : delta < -1 ? -1 : delta;
  return c >= 0 ? previous + c * (1 - previous) : previous + c * previous;
}

export class ProgressIntegrator {
  /** Φ after the last valid delta; 0 at the start of an episode. */
  progress = 0;
  /** Valid deltas folded in this episode. */
  updates = 0;
  /** Deltas outside [−1,1] that were clamped (whole run). */
  clampedDeltas = 0;
  /** NaN or infinite deltas, ignored: progress holds its value (whole run). */
  invalidDeltas = 0;

  /** Start of an episode: Φ_0 = 0. Counters of clamped and invalid deltas are kept. */
  reset(): void {
    this.progress = 0;
    this.updates = 0;
  }

  /** Fold one pairwise delta (previous frame → current frame) in; returns the new progress. */
  add(delta: number): number {
    if (!Number.isFinite(delta)) {
      this.invalidDeltas++;
      return this.progress;
    }
    if (delta > 1 || delta < -1) this.clampedDeltas++;
    this.progress = integrateDelta(this.progress, delta);
    this.updates++;
    return this.progress;
  }
}
