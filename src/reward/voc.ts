// Value-order correlation (VOC), the field's PRM metric, and VLAC's reversed-video variant.
//
//   VOC    = Spearman rank correlation between an episode's predicted values, in time order, and 0..T−1
//   VROC   = the same for the PRM run on the video played backwards, scored against the backwards order:
//            a PRM that sees the task being undone should predict falling values, so a good PRM scores high
//            on both (VLAC's reverse_eval negates the reversed pairs' deltas to the same effect)
//   VOC-F1 = 2·VOC·VROC/(VOC + VROC), the harmonic mean — defined here only when VOC > 0 and VROC > 0;
//            otherwise 0. As with precision and recall, failing either test fails the metric; and with
//            mixed signs the formula is meaningless (VOC 0.5, VROC −0.49 would give −49).
//
// Spearman with ties is Pearson on average ranks. Constant predictions score 0 (no order claimed), as does an
// episode with fewer than 2 values. NaN or infinite predictions (failed PRM calls) are left out: the rest keep
// their time order. These run once per episode, off the control tick, so they allocate their rank arrays.

/** Average ranks (1-based; ties share the mean of their positions) of values[0..n), written into out. */
export function averageRanks(values: ArrayLike<number>, out: Float64Array): void {
  const n = values.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => values[a] - values[b]);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of positions start+1 .. end
    for (let k = start; k < end; k++) out[order[k]] = rank;
    start = end;
  }
}

/** VOC of an episode's predictions in time order; in [−1, 1]. */
export function valueOrderCorrelation(values: ArrayLike<number>): number {
  const kept = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) kept[n++] = values[i];
  if (n < 2) return 0;
  const finite = kept.subarray(0, n);
  const ranks = new Float64Array(n);
  averageRanks(finite, ranks);
  // Time ranks are 1..n with mean (n+1)/2; value ranks have the same mean.
  const mean = (n + 1) / 2;
  let cov = 0;
  let varRank = 0;
  let varTime = 0;
  for (let i = 0; i < n; i++) {
    const r = ranks[i] - mean;
    const t = i + 1 - mean;
    cov += r * t;
    varRank += r * r;
    varTime += t * t;
  }
  if (varRank === 0) return 0;
  const rho = cov / Math.sqrt(varRank * varTime);
  return rho > 1 ? 1 : rho < -1 ? -1 : rho;
}

/**
 * VROC: predictions of the PRM run on the reversed video, in the order it was shown, scored against that
 * backwards order (so VROC = −VOC of the same array). High when the PRM sees regress as regress.
 */
export function reversedValueOrderCorrelation(valuesOnReversedVideo: ArrayLike<number>): number {
  const c = valueOrderCorrelation(valuesOnReversedVideo);
  return c === 0 ? 0 : -c;
}

/** VOC-F1: harmonic mean of VOC and VROC when both are positive, else 0. */
export function vocF1(voc: number, vroc: number): number {
  if (!(voc > 0 && vroc > 0)) return 0;
  return (2 * voc * vroc) / (voc + vroc);
}
