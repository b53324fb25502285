// Feature statistics as LeRobot keeps them: per episode (episodes parquet) and for the dataset (stats.json):
// min, max, mean, std, count, q01, q10, q50, q90, q99, each a list with one entry per dimension (count: [frames]).
// Values that are not finite (NaN rewards of steps without a reward) are left out of every statistic; a
// dimension with no finite value gets zeros. The dataset's statistics are aggregated from the episodes' the way
// LeRobot aggregates them: exact min/max/mean/std (pooled), quantiles as the frame-weighted mean of the episodes'.
import { LEROBOT_QUANTILES, type LeRobotStat } from './lerobot-format.js';

export type FeatureStats = Record<LeRobotStat, number[]>;

/** Per-episode statistics plus what aggregation needs: the finite values counted per dimension. */
export interface EpisodeFeatureStats {
  readonly stats: FeatureStats;
  readonly finite: number[];
}

/** Quantile by linear interpolation between order statistics (numpy's default method). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Statistics of `rows` frames of a feature `width` values wide, stored row-major in `values`. */
export function episodeStats(values: ArrayLike<number>, rows: number, width: number): EpisodeFeatureStats {
  const stats: FeatureStats = { min: [], max: [], mean: [], std: [], count: [rows], q01: [], q10: [], q50: [], q90: [], q99: [] };
  const finite: number[] = [];
  const column = new Float64Array(rows);
  for (let d = 0; d < width; d++) {
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const v = Number(values[r * width + d]);
      if (Number.isFinite(v)) column[n++] = v;
    }
    const sorted = column.subarray(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    const mean = n > 0 ? sum / n : 0;
    let sq = 0;
    for (let i = 0; i < n; i++) sq += (sorted[i] - mean) ** 2;
    stats.min.push(n > 0 ? sorted[0] : 0);
    stats.max.push(n > 0 ? sorted[n - 1] : 0);
    stats.mean.push(mean);
    stats.std.push(n > 0 ? Math.sqrt(sq / n) : 0);
    for (const [k, q] of Object.entries(LEROBOT_QUANTILES)) stats[k as keyof typeof LEROBOT_QUANTILES].push(quantile(sorted, q));
    finite.push(n);
  }
  return { stats, finite };
}

/** The dataset's statistics from its episodes'. */
export function aggregateStats(episodes: readonly EpisodeFeatureStats[]): FeatureStats {
  const width = episodes[0]?.stats.mean.length ?? 0;
  const out: FeatureStats = { min: [], max: [], mean: [], std: [], count: [0], q01: [], q10: [], q50: [], q90: [], q99: [] };
  for (const e of episodes) out.count[0] += e.stats.count[0];
  for (let d = 0; d < width; d++) {
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const e of episodes) {
      const k = e.finite[d];
      if (k === 0) continue;
      n += k;
      sum += e.stats.mean[d] * k;
      min = Math.min(min, e.stats.min[d]);
      max = Math.max(max, e.stats.max[d]);
    }
    const mean = n > 0 ? sum / n : 0;
    // Pooled variance: each episode's own variance plus its mean's distance from the overall mean.
    let sq = 0;
    for (const e of episodes) {
      const k = e.finite[d];
      if (k > 0) sq += k * (e.stats.std[d] ** 2 + (e.stats.mean[d] - mean) ** 2);
    }
    out.min.push(n > 0 ? min : 0);
    out.max.push(n > 0 ? max : 0);
    out.mean.push(mean);
    out.std.push(n > 0 ? Math.sqrt(sq / n) : 0);
    for (const q of Object.keys(LEROBOT_QUANTILES) as (keyof typeof LEROBOT_QUANTILES)[]) {
      let w = 0;
      for (const e of episodes) if (e.finite[d] > 0) w += e.finite[d] * e.stats[q][d];
      out[q].push(n > 0 ? w / n : 0);
    }
  }
  return out;
}
