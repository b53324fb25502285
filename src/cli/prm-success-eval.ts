// The learned reward as a learner meets it, scored on recorded held-out episodes against the simulator's ground
// truth: the success model with its done rule (does it catch the real successes, does it fire on failures?) and
// the PRM-only return of each episode (progress model + success verdict, through the robot's RewardShaper and
// SuccessDetector: does it rank successful episodes above failed ones?). Both models run in the robot's own PRM
// worker (src/reward/prm/replay.ts), one recorded frame at a time.
//
// An episode is replayed as a learning-mode episode runs: the success model judges every camera frame, the done
// rule (K answers in a row ≥ threshold) ends it as a success (a true terminal: r_gold, Φ′ = 0); otherwise it
// ends at its last recorded frame as a truncation. Recordings made with `record --after-success S` give the
// detector S seconds after the first success frame, as the simulator keeps running in learning mode.
import { silentLogger, type Logger } from '../log.js';
import { PrmReplay } from '../reward/prm/replay.js';
import { SuccessDetector } from '../reward/prm/success-detector.js';
import { DEFAULT_HORIZON_S, RewardShaper, STEP_CONTINUES, STEP_TERMINAL, STEP_TRUNCATED } from '../reward/shaping.js';
import { StriatumError } from '../errors.js';
import { readNpy } from '../util/npy.js';
import { join } from 'node:path';
import { loadRecording, type Recording } from './prm-eval.js';

export interface RewardSignalOptions {
  readonly progressModel: string;
  readonly successModel: string;
  readonly data: readonly string[];
  readonly camera?: string;
  /** P(success) at or above this counts (the config's success_threshold). */
  readonly threshold: number;
  /** K of the done rule (shaping.done_updates). */
  readonly doneUpdates: number;
  /** shaping.hysteresis. */
  readonly hysteresis?: number;
  /** γ = exp(−frame period/horizon): the first horizon (s) gives `return` and `auc`; every one gets an entry in
   * `auc_by_horizon`. Default (also for an empty list) the robot's default reward.shaping.horizon_s. */
  readonly horizonsS?: readonly number[];
  /** More done rules replayed on the same answers, e.g. the one a learning config runs (its success model at 5 Hz). */
  readonly extraRules?: readonly DoneRule[];
  readonly maxEpisodes?: number;
  readonly logger?: Logger;
}

/** K answers in a row at P ≥ threshold, the success model answering rateHz times a second (at most the camera's 10). */
export interface DoneRule {
  readonly doneUpdates: number;
  readonly threshold: number;
  readonly rateHz: number;
}

/** How a done rule did on the same episodes as the main one. */
export interface DoneRuleResult {
  done_updates: number;
  threshold: number;
  rate_hz: number;
  detection_rate: number | null;
  false_positive_rate: number | null;
  early_detections: number;
}

const CAMERA_HZ = 10; // the recorder's camera rate

/** Parses `K:P:HZ` (e.g. `3:0.9:5`); the rate must divide the camera's 10 Hz. */
export function parseDoneRule(text: string): DoneRule {
  const [k, p, hz, ...rest] = text.split(':').map((s) => s.trim());
  const rule = { doneUpdates: Number(k), threshold: Number(p), rateHz: Number(hz ?? CAMERA_HZ) };
  const step = CAMERA_HZ / rule.rateHz;
  if (rest.length > 0 || !Number.isInteger(rule.doneUpdates) || rule.doneUpdates < 1 || !(rule.threshold >= 0 && rule.threshold <= 1) || !Number.isInteger(step) || step < 1) {
    throw new StriatumError('STRIATUM_ERR_USAGE', `a done rule is K:P:HZ (K ≥ 1 answers in a row at P in [0, 1], HZ dividing the camera's ${CAMERA_HZ} Hz, e.g. 3:0.9:5), got "${text}"`);
  }
  return rule;
}

/** Frame at which the rule fires over a whole episode's answers (the model answers every step-th frame), or null. */
function firstDetection(rule: DoneRule, p: ArrayLike<number>, hysteresis: number): number | null {
  const detector = new SuccessDetector(rule.threshold, rule.doneUpdates, hysteresis);
  const step = Math.round(CAMERA_HZ / rule.rateHz);
  for (let k = 0; k < p.length; k += step) {
    detector.observe(p[k]);
    if (detector.done) return k;
  }
  return null;
}

export interface EpisodeVerdict {
  dataset: string;
  source: string;
  seed: number | null;
  /** The simulator's verdict: the block reached the pad at some frame. */
  ground_truth: boolean;
  /** First frame the simulator marks successful; null when none. */
  first_success_frame: number | null;
  /** Frame at which the done rule fired; null when it never did. */
  detected_frame: number | null;
  /** The highest threshold at which the done rule would fire in this episode (max over frames of the min of K answers in a row). */
  done_score: number;
  /** Σ γ^k r_k from the first step, and the plain sum, PRM-only (R = 1). */
  return: number;
  return_sum: number;
  /** Σ γ^k r_k for each horizon of the options, in their order. */
  returns_by_horizon: number[];
  /** For each extra rule, in order: the frame it fired at, or null. */
  extra_detections: (number | null)[];
}

export interface RewardSignalReport {
  models: { progress: string; success: string };
  threshold: number;
  done_updates: number;
  gamma_per_frame: number;
  episodes: number;
  successful: number;
  failed: number;
  /** Successful episodes whose done rule fired / failed episodes whose done rule fired. */
  detection_rate: number | null;
  false_positive_rate: number | null;
  /** Successful episodes where it fired before the first success frame. */
  early_detections: number;
  /** P(return of a random successful episode > that of a random failed one), ties half. */
  auc: number | null;
  auc_sum: number | null;
  /** Shaping horizon (s) of `auc`, and the AUC of the discounted return at every horizon evaluated. */
  horizon_s: number;
  auc_by_horizon: Record<string, number | null>;
  /** The extra done rules on the same episodes, in the order given. */
  extra_rules: DoneRuleResult[];
  by_source: Record<string, { successful: number; failed: number; detected: number; false_positives: number }>;
  verdicts: EpisodeVerdict[];
  seconds: number;
}

/** AUC of scores for positives against negatives (ties count half). */
export function rankAuc(positive: readonly number[], negative: readonly number[]): number | null {
  if (positive.length === 0 || negative.length === 0) return null;
  let wins = 0;
  for (const p of positive) for (const n of negative) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positive.length * negative.length);
}

function frameSuccess(dir: string, count: number): Int32Array {
  const s = readNpy(join(dir, 'frame_success.npy'));
  if (!(s.data instanceof Int32Array) || s.data.length !== count) throw new StriatumError('STRIATUM_ERR_IO', `${dir}: frame_success.npy must be int32 with one entry per frame`);
  return s.data;
}

export async function evaluateRewardSignal(o: RewardSignalOptions): Promise<RewardSignalReport> {
  const started = performance.now();
  const camera = o.camera ?? 'top';
  const recordings: { dir: string; rec: Recording; success: Int32Array; hz: number }[] = o.data.map((dir) => {
    const rec = loadRecording(dir, camera);
    return { dir, rec: { ...rec, episodes: rec.episodes.slice(0, o.maxEpisodes ?? rec.episodes.length) }, success: frameSuccess(dir, rec.progress.length), hz: 10 };
  });
  const first = recordings[0]?.rec;
  if (first === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'prm eval needs at least one --data directory');
  const longest = Math.max(1, ...recordings.flatMap((r) => r.rec.episodes.map((e) => e.end - e.first)));
  const cam = { name: camera, width: first.width, height: first.height };
  const logger = o.logger ?? silentLogger;
  const progress = await PrmReplay.start({ metadataPath: o.progressModel, camera: cam, maxEpisodeFrames: longest, logger });
  let success: PrmReplay;
  try {
    success = await PrmReplay.start({ metadataPath: o.successModel, camera: cam, maxEpisodeFrames: longest, logger });
  } catch (err) {
    await progress.close();
    throw err;
  }
  const framePeriodS = 1 / CAMERA_HZ;
  const horizons = o.horizonsS !== undefined && o.horizonsS.length > 0 ? o.horizonsS : [DEFAULT_HORIZON_S]; // RewardShaper checks each
  const shapers = horizons.map((horizonS) => new RewardShaper({ periodS: framePeriodS, horizonS }));
  const shaper = shapers[0];
  const detector = new SuccessDetector(o.threshold, o.doneUpdates, o.hysteresis ?? 0.05);
  const extraRules = o.extraRules ?? [];
  const verdicts: EpisodeVerdict[] = [];
  try {
    for (const { dir, rec, success: gtFrames } of recordings) {
      const frameBytes = rec.width * rec.height * 3;
      for (const ep of rec.episodes) {
        const rgb = rec.frames.subarray(ep.first * frameBytes, ep.end * frameBytes);
        const phi = await progress.judge(rgb, ep.instruction);
        const p = await success.judge(rgb, ep.instruction);
        const n = ep.end - ep.first;
        let firstSuccess: number | null = null;
        for (let k = 0; k < n; k++) if (gtFrames[ep.first + k] === 1) { firstSuccess = k; break; }
        // Frame 0 is the start state s_0; frame k is s_k, judged after step k−1.
        detector.reset();
        detector.observe(p[0]);
        for (const sh of shapers) sh.beginEpisode(phi[0]);
        let detected: number | null = detector.done ? 0 : null;
        const g = shapers.map(() => 0);
        let sum = 0;
        for (let k = 1; k < n && detected === null; k++) {
          detector.observe(p[k]);
          if (detector.done) detected = k;
          const end = detected !== null ? STEP_TERMINAL : k === n - 1 ? STEP_TRUNCATED : STEP_CONTINUES;
          shapers.forEach((sh, i) => {
            sh.observeProgress(phi[k]);
            const r = sh.step(0, 0, end);
            g[i] += sh.gamma ** (k - 1) * r.total;
            if (i === 0) sum += r.total;
          });
        }
        let doneScore = Number.NEGATIVE_INFINITY;
        for (let k = 0; k + o.doneUpdates <= n; k++) {
          let low = Number.POSITIVE_INFINITY;
          for (let j = k; j < k + o.doneUpdates; j++) low = Math.min(low, p[j]);
          doneScore = Math.max(doneScore, low);
        }
        verdicts.push({
          dataset: dir, source: ep.source, seed: ep.seed, ground_truth: ep.success, first_success_frame: firstSuccess,
          detected_frame: detected, done_score: doneScore, return: g[0], return_sum: sum, returns_by_horizon: g,
          extra_detections: extraRules.map((rule) => firstDetection(rule, p, o.hysteresis ?? 0.05)),
        });
      }
    }
  } finally {
    await progress.close();
    await success.close();
  }
  const ok = verdicts.filter((v) => v.ground_truth);
  const bad = verdicts.filter((v) => !v.ground_truth);
  const bySource: RewardSignalReport['by_source'] = {};
  for (const v of verdicts) {
    const s = (bySource[v.source] ??= { successful: 0, failed: 0, detected: 0, false_positives: 0 });
    if (v.ground_truth) { s.successful++; if (v.detected_frame !== null) s.detected++; } else { s.failed++; if (v.detected_frame !== null) s.false_positives++; }
  }
  return {
    models: { progress: progress.metadata.name + ' ' + progress.metadata.version, success: success.metadata.name + ' ' + success.metadata.version },
    threshold: o.threshold, done_updates: o.doneUpdates, gamma_per_frame: shaper.gamma,
    episodes: verdicts.length, successful: ok.length, failed: bad.length,
    detection_rate: ok.length === 0 ? null : ok.filter((v) => v.detected_frame !== null).length / ok.length,
    false_positive_rate: bad.length === 0 ? null : bad.filter((v) => v.detected_frame !== null).length / bad.length,
    early_detections: ok.filter((v) => v.detected_frame !== null && v.first_success_frame !== null && v.detected_frame < v.first_success_frame).length,
    auc: rankAuc(ok.map((v) => v.return), bad.map((v) => v.return)),
    auc_sum: rankAuc(ok.map((v) => v.return_sum), bad.map((v) => v.return_sum)),
    horizon_s: horizons[0],
    auc_by_horizon: Object.fromEntries(horizons.map((h, i) => [String(h), rankAuc(ok.map((v) => v.returns_by_horizon[i]), bad.map((v) => v.returns_by_horizon[i]))])),
    extra_rules: extraRules.map((rule, i) => {
      const fired = (v: EpisodeVerdict) => v.extra_detections[i] !== null;
      return {
        done_updates: rule.doneUpdates, threshold: rule.threshold, rate_hz: rule.rateHz,
        detection_rate: ok.length === 0 ? null : ok.filter(fired).length / ok.length,
        false_positive_rate: bad.length === 0 ? null : bad.filter(fired).length / bad.length,
        early_detections: ok.filter((v) => fired(v) && v.first_success_frame !== null && (v.extra_detections[i] as number) < v.first_success_frame).length,
      };
    }),
    by_source: bySource,
    verdicts,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/** The model card's section between the prm-success markers. */
export function rewardSignalSection(r: RewardSignalReport, command: string): string {
  const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
  const seeds = (dataset: string): string => {
    const s = r.verdicts.filter((v) => v.dataset === dataset).map((v) => v.seed).filter((x): x is number => x !== null);
    return s.length === 0 ? '' : ` (seeds ${Math.min(...s)}–${Math.max(...s)})`;
  };
  const datasets = [...new Set(r.verdicts.map((v) => v.dataset))];
  return [
    '<!-- prm-success:begin -->',
    `Success model \`${r.models.success}\` with the done rule (${r.done_updates} answer(s) in a row at P ≥ ${r.threshold}, every`,
    `camera frame) and progress model \`${r.models.progress}\`, on held-out recordings ${datasets.map((d) => `\`${d}\`${seeds(d)}`).join(', ')}`,
    '(docs/seeds.md), replayed as learning-mode episodes: the done rule ends an episode as a success; otherwise it',
    'ends at its last frame (time limit, or 2 s after the first success frame). Ground truth = the simulator reached',
    `success at some frame. PRM-only return = Σ γ^k r_k of docs/rewards.md (R = 1, γ = exp(−0.1 s / ${r.horizon_s} s) per frame).`,
    '',
    '| metric | value |',
    '|---|---|',
    `| episodes (successful / failed) | ${r.episodes} (${r.successful} / ${r.failed}) |`,
    `| real successes caught by the done rule | ${pct(r.detection_rate)} |`,
    `| failed episodes it fired on (false positives) | ${pct(r.false_positive_rate)} |`,
    `| fired before the first success frame | ${r.early_detections} |`,
    `| AUC, PRM-only discounted return, successful vs failed | ${f(r.auc)} |`,
    `| AUC, undiscounted sum | ${f(r.auc_sum)} |`,
    ...Object.entries(r.auc_by_horizon).filter(([h]) => Number(h) !== r.horizon_s).map(([h, v]) => `| AUC, discounted return with a ${h} s horizon | ${f(v)} |`),
    '',
    ...(r.extra_rules.length === 0 ? [] : [
      'The same answers under other done rules (each replayed over the whole episode; a rule at 5 Hz sees every second',
      'frame), e.g. the one a learning config runs:',
      '',
      '| done rule | real successes caught | false positives | fired before the first success frame |',
      '|---|---|---|---|',
      `| ${r.done_updates} in a row at P ≥ ${r.threshold}, 10 Hz (above) | ${pct(r.detection_rate)} | ${pct(r.false_positive_rate)} | ${r.early_detections} |`,
      ...r.extra_rules.map((x) => `| ${x.done_updates} in a row at P ≥ ${x.threshold}, ${x.rate_hz} Hz | ${pct(x.detection_rate)} | ${pct(x.false_positive_rate)} | ${x.early_detections} |`),
      '',
    ]),
    '| source | successful | caught | failed | false positives |',
    '|---|---|---|---|---|',
    ...Object.entries(r.by_source).map(([s, v]) => `| ${s} | ${v.successful} | ${v.detected} | ${v.failed} | ${v.false_positives} |`),
    '',
    `Command: \`${command}\` (${r.seconds} s).`,
    '<!-- prm-success:end -->',
  ].join('\n');
}
