// `striatum prm eval`: runs a progress (or pairwise) PRM over recorded episodes (`striatum record --frames`) and
// scores it with Striatum's own VOC (src/reward/voc.ts) on successful episodes, failed ones, and successful ones
// played backwards. The model runs in the robot's own PRM worker (src/reward/prm/replay.ts): the same adapter,
// preprocessing, tokenizer and reversed pass as on the robot.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StriatumError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { PrmReplay } from '../reward/prm/replay.js';
import { reversedValueOrderCorrelation, valueOrderCorrelation, vocF1 } from '../reward/voc.js';
import { readNpy } from '../util/npy.js';
import type { Command } from './flags.js';
import { intFlag, parseFlags } from './flags.js';
import { evaluateRewardSignal, parseDoneRule, rewardSignalSection } from './prm-success-eval.js';
import { DEFAULT_HORIZON_S } from '../reward/shaping.js';

// ---------------------------------------------------------------------------------------------------------------
// Recorded episodes.

export interface RecordedEpisode {
  readonly dataset: string;
  readonly source: string;
  readonly index: number;
  /** The simulator seed it was recorded with (meta.json), null when not recorded. */
  readonly seed: number | null;
  readonly success: boolean;
  readonly instruction: string;
  /** Frame rows [first, end) of the camera's frames. */
  readonly first: number;
  readonly end: number;
}

export interface Recording {
  readonly frames: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly progress: Float32Array;
  readonly episodes: RecordedEpisode[];
}

export function loadRecording(dir: string, camera: string): Recording {
  let meta: any;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${join(dir, 'meta.json')}: ${(err as Error).message}`, [], { cause: err });
  }
  const frames = readNpy(join(dir, `frames_${camera}.npy`));
  const episodeOf = readNpy(join(dir, 'frame_episode.npy'));
  const progress = readNpy(join(dir, 'frame_progress.npy'));
  if (!(frames.data instanceof Uint8Array) || frames.shape.length !== 4 || frames.shape[3] !== 3) {
    throw new StriatumError('STRIATUM_ERR_IO', `${dir}: frames_${camera}.npy must be uint8 [F, H, W, 3], got [${frames.shape.join(', ')}]`);
  }
  const count = frames.shape[0];
  if (!(episodeOf.data instanceof Int32Array) || !(progress.data instanceof Float32Array) || episodeOf.data.length !== count || progress.data.length !== count) {
    throw new StriatumError('STRIATUM_ERR_IO', `${dir}: frame_episode.npy (int32) and frame_progress.npy (float32) must have one entry per frame (${count})`);
  }
  const byIndex = new Map<number, { success: boolean; instruction: string; seed?: unknown }>();
  for (const e of meta.episodes ?? []) byIndex.set(e.index, e);
  const episodes: RecordedEpisode[] = [];
  for (let first = 0; first < count;) {
    const index = episodeOf.data[first];
    let end = first + 1;
    while (end < count && episodeOf.data[end] === index) end++;
    const entry = byIndex.get(index);
    if (entry === undefined) throw new StriatumError('STRIATUM_ERR_IO', `${dir}: episode ${index} has frames but no meta.json entry`);
    episodes.push({ dataset: dir, source: String(meta.source ?? 'expert'), index, seed: typeof entry.seed === 'number' ? entry.seed : null, success: entry.success === true, instruction: String(entry.instruction), first, end });
    first = end;
  }
  return { frames: frames.data, width: frames.shape[2], height: frames.shape[1], progress: progress.data, episodes };
}

// ---------------------------------------------------------------------------------------------------------------
// Scores.

export interface EpisodeScore {
  dataset: string;
  source: string;
  episode: number;
  seed: number | null;
  success: boolean;
  frames: number;
  /** VOC of the predictions, and of the ground-truth progress (the best a perfect tracker of it scores). */
  voc: number;
  gt_voc: number;
  mean_abs_error: number;
  /** Successful episodes only: VOC of the predictions on the video played backwards (in shown order), VROC, VOC-F1. */
  reversed_voc?: number;
  vroc?: number;
  voc_f1?: number;
}

function summary(values: number[]): { episodes: number; mean: number | null; median: number | null; min: number | null } {
  if (values.length === 0) return { episodes: 0, mean: null, median: null, min: null };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const round = (v: number): number => Math.round(v * 1e4) / 1e4;
  return {
    episodes: values.length,
    mean: round(values.reduce((s, v) => s + v, 0) / values.length),
    median: round(sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2),
    min: round(sorted[0]),
  };
}

export interface PrmEvalReport {
  model: { name: string; version: string; sha256: string | null };
  camera: string;
  datasets: string[];
  successful: ReturnType<typeof summary> & { gt_voc_mean: number | null; mean_abs_error: number | null };
  failed: ReturnType<typeof summary> & { gt_voc_mean: number | null; mean_abs_error: number | null };
  reversed: ReturnType<typeof summary> & { vroc_mean: number | null; voc_f1_mean: number | null };
  by_source: Record<string, { successful: ReturnType<typeof summary>; failed: ReturnType<typeof summary>; reversed: ReturnType<typeof summary> }>;
  episodes: EpisodeScore[];
  seconds: number;
}

/** Score a progress model on every episode of the recordings: forward, and successful ones also backwards. */
export async function evaluateProgressModel(
  options: { model: string; data: readonly string[]; camera?: string; maxEpisodes?: number; logger?: Logger },
): Promise<PrmEvalReport> {
  const started = performance.now();
  const camera = options.camera ?? 'top';
  const recordings = options.data.map((dir) => {
    const rec = loadRecording(dir, camera);
    return { dir, rec, episodes: rec.episodes.slice(0, options.maxEpisodes ?? rec.episodes.length) };
  });
  const first = recordings[0]?.rec;
  if (first === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'prm eval needs at least one --data directory');
  for (const { dir, rec } of recordings) {
    if (rec.width !== first.width || rec.height !== first.height) {
      throw new StriatumError('STRIATUM_ERR_USAGE', `${dir}: camera '${camera}' frames are ${rec.width}x${rec.height}, ${options.data[0]} has ${first.width}x${first.height}`);
    }
  }
  const longest = Math.max(1, ...recordings.flatMap((r) => r.episodes.map((e) => e.end - e.first)));
  const replay = await PrmReplay.start({
    metadataPath: options.model,
    camera: { name: camera, width: first.width, height: first.height },
    maxEpisodeFrames: longest,
    logger: options.logger ?? silentLogger,
  });
  const scores: EpisodeScore[] = [];
  try {
    for (const { dir, rec, episodes } of recordings) {
      const frameBytes = rec.width * rec.height * 3;
      for (const ep of episodes) {
        const n = ep.end - ep.first;
        const values = await replay.judge(rec.frames.subarray(ep.first * frameBytes, ep.end * frameBytes), ep.instruction);
        const truth = rec.progress.subarray(ep.first, ep.end);
        let error = 0;
        for (let k = 0; k < n; k++) error += Math.abs(values[k] - truth[k]);
        const score: EpisodeScore = {
          dataset: dir, source: ep.source, episode: ep.index, seed: ep.seed, success: ep.success, frames: n,
          voc: valueOrderCorrelation(values), gt_voc: valueOrderCorrelation(truth), mean_abs_error: error / n,
        };
        if (ep.success) {
          const reversed = await replay.judgeReversed();
          score.reversed_voc = valueOrderCorrelation(reversed);
          score.vroc = reversedValueOrderCorrelation(reversed);
          score.voc_f1 = vocF1(score.voc, score.vroc);
        }
        scores.push(score);
      }
    }
  } finally {
    await replay.close();
  }
  const mean = (v: number[]): number | null => (v.length === 0 ? null : Math.round((v.reduce((s, x) => s + x, 0) / v.length) * 1e4) / 1e4);
  const ok = scores.filter((s) => s.success);
  const bad = scores.filter((s) => !s.success);
  const bySource: PrmEvalReport['by_source'] = {};
  for (const source of [...new Set(scores.map((s) => s.source))]) {
    const mine = scores.filter((s) => s.source === source);
    bySource[source] = {
      successful: summary(mine.filter((s) => s.success).map((s) => s.voc)),
      failed: summary(mine.filter((s) => !s.success).map((s) => s.voc)),
      reversed: summary(mine.filter((s) => s.success).map((s) => s.reversed_voc as number)),
    };
  }
  const meta = replay.metadata;
  return {
    model: { name: meta.name, version: meta.version, sha256: meta.sha256 ?? null },
    camera,
    datasets: [...options.data],
    successful: { ...summary(ok.map((s) => s.voc)), gt_voc_mean: mean(ok.map((s) => s.gt_voc)), mean_abs_error: mean(ok.map((s) => s.mean_abs_error)) },
    failed: { ...summary(bad.map((s) => s.voc)), gt_voc_mean: mean(bad.map((s) => s.gt_voc)), mean_abs_error: mean(bad.map((s) => s.mean_abs_error)) },
    reversed: { ...summary(ok.map((s) => s.reversed_voc as number)), vroc_mean: mean(ok.map((s) => s.vroc as number)), voc_f1_mean: mean(ok.map((s) => s.voc_f1 as number)) },
    by_source: bySource,
    episodes: scores,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/** " (seeds a–b)" for the episodes' recorded seeds, "" when they have none. */
function seedRange(episodes: readonly EpisodeScore[]): string {
  const seeds = episodes.map((e) => e.seed).filter((v): v is number => v !== null);
  if (seeds.length === 0) return '';
  const lo = Math.min(...seeds);
  const hi = Math.max(...seeds);
  const runs = hi - lo + 1 === seeds.length ? '' : `, ${seeds.length} of them`;
  return lo === hi ? ` (seed ${lo})` : ` (seeds ${lo}–${hi}${runs})`;
}

/** The model card's evaluation section (between the prm-eval markers), from a report. */
export function evaluationSection(report: PrmEvalReport, command: string): string {
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
  const row = (name: string, s: { episodes: number; mean: number | null; median: number | null; min: number | null }, extra: string): string =>
    `| ${name} | ${s.episodes} | ${f(s.mean)} | ${f(s.median)} | ${f(s.min)} | ${extra} |`;
  const sources = Object.entries(report.by_source).map(([source, s]) =>
    `| ${source} | ${s.successful.episodes} | ${f(s.successful.mean)} | ${s.failed.episodes} | ${f(s.failed.mean)} | ${f(s.reversed.mean)} |`);
  return [
    '<!-- prm-eval:begin -->',
    `\`${report.model.name}\` ${report.model.version} (sha256 \`${report.model.sha256 ?? '-'}\`) on held-out recordings`,
    `(seeds never used in training): ${report.datasets.map((d) => `\`${d}\`${seedRange(report.episodes.filter((e) => e.dataset === d))}`).join(', ')}; camera \`${report.camera}\`.`,
    'VOC = Spearman correlation of the predicted progress with time, per episode (src/reward/voc.ts), then averaged.',
    '"reversed" is the successful episodes played backwards (window and start frame as shown): a good model scores',
    'low there. "ground-truth VOC" is the VOC of the simulator\'s own progress on the same frames: below 1 even for',
    'successes, since progress stays 0 while the pusher walks to the block; failed episodes make partial progress,',
    'so read their VOC against it.',
    '',
    '| episodes | n | VOC mean | median | min | also |',
    '|---|---|---|---|---|---|',
    row('successful', report.successful, `ground-truth VOC ${f(report.successful.gt_voc_mean)}, mean abs error ${f(report.successful.mean_abs_error)}`),
    row('failed', report.failed, `ground-truth VOC ${f(report.failed.gt_voc_mean)}, mean abs error ${f(report.failed.mean_abs_error)}`),
    row('reversed (successful, backwards)', report.reversed, `VROC ${f(report.reversed.vroc_mean)}, VOC-F1 ${f(report.reversed.voc_f1_mean)}`),
    '',
    '| source | successful | VOC | failed | VOC | reversed VOC |',
    '|---|---|---|---|---|---|',
    ...sources,
    '',
    `Command: \`${command}\` (${report.seconds} s; the robot's PRM worker, src/reward/prm/: onnxruntime-node, one thread).`,
    '<!-- prm-eval:end -->',
  ].join('\n');
}

export const prmEvalCommand: Command = {
  summary: 'score a progress PRM with VOC on recorded episodes (successful, failed, reversed)',
  help: `Usage: striatum prm eval --model PRM.json --data DIR[,DIR...] [--camera top] [--max-episodes N] [--card README.md]
                         [--success SUCCESS.json --success-threshold P [--done-updates K] [--horizon S[,S...]] [--extra-rule K:P:HZ[,...]]]

Runs the progress model (metadata format striatum.prm/v1, kind progress or pairwise) in the robot's own PRM
worker thread (the adapter, preprocessing and tokenizer \`striatum run\` uses; onnxruntime-node, one thread) over
every episode recorded by \`striatum record --frames CAMERA\` in the given directories. Frames are fed one at a
time, each answer awaited, so every frame is judged with the window and start frame the robot would have. Scores
it with VOC (Spearman correlation of predicted progress with time): successful episodes, failed ones, and the
successful ones played backwards by the worker's reversed pass (VROC, VOC-F1). Prints one JSON report; --card
replaces the section between <!-- prm-eval:begin --> and <!-- prm-eval:end --> in a model card with a summary
table.

With --success, the success model runs beside it (also in its worker) and every episode is replayed as a
learning-mode episode: the done rule (K answers in a row at P >= the threshold, default K 1) ends it as a success,
and its PRM-only return is computed with the robot's RewardShaper (docs/rewards.md). The report's reward_signal
gives, against the simulator's ground truth, the share of real successes the done rule caught, the share of
failed episodes it fired on, and the AUC of the returns (successful above failed); --card also fills the
<!-- prm-success:begin --> ... <!-- prm-success:end --> section. --horizon is the reward shaping's horizon in
seconds (the robot config's reward.shaping.horizon_s, default 10): γ = exp(−0.1 s / S) per camera frame; with
several, the first gives the return and its AUC and every one gets its AUC in auc_by_horizon. --extra-rule K:P:HZ[,...]
replays the same answers under more done rules (K answers in a row at P >= P, the success model answering HZ times
a second; a learning config's rate_hz and done_updates): each gets its caught and false-positive rates in
extra_rules and a row in the card.`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, {
      model: { type: 'string' }, data: { type: 'string' }, camera: { type: 'string' }, 'max-episodes': { type: 'string' }, card: { type: 'string' },
      success: { type: 'string' }, 'success-threshold': { type: 'string' }, 'done-updates': { type: 'string' }, horizon: { type: 'string' },
      'extra-rule': { type: 'string' },
    });
    if (values.success !== undefined && values['success-threshold'] === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', '--success needs --success-threshold P (the config\'s success_threshold)');
    const threshold = Number(values['success-threshold']);
    if (values.success !== undefined && !(threshold >= 0 && threshold <= 1)) throw new StriatumError('STRIATUM_ERR_USAGE', `--success-threshold must be in [0, 1], got "${values['success-threshold']}"`);
    const doneUpdates = intFlag('done-updates', values['done-updates'], 1) ?? 1;
    const horizonsS = values.horizon === undefined ? [DEFAULT_HORIZON_S] : values.horizon.split(',').map((h) => Number(h.trim()));
    if (!horizonsS.every((h) => Number.isFinite(h) && h > 0)) throw new StriatumError('STRIATUM_ERR_USAGE', `--horizon must be positive seconds, e.g. 2 or 2,10, got "${values.horizon}"`);
    const extraRules = values['extra-rule'] === undefined ? [] : values['extra-rule'].split(',').map(parseDoneRule);
    if (values.model === undefined || values.data === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'prm eval needs --model PRM.json and --data DIR[,DIR...]');
    const data = values.data.split(',').map((d) => d.trim()).filter((d) => d !== '');
    const maxEpisodes = intFlag('max-episodes', values['max-episodes'], 1);
    const report = await evaluateProgressModel({ model: values.model, data, camera: values.camera, maxEpisodes, logger });
    const signal = values.success === undefined ? null : await evaluateRewardSignal({
      progressModel: values.model, successModel: values.success, data, camera: values.camera, threshold, doneUpdates, maxEpisodes, horizonsS, extraRules, logger,
    });
    if (values.card !== undefined) {
      let card: string;
      try {
        card = readFileSync(values.card, 'utf8');
      } catch (err) {
        throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${values.card}: ${(err as Error).message}`, [], { cause: err });
      }
      const marked = /<!-- prm-eval:begin -->[\s\S]*?<!-- prm-eval:end -->/;
      if (!marked.test(card)) throw new StriatumError('STRIATUM_ERR_USAGE', `${values.card} has no <!-- prm-eval:begin --> … <!-- prm-eval:end --> section`);
      const command = `striatum prm eval ${args.join(' ')}`;
      card = card.replace(marked, () => evaluationSection(report, command));
      const successMarked = /<!-- prm-success:begin -->[\s\S]*?<!-- prm-success:end -->/;
      if (signal !== null) {
        if (!successMarked.test(card)) throw new StriatumError('STRIATUM_ERR_USAGE', `${values.card} has no <!-- prm-success:begin --> … <!-- prm-success:end --> section`);
        card = card.replace(successMarked, () => rewardSignalSection(signal, command));
      }
      writeFileSync(values.card, card);
    }
    process.stdout.write(`${JSON.stringify(signal === null ? report : { ...report, reward_signal: signal })}\n`);
    return 0;
  },
};

/** `striatum prm <subcommand>`: only `eval` so far. */
export const prmCommand: Command = {
  summary: 'process-reward model tools (prm eval: VOC of a progress model on recorded episodes)',
  help: prmEvalCommand.help,
  async run(args, logger) {
    const [sub, ...rest] = args;
    if (sub === 'eval') return prmEvalCommand.run(rest, logger);
    throw new StriatumError('STRIATUM_ERR_USAGE', `unknown prm subcommand "${sub ?? ''}" (expected: eval)`);
  },
};
