// Fusing one result per camera view into one value, for runtimes that query the PRM one view per call
// (Robo-Dopamine puts all views into one query; a single-view ONNX model cannot).
//
// Rules: mean; min (pessimistic: progress counts only when every camera sees it); confidence-weighted
// (weights = the model's confidence; when every weight is 0 it falls back to the mean, and counts that).
// A view whose value is NaN or infinite is dropped and counted; if every view is dropped the result is NaN.
// A NaN, infinite or negative confidence weighs 0.
//
// The rule is resolved to a function once, in the constructor, so fuse() does not branch on configuration;
// fuse() allocates nothing.

export type ViewFusionRule = 'mean' | 'min' | 'confidence';

export class ViewFusion {
  readonly rule: ViewFusionRule;
  /** Views dropped for a non-finite value (whole run). */
  droppedViews = 0;
  /** Valid views in the last fuse() call. */
  validViews = 0;
  /** Confidence-weighted calls that fell back to the mean because every weight was 0 (whole run). */
  zeroWeightFallbacks = 0;
  private readonly combine: (values: ArrayLike<number>, confidences: ArrayLike<number>, count: number) => number;

  constructor(rule: ViewFusionRule) {
    this.rule = rule;
    this.combine = rule === 'mean' ? fuseMean : rule === 'min' ? fuseMin : this.fuseWeighted.bind(this);
  }

  /**
   * Fuse the first `count` views. `confidences` is read only by the confidence-weighted rule (pass the same
   * array as `values`, or any array, otherwise).
   */
  fuse(values: ArrayLike<number>, confidences: ArrayLike<number>, count: number): number {
    let valid = 0;
    for (let i = 0; i < count; i++) if (Number.isFinite(values[i])) valid++;
    this.droppedViews += count - valid;
    this.validViews = valid;
    if (valid === 0) return Number.NaN;
    return this.combine(values, confidences, count);
  }

  private fuseWeighted(values: ArrayLike<number>, confidences: ArrayLike<number>, count: number): number {
    let weighted = 0;
    let weights = 0;
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      const c = confidences[i];
      if (!(c > 0) || c === Infinity) continue;
      weighted += c * v;
      weights += c;
    }
    if (weights > 0) return weighted / weights;
    this.zeroWeightFallbacks++;
    return fuseMean(values, confidences, count);
  }
}

/** Mean of the finite values (NaN when there are none). */
export function fuseMean(values: ArrayLike<number>, _confidences: ArrayLike<number>, count: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n > 0 ? sum / n : Number.NaN;
}

/** Minimum of the finite values (NaN when there are none). */
export function fuseMin(values: ArrayLike<number>, _confidences: ArrayLike<number>, count: number): number {
  let min = Infinity;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (Number.isFinite(v) && v < min) min = v;
  }
  return min === Infinity ? Number.NaN : min;
}
