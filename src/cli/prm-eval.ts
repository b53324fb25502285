// `striatum prm eval`: runs a progress PRM over recorded episodes (`striatum record --frames`) and scores it with
// Striatum's own VOC (src/reward/voc.ts) on successful episodes, failed ones, and successful ones played
// backwards. Offline: onnxruntime-node directly, one thread; preprocessing per the model's metadata, kept simple
// (the production PRM worker lives in src/reward/prm/).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { parsePrmMetadata, type PrmMetadata } from '../reward/metadata.js';
import { reversedValueOrderCorrelation, valueOrderCorrelation, vocF1 } from '../reward/voc.js';
import type { Command } from './flags.js';
import { intFlag, parseFlags } from './flags.js';

// ---------------------------------------------------------------------------------------------------------------
// Inputs: .npy arrays (uint8 frames too, which src/util/npy.ts does not read), and the WordLevel tokenizer.

type NpyArray = { data: Uint8Array | Int32Array | Float32Array; shape: number[] };

/** A NumPy .npy file (format 1.x/2.x, C order) of uint8, int32 or float32, little-endian. */
export function readNpyArray(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${path}: ${(err as Error).message}`, [], { cause: err });
  }
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a .npy file`);
  const start = buf[6] === 1 ? 10 : 12;
  const headerLen = buf[6] === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined || /'fortran_order':\s*True/.test(header)) {
    throw new StriatumError('STRIATUM_ERR_IO', `${path}: unsupported npy header ${header.trim()}`);
  }
  const shape = shapeText.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  const bytes = new Uint8Array(buf.subarray(start + headerLen)).buffer; // an aligned copy
  if (descr === '|u1') return { data: new Uint8Array(bytes), shape };
  if (descr === '<i4') return { data: new Int32Array(bytes), shape };
  if (descr === '<f4') return { data: new Float32Array(bytes), shape };
  throw new StriatumError('STRIATUM_ERR_IO', `${path}: dtype ${descr} not supported (uint8, int32, float32)`);
}

/** Hugging Face `tokenizers` WordLevel model with Lowercase and Whitespace (\w+|[^\w\s]+), as trainer/prm.py writes. */
export class WordLevelTokenizer {
  private constructor(private readonly vocab: ReadonlyMap<string, number>, private readonly unkId: number, private readonly padId: number, private readonly lowercase: boolean) {}

  static load(path: string): WordLevelTokenizer {
    let raw: any;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_IO', `cannot read tokenizer ${path}: ${(err as Error).message}`, [], { cause: err });
    }
    const model = raw?.model;
    if (model?.type !== 'WordLevel' || typeof model.vocab !== 'object' || model.vocab === null) {
      throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `tokenizer ${path}: only WordLevel models are supported here, got ${String(model?.type)}`);
    }
    if (raw.pre_tokenizer?.type !== 'Whitespace') {
      throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `tokenizer ${path}: only the Whitespace pre-tokenizer is supported here, got ${String(raw.pre_tokenizer?.type)}`);
    }
    const vocab = new Map<string, number>(Object.entries(model.vocab as Record<string, number>));
    const unkId = vocab.get(String(model.unk_token));
    if (unkId === undefined) throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `tokenizer ${path}: unk_token ${String(model.unk_token)} is not in the vocabulary`);
    const padId = typeof raw.padding?.pad_id === 'number' ? raw.padding.pad_id : 0;
    return new WordLevelTokenizer(vocab, unkId, padId, raw.normalizer?.type === 'Lowercase');
  }

  /** Token ids of `text`, cut or padded to maxLength, into out (BigInt64, as ONNX int64 inputs need). */
  encode(text: string, maxLength: number, out: BigInt64Array = new BigInt64Array(maxLength)): BigInt64Array {
    const words = (this.lowercase ? text.toLowerCase() : text).match(/\w+|[^\w\s]+/g) ?? [];
    for (let i = 0; i < maxLength; i++) out[i] = BigInt(i < words.length ? this.vocab.get(words[i]) ?? this.unkId : this.padId);
    return out;
  }

  get padTokenId(): number {
    return this.padId;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Preprocessing: crop → resize (bilinear, pixel centres) → channel order → (pixel·scale − mean)/std → layout.

/** Write one RGB frame (row-major, 3 bytes a pixel) as the model's image at out[offset…]. */
export function preprocessFrame(
  rgb: Uint8Array, width: number, height: number, pre: PrmMetadata['preprocessing'], out: Uint8Array | Float32Array, offset: number,
): void {
  const crop = pre.crop ?? { x: 0, y: 0, width, height };
  if (crop.x + crop.width > width || crop.y + crop.height > height) {
    throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `crop ${crop.width}x${crop.height}+${crop.x}+${crop.y} exceeds the ${width}x${height} frame`);
  }
  const W = pre.resize.width;
  const H = pre.resize.height;
  const sx = crop.width / W;
  const sy = crop.height / H;
  const nchw = pre.layout === 'nchw';
  const bgr = pre.channel_order === 'bgr';
  const asFloat = pre.dtype === 'float32';
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), crop.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, crop.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), crop.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, crop.width - 1);
      const wx = fx - x0;
      const p00 = 3 * ((crop.y + y0) * width + crop.x + x0);
      const p01 = 3 * ((crop.y + y0) * width + crop.x + x1);
      const p10 = 3 * ((crop.y + y1) * width + crop.x + x0);
      const p11 = 3 * ((crop.y + y1) * width + crop.x + x1);
      for (let c = 0; c < 3; c++) {
        const v = (1 - wy) * ((1 - wx) * rgb[p00 + c] + wx * rgb[p01 + c]) + wy * ((1 - wx) * rgb[p10 + c] + wx * rgb[p11 + c]);
        const channel = bgr ? 2 - c : c;
        const at = offset + (nchw ? channel * H * W + y * W + x : (y * W + x) * 3 + channel);
        out[at] = asFloat ? (v * pre.scale - pre.mean[channel]) / pre.std[channel] : Math.round(v);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Recorded episodes.

interface RecordedEpisode {
  readonly dataset: string;
  readonly source: string;
  readonly index: number;
  readonly success: boolean;
  readonly instruction: string;
  /** Frame rows [first, end) of the camera's frames. */
  readonly first: number;
  readonly end: number;
}

interface Recording {
  readonly frames: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly progress: Float32Array;
  readonly episodes: RecordedEpisode[];
}

function loadRecording(dir: string, camera: string): Recording {
  let meta: any;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${join(dir, 'meta.json')}: ${(err as Error).message}`, [], { cause: err });
  }
  const frames = readNpyArray(join(dir, `frames_${camera}.npy`));
  const episodeOf = readNpyArray(join(dir, 'frame_episode.npy'));
  const progress = readNpyArray(join(dir, 'frame_progress.npy'));
  if (!(frames.data instanceof Uint8Array) || frames.shape.length !== 4 || frames.shape[3] !== 3) {
    throw new StriatumError('STRIATUM_ERR_IO', `${dir}: frames_${camera}.npy must be uint8 [F, H, W, 3], got [${frames.shape.join(', ')}]`);
  }
  const count = frames.shape[0];
  if (!(episodeOf.data instanceof Int32Array) || !(progress.data instanceof Float32Array) || episodeOf.data.length !== count || progress.data.length !== count) {
    throw new StriatumError('STRIATUM_ERR_IO', `${dir}: frame_episode.npy (int32) and frame_progress.npy (float32) must have one entry per frame (${count})`);
  }
  const byIndex = new Map<number, { success: boolean; instruction: string }>();
  for (const e of meta.episodes ?? []) byIndex.set(e.index, e);
  const episodes: RecordedEpisode[] = [];
  for (let first = 0; first < count;) {
    const index = episodeOf.data[first];
    let end = first + 1;
    while (end < count && episodeOf.data[end] === index) end++;
    const entry = byIndex.get(index);
    if (entry === undefined) throw new StriatumError('STRIATUM_ERR_IO', `${dir}: episode ${index} has frames but no meta.json entry`);
    episodes.push({ dataset: dir, source: String(meta.source ?? 'expert'), index, success: entry.success === true, instruction: String(entry.instruction), first, end });
    first = end;
  }
  return { frames: frames.data, width: frames.shape[2], height: frames.shape[1], progress: progress.data, episodes };
}

// ---------------------------------------------------------------------------------------------------------------
// The model.

/** A progress PRM loaded for offline evaluation: one onnxruntime session, one thread. */
export class ProgressModelRunner {
  private constructor(
    readonly meta: PrmMetadata,
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: WordLevelTokenizer | null,
  ) {}

  static async load(metadataPath: string): Promise<ProgressModelRunner> {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(metadataPath, 'utf8'));
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${metadataPath}: ${(err as Error).message}`, [], { cause: err });
    }
    const meta = parsePrmMetadata(raw, metadataPath);
    if (meta.kind !== 'progress') throw new StriatumError('STRIATUM_ERR_USAGE', `${metadataPath} is a ${meta.kind} model; prm eval scores progress models`);
    const base = dirname(resolve(metadataPath));
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(readFileSync(join(base, meta.model)), {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `cannot load ${join(base, meta.model)}: ${String((err as Error).message ?? err).split('\n')[0]}`, [], { cause: err });
    }
    const declared = meta.inputs.map((t) => t.name).sort().join(', ');
    const actual = [...session.inputNames].sort().join(', ');
    if (declared !== actual || !session.outputNames.includes(meta.outputs[0].name)) {
      throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `${meta.model} does not match its metadata`, [
        `inputs: model [${actual}], metadata [${declared}]`, `outputs: model [${session.outputNames.join(', ')}]`,
      ]);
    }
    const tokenizer = meta.text?.tokenizer !== undefined ? WordLevelTokenizer.load(join(base, meta.text.tokenizer)) : null;
    return new ProgressModelRunner(meta, session, tokenizer);
  }

  /**
   * Progress for every frame of a clip as shown: `order` lists frame rows in the order the video plays. The
   * window holds the frames shown before each one (the first repeated at the start), the anchor is the clip's
   * first frame, as a runtime watching this video would see them.
   */
  async clip(rec: Recording, order: Int32Array, instruction: string): Promise<Float32Array> {
    const { meta } = this;
    const n = order.length;
    const window = meta.frames.window;
    const frameSize = meta.preprocessing.resize.width * meta.preprocessing.resize.height * 3;
    const srcSize = rec.width * rec.height * 3;
    const make = (count: number): Uint8Array | Float32Array => (meta.preprocessing.dtype === 'uint8' ? new Uint8Array(count) : new Float32Array(count));
    const pixels = (row: number): Uint8Array => rec.frames.subarray(row * srcSize, (row + 1) * srcSize);
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of meta.inputs) {
      const dims = [n, ...input.shape.slice(1)];
      if (input.role === 'image') {
        const data = make(n * window * frameSize);
        for (let k = 0; k < n; k++) {
          for (let w = 0; w < window; w++) {
            const shown = Math.max(0, k - (window - 1 - w)); // oldest first
            preprocessFrame(pixels(order[shown]), rec.width, rec.height, meta.preprocessing, data, (k * window + w) * frameSize);
          }
        }
        feeds[input.name] = new ort.Tensor(input.dtype as 'uint8' | 'float32', data, dims);
      } else if (input.role === 'start_image') {
        const data = make(n * frameSize);
        preprocessFrame(pixels(order[0]), rec.width, rec.height, meta.preprocessing, data, 0);
        for (let k = 1; k < n; k++) data.copyWithin(k * frameSize, 0, frameSize);
        feeds[input.name] = new ort.Tensor(input.dtype as 'uint8' | 'float32', data, dims);
      } else {
        const maxLength = meta.text?.max_length ?? input.shape[1];
        const ids = (this.tokenizer as WordLevelTokenizer).encode(instruction, maxLength);
        const data = new BigInt64Array(n * maxLength);
        for (let k = 0; k < n; k++) {
          for (let i = 0; i < maxLength; i++) {
            data[k * maxLength + i] = input.role === 'text_ids' ? ids[i] : BigInt(Number(ids[i]) === (this.tokenizer as WordLevelTokenizer).padTokenId ? 0 : 1);
          }
        }
        feeds[input.name] = new ort.Tensor('int64', data, [n, maxLength]);
      }
    }
    const result = await this.session.run(feeds);
    const output = result[meta.outputs.find((o) => o.role === 'progress')!.name].data as Float32Array;
    return Float32Array.from(output);
  }

  close(): Promise<void> {
    return this.session.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scores.

export interface EpisodeScore {
  dataset: string;
  source: string;
  episode: number;
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
  options: { model: string; data: readonly string[]; camera?: string; maxEpisodes?: number },
): Promise<PrmEvalReport> {
  const started = performance.now();
  const camera = options.camera ?? 'top';
  const runner = await ProgressModelRunner.load(options.model);
  const scores: EpisodeScore[] = [];
  try {
    for (const dir of options.data) {
      const rec = loadRecording(dir, camera);
      const episodes = rec.episodes.slice(0, options.maxEpisodes ?? rec.episodes.length);
      for (const ep of episodes) {
        const n = ep.end - ep.first;
        const forward = new Int32Array(n);
        for (let k = 0; k < n; k++) forward[k] = ep.first + k;
        const values = await runner.clip(rec, forward, ep.instruction);
        const truth = rec.progress.subarray(ep.first, ep.end);
        let error = 0;
        for (let k = 0; k < n; k++) error += Math.abs(values[k] - truth[k]);
        const score: EpisodeScore = {
          dataset: dir, source: ep.source, episode: ep.index, success: ep.success, frames: n,
          voc: valueOrderCorrelation(values), gt_voc: valueOrderCorrelation(truth), mean_abs_error: error / n,
        };
        if (ep.success) {
          const backward = forward.slice().reverse();
          const reversed = await runner.clip(rec, backward, ep.instruction);
          score.reversed_voc = valueOrderCorrelation(reversed);
          score.vroc = reversedValueOrderCorrelation(reversed);
          score.voc_f1 = vocF1(score.voc, score.vroc);
        }
        scores.push(score);
      }
    }
  } finally {
    await runner.close();
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
  const meta = runner.meta;
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
    `(seeds never used in training): ${report.datasets.map((d) => `\`${d}\``).join(', ')}; camera \`${report.camera}\`.`,
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
    `Command: \`${command}\` (${report.seconds} s, onnxruntime-node, one thread).`,
    '<!-- prm-eval:end -->',
  ].join('\n');
}

export const prmEvalCommand: Command = {
  summary: 'score a progress PRM with VOC on recorded episodes (successful, failed, reversed)',
  help: `Usage: striatum prm eval --model PRM.json --data DIR[,DIR...] [--camera top] [--max-episodes N] [--card README.md]

Runs the progress model (metadata format striatum.prm/v1) with onnxruntime-node, one thread, over every episode
recorded by \`striatum record --frames CAMERA\` in the given directories, and scores it with VOC (Spearman
correlation of predicted progress with time): successful episodes, failed ones, and the successful ones played
backwards (VROC, VOC-F1). Prints one JSON report; --card replaces the section between
<!-- prm-eval:begin --> and <!-- prm-eval:end --> in a model card with a summary table.`,
  async run(args, _logger: Logger) {
    const { values } = parseFlags(args, {
      model: { type: 'string' }, data: { type: 'string' }, camera: { type: 'string' }, 'max-episodes': { type: 'string' }, card: { type: 'string' },
    });
    if (values.model === undefined || values.data === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'prm eval needs --model PRM.json and --data DIR[,DIR...]');
    const data = values.data.split(',').map((d) => d.trim()).filter((d) => d !== '');
    const maxEpisodes = intFlag('max-episodes', values['max-episodes'], 1);
    const report = await evaluateProgressModel({ model: values.model, data, camera: values.camera, maxEpisodes });
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
      writeFileSync(values.card, card.replace(marked, () => evaluationSection(report, command)));
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
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
