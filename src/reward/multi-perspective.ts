// Robo-Dopamine multi-perspective progress: three pairwise calls per reward step, fused.
//
//   incremental  Φ_I(t) = Φ_I(t−1) ⊕ H(s_{t−1}, s_t)      (the rule in progress-integrator.ts)
//   forward      Φ_F(t) = H(s_start, s_t)                  (how far from the start)
//   backward     Φ_B(t) = 1 + H(s_goal, s_t)               (how far short of the goal; H ≤ 0 there)
//   fused        Φ(t)   = clip((Φ_I + Φ_F + Φ_B)/3, 0, 1)
//
// H is a pairwise delta in [−1,1]; inputs outside it are clamped. The components keep their own ranges
// (Φ_F can go below 0 when the robot moved away from where it started, Φ_B above 1 when the model judges the
// state past the goal) so they log honestly; only the fused value is clipped, because it is the potential
// that shaping and done detection read, and those assume [0,1].
//
// A perspective whose call failed (NaN) is left out of that update's mean; if all three failed the fused value
// is NaN, and the shaping composer marks the step "no reward". update() allocates nothing.
import { ProgressIntegrator } from './progress-integrator.js';

function clampDelta(h: number): number {
  return h > 1 ? 1 : h < -1 ? -1 : h;
}

export class MultiPerspectiveProgress {
  readonly incremental = new ProgressIntegrator();
  /** Φ_F of the last update (NaN when that call failed). */
  forward = Number.NaN;
  /** Φ_B of the last update (NaN when that call failed). */
  backward = Number.NaN;
  /** Fused Φ of the last update; NaN before the first update and when every call failed. */
  fused = Number.NaN;
  /** Perspectives that answered in the last update (0–3). */
  answered = 0;
  /** Perspective answers that were NaN or infinite (whole run). */
  missing = 0;

  reset(): void {
    this.incremental.reset();
    this.forward = Number.NaN;
    this.backward = Number.NaN;
    this.fused = Number.NaN;
    this.answered = 0;
  }

  /**
   * One reward step. hop = H(s_{t−1}, s_t), fromStart = H(s_start, s_t), fromGoal = H(s_goal, s_t).
   * Returns the fused progress.
   */
  update(hop: number, fromStart: number, fromGoal: number): number {
    let sum = 0;
    let n = 0;
    if (Number.isFinite(hop)) {
      sum += this.incremental.add(hop);
      n++;
    } else {
      this.incremental.add(hop); // counted there as invalid; Φ_I holds
      this.missing++;
    }
    if (Number.isFinite(fromStart)) {
      this.forward = clampDelta(fromStart);
      sum += this.forward;
      n++;
    } else {
      this.forward = Number.NaN;
      this.missing++;
    }
    if (Number.isFinite(fromGoal)) {
      this.backward = 1 + clampDelta(fromGoal);
      sum += this.backward;
      n++;
    } else {
      this.backward = Number.NaN;
      this.missing++;
    }
    this.answered = n;
    if (n === 0) {
      this.fused = Number.NaN;
    } else {
      const mean = sum / n;
      this.fused = mean < 0 ? 0 : mean > 1 ? 1 : mean;
    }
    return this.fused;
  }
}
