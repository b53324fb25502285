// The safety filter: every command passes through here between the policy and the transport.
// Limits are resolved once into typed arrays; apply() allocates nothing and never throws.
import type { CommandMode } from '../transports/types.js';

export interface SafetyLimits {
  readonly positionMin: Float64Array;
  readonly positionMax: Float64Array;
  readonly velocityMax: Float64Array;
  readonly effortMax: Float64Array;
  /** Largest change of the command between two ticks, per joint, in the command's units. */
  readonly maxDelta: Float64Array;
}

/** When no acceleration is configured, a velocity command may reach full speed in 0.1 s. */
export const DEFAULT_ACCEL_PER_VMAX = 10;

export class SafetyFilter {
  readonly n: number;
  /** The last command that left the filter; what a non-finite action falls back to. */
  readonly lastSafe: Float64Array;
  clampedPosition = 0;
  clampedVelocity = 0;
  clampedEffort = 0;
  clampedDelta = 0;
  nonfiniteActions = 0;

  constructor(
    private readonly limits: SafetyLimits,
    readonly mode: CommandMode,
    private readonly periodS: number,
  ) {
    this.n = limits.positionMin.length;
    this.lastSafe = new Float64Array(this.n);
  }

  /** Start from the robot's present state: hold position, or zero velocity/effort. */
  reset(positions: Float64Array): void {
    this.safeCommand(positions, this.lastSafe);
  }

  /** The command of the safe state: hold the measured position (clamped to limits), or zero. */
  safeCommand(positions: Float64Array, out: Float64Array): void {
    const { positionMin, positionMax } = this.limits;
    for (let i = 0; i < this.n; i++) {
      out[i] = this.mode === 'position' ? clamp(positions[i], positionMin[i], positionMax[i]) : 0;
    }
  }

  /**
   * Filter `raw` into `out` for a robot at `positions`. Returns false, leaving the last safe command in `out`,
   * when any element of `raw` is NaN or infinite; the caller raises the fault.
   */
  apply(raw: Float64Array, positions: Float64Array, out: Float64Array): boolean {
    const n = this.n;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(raw[i])) {
        this.nonfiniteActions++;
        out.set(this.lastSafe);
        return false;
      }
    }
    const { positionMin, positionMax, velocityMax, effortMax, maxDelta } = this.limits;
    const dt = this.periodS;
    for (let i = 0; i < n; i++) {
      let v = raw[i];
      if (this.mode === 'position') {
        if (v < positionMin[i] || v > positionMax[i]) { v = clamp(v, positionMin[i], positionMax[i]); this.clampedPosition++; }
      } else if (this.mode === 'velocity') {
        if (v > velocityMax[i] || v < -velocityMax[i]) { v = clamp(v, -velocityMax[i], velocityMax[i]); this.clampedVelocity++; }
        // Never drive through a position limit within the next period.
        const hi = (positionMax[i] - positions[i]) / dt;
        const lo = (positionMin[i] - positions[i]) / dt;
        if (v > hi) { v = hi > 0 ? hi : 0; this.clampedPosition++; } else if (v < lo) { v = lo < 0 ? lo : 0; this.clampedPosition++; }
      } else {
        if (v > effortMax[i] || v < -effortMax[i]) { v = clamp(v, -effortMax[i], effortMax[i]); this.clampedEffort++; }
      }
      const prev = this.lastSafe[i];
      const d = maxDelta[i];
      if (v > prev + d) { v = prev + d; this.clampedDelta++; } else if (v < prev - d) { v = prev - d; this.clampedDelta++; }
      out[i] = v;
      this.lastSafe[i] = v;
    }
    return true;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
