// The learning curve of a run: held-out success rate of each released policy against the training episodes it
// was trained on; written as learning-curve.json and drawn as an SVG (no dependencies, pure string building).

export interface CurvePoint {
  /** Training episodes of all robots the policy was trained on (0: the base policy). */
  readonly episodes: number;
  readonly round: number;
  readonly version: string;
  readonly success_rate: number;
  readonly successes: number;
  readonly eval_episodes: number;
  /** Wall time since the run started when the evaluation finished. */
  readonly wall_s: number;
}

export interface LearningCurve {
  readonly format: 'striatum.learning-curve/v1';
  readonly target_success: number;
  readonly episode_budget: number;
  readonly robots: number;
  readonly algorithm: string;
  readonly seeds: Record<string, [number, number]>;
  readonly points: CurvePoint[];
  /** First point at or above the target; null when none reached it. */
  readonly reached: { episodes: number; wall_s: number; version: string } | null;
  readonly best: CurvePoint | null;
  readonly training_episodes: number;
  readonly wall_s: number;
  readonly stopped: string;
}

export function curveSummary(points: readonly CurvePoint[], target: number): Pick<LearningCurve, 'reached' | 'best'> {
  const hit = points.find((p) => p.success_rate >= target) ?? null;
  const best = points.reduce<CurvePoint | null>((b, p) => (b === null || p.success_rate > b.success_rate ? p : b), null);
  return { reached: hit === null ? null : { episodes: hit.episodes, wall_s: hit.wall_s, version: hit.version }, best };
}

const W = 640;
const H = 360;
const M = { left: 56, right: 20, top: 28, bottom: 44 };

/** Success rate (0–1) against training episodes, with the target as a dashed line. */
export function curveSvg(curve: Pick<LearningCurve, 'points' | 'target_success' | 'episode_budget' | 'algorithm'>, title = 'held-out success vs training episodes'): string {
  return curvesSvg([{ label: null, points: curve.points }], { target: curve.target_success, budget: curve.episode_budget, title: `${title} (${curve.algorithm})` });
}

const COLORS = ['#2a6fdb', '#e08a00', '#2f9e44', '#9c36b5', '#666', '#c2255c'];

/** Several curves on one plot (runs, baselines), each in its colour with its label in a legend. */
export function curvesSvg(series: readonly { label: string | null; points: readonly CurvePoint[] }[], o: { target: number; budget: number; title: string }): string {
  const maxX = Math.max(o.budget, ...series.flatMap((c) => c.points.map((p) => p.episodes)), 1);
  const x = (e: number) => M.left + (e / maxX) * (W - M.left - M.right);
  const y = (s: number) => H - M.bottom - s * (H - M.top - M.bottom);
  const ticksX = niceTicks(maxX);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(o.title)}</text>`,
  ];
  for (const s of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${M.left}" y1="${y(s)}" x2="${W - M.right}" y2="${y(s)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(s) + 4}" text-anchor="end">${Math.round(s * 100)}%</text>`);
  }
  for (const t of ticksX) parts.push(`<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${M.left}" y1="${y(0)}" x2="${W - M.right}" y2="${y(0)}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" y1="${y(0)}" x2="${M.left}" y2="${y(1)}" stroke="#333"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">training episodes (all robots)</text>`);
  parts.push(`<line x1="${M.left}" y1="${y(o.target)}" x2="${W - M.right}" y2="${y(o.target)}" stroke="#c33" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${W - M.right}" y="${y(o.target) - 4}" text-anchor="end" fill="#c33">target ${Math.round(o.target * 100)}%</text>`);
  series.forEach((c, k) => {
    const color = COLORS[k % COLORS.length];
    if (c.points.length > 0) {
      const d = c.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.episodes).toFixed(1)},${y(p.success_rate).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const p of c.points) parts.push(`<circle cx="${x(p.episodes).toFixed(1)}" cy="${y(p.success_rate).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(p.version)}: ${(p.success_rate * 100).toFixed(1)}% after ${p.episodes} episodes</title></circle>`);
    }
  });
  // The legend sits in the lower right, on white, where success curves that start low and climb rarely are.
  const labelled = series.map((c, k) => ({ label: c.label, color: COLORS[k % COLORS.length] })).filter((c) => c.label !== null);
  if (labelled.length > 0) {
    const width = 40 + 6.5 * Math.max(...labelled.map((c) => (c.label as string).length));
    const left = W - M.right - width - 8;
    const top = H - M.bottom - 10 - labelled.length * 16;
    parts.push(`<rect x="${left}" y="${top - 4}" width="${width}" height="${labelled.length * 16 + 6}" fill="white" fill-opacity="0.9" stroke="#ccc"/>`);
    labelled.forEach((c, i) => {
      const ly = top + 8 + i * 16;
      parts.push(`<line x1="${left + 8}" y1="${ly}" x2="${left + 26}" y2="${ly}" stroke="${c.color}" stroke-width="2"/>`);
      parts.push(`<text x="${left + 32}" y="${ly + 4}">${escapeXml(c.label as string)}</text>`);
    });
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceTicks(max: number): number[] {
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((s) => max / s <= 8) ?? Math.ceil(max / 8);
  const out: number[] = [];
  for (let t = 0; t <= max; t += step) out.push(t);
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}
