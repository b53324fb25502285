// Builds a PRM adapter from its resolved config (inside the worker thread): metadata checked against its kind,
// model bytes against their sha256, session created with provider fallback and checked against the metadata,
// tokenizer, text encoder, goal images and per-view preprocessing. Also the config → ResolvedPrmModel step
// (on the main thread), which only resolves paths and reads the metadata, so a bad model fails start-up early.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { parsePrmMetadata, type PrmMetadata } from '../metadata.js';
import { readNpy } from '../../util/npy.js';
import type { PrmAdapter } from './adapter.js';
import type { PrmModelConfig } from './config.js';
import { EmbeddingAdapter } from './embedding-adapter.js';
import { FrameModelAdapter } from './frame-adapter.js';
import { loadGoalImage } from './goal-image.js';
import { PairwiseAdapter } from './pairwise-adapter.js';
import { allocatePixels, FramePreprocessor, type PixelTensor } from './preprocess.js';
import { PrmRunner } from './runner.js';
import { checkSessionAgainstPrm, createPrmSession, type PrmProvider } from './session.js';
import { TextEncoder } from './text-encoder.js';
import { TextTokenizer } from './tokenizer.js';

export interface CameraSize {
  readonly name: string;
  readonly width: number;
  readonly height: number;
}

/** A model's config with every path made absolute and every default filled: what crosses to its worker. */
export interface ResolvedPrmModel {
  readonly name: string;
  readonly kind: PrmModelConfig['kind'];
  readonly modelPath: string;
  readonly metadataPath: string;
  readonly cameras: readonly CameraSize[];
  readonly rateHz: number;
  readonly timeoutMs: number;
  readonly hangMs: number;
  readonly providers: readonly PrmProvider[];
  readonly threads: number;
  readonly warmupRuns: number;
  readonly fusion: PrmModelConfig['fusion'];
  readonly goalText: string | null;
  readonly perspectives: PrmModelConfig['perspectives'];
  readonly goalImages: Readonly<Record<string, string>> | null;
  readonly textEncoder: {
    readonly modelPath: string; readonly tokenizerPath: string; readonly maxLength: number;
    readonly idsInput: string; readonly maskInput: string | null; readonly output: string | null;
  } | null;
  readonly baselineText: string | null;
  readonly alpha: number;
  readonly rewardRange: readonly [number, number];
  readonly successThreshold: number;
  readonly reversedEvalFrames: number;
  readonly restartBackoffMs: number;
  readonly restartBackoffMaxMs: number;
}

export function defaultPrmMetadataPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

export function readPrmMetadataFile(path: string): PrmMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `cannot read PRM metadata ${path}: ${code ?? (err as Error).message}`);
  }
  return parsePrmMetadata(raw, path);
}

/** Resolve a model's config against the robot's cameras; reads and checks its metadata (throws StriatumError). */
export function resolvePrmModel(m: PrmModelConfig, cameras: readonly CameraSize[], resolvePath: (p: string) => string): { model: ResolvedPrmModel; metadata: PrmMetadata } {
  const views: CameraSize[] = [];
  for (const name of m.cameras) {
    const cam = cameras.find((c) => c.name === name);
    if (cam === undefined) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `reward model '${m.name}': camera '${name}' is not on this robot (cameras: ${cameras.map((c) => c.name).join(', ') || 'none'})`);
    }
    views.push({ name: cam.name, width: cam.width, height: cam.height });
  }
  const modelPath = resolvePath(m.model);
  const metadataPath = m.metadata !== undefined ? resolvePath(m.metadata) : defaultPrmMetadataPath(modelPath);
  const metadata = readPrmMetadataFile(metadataPath);
  if (metadata.kind !== m.kind) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `reward model '${m.name}': the config says kind ${m.kind}, its metadata ${metadataPath} says ${metadata.kind}`);
  }
  const goalImages: Record<string, string> | null = m.goal_images === null ? null : {};
  if (m.goal_images !== null && goalImages !== null) for (const [cam, p] of Object.entries(m.goal_images)) goalImages[cam] = resolvePath(p);
  const te = m.text_encoder;
  const model: ResolvedPrmModel = {
    name: m.name,
    kind: m.kind,
    modelPath,
    metadataPath,
    cameras: views,
    rateHz: m.rate_hz,
    timeoutMs: m.timeout_ms,
    hangMs: m.hang_ms ?? Math.max(5 * m.timeout_ms, 5000),
    providers: m.providers,
    threads: m.threads,
    warmupRuns: m.warmup_runs,
    fusion: m.fusion,
    goalText: m.goal_text,
    perspectives: m.perspectives,
    goalImages,
    textEncoder: te === null ? null : {
      modelPath: resolvePath(te.model), tokenizerPath: resolvePath(te.tokenizer), maxLength: te.max_length,
      idsInput: te.ids_input, maskInput: te.mask_input, output: te.output,
    },
    baselineText: m.baseline_text,
    alpha: m.alpha,
    rewardRange: m.reward_range,
    successThreshold: m.success_threshold,
    reversedEvalFrames: m.reversed_eval_frames,
    restartBackoffMs: m.restart_backoff_ms,
    restartBackoffMaxMs: m.restart_backoff_max_ms,
  };
  return { model, metadata };
}

export interface LoadedAdapter {
  readonly adapter: PrmAdapter;
  readonly metadata: PrmMetadata;
  /** Per view, the camera frame → tensor preprocessing. */
  readonly preprocessors: readonly FramePreprocessor[];
}

function readModelBytes(path: string, sha256: string | undefined, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (sha256 !== undefined) {
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== sha256) throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `${what} ${path} has sha256 ${digest}, metadata says ${sha256}`);
  }
  return bytes;
}

/** A precomputed embedding: .npy (float32) or raw little-endian float32. */
function readEmbeddingFile(path: string): Float32Array {
  if (path.toLowerCase().endsWith('.npy')) return Float32Array.from(readNpy(path).data);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read embedding ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (bytes.length % 4 !== 0) throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `embedding ${path}: ${bytes.length} bytes is not a float32 vector`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export async function loadAdapter(m: ResolvedPrmModel, logger: Logger): Promise<LoadedAdapter> {
  const metadata = readPrmMetadataFile(m.metadataPath);
  if (metadata.kind !== m.kind) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward model '${m.name}': config kind ${m.kind}, metadata kind ${metadata.kind}`);
  const metaDir = dirname(m.metadataPath);
  const bytes = readModelBytes(m.modelPath, metadata.sha256, `PRM model '${m.name}'`);
  const preprocessors = m.cameras.map((c) => new FramePreprocessor(metadata.preprocessing, c, `reward model '${m.name}', camera '${c.name}'`));

  const { session, provider } = await createPrmSession(bytes, { providers: m.providers, threads: m.threads, logger, what: `PRM '${m.name}'` });
  try {
    checkSessionAgainstPrm(session, metadata, m.modelPath);
  } catch (err) {
    await session.release();
    throw err;
  }
  const views = m.cameras.length;
  const perView = m.kind === 'pairwise' && m.perspectives === 'three_way' ? 3 : 1;
  const runner = new PrmRunner(session, metadata, views * perView);
  const tokenizer = metadata.text?.tokenizer !== undefined && runner.takesText ? TextTokenizer.load(resolve(metaDir, metadata.text.tokenizer)) : null;

  const goalFrames = async (): Promise<PixelTensor[]> => {
    const frames: PixelTensor[] = [];
    for (let v = 0; v < views; v++) {
      const cam = m.cameras[v];
      const path = m.goalImages?.[cam.name];
      if (path === undefined) throw new StriatumError('STRIATUM_ERR_CONFIG', `reward model '${m.name}': no goal image for camera '${cam.name}'`);
      const rgb = await loadGoalImage(path, cam.width, cam.height, cam.name);
      const frame = allocatePixels(metadata.preprocessing.dtype, preprocessors[v].frameSize);
      preprocessors[v].write(rgb, frame, 0);
      frames.push(frame);
    }
    return frames;
  };

  let adapter: PrmAdapter;
  try {
    if (m.kind === 'progress' || m.kind === 'success') {
      adapter = new FrameModelAdapter(runner, provider, views, tokenizer);
    } else if (m.kind === 'pairwise') {
      adapter = new PairwiseAdapter(runner, provider, views, tokenizer, m.perspectives === 'three_way' ? await goalFrames() : null);
    } else if (m.goalImages !== null) {
      const e = new EmbeddingAdapter(runner, provider, views, { kind: 'image', frames: await goalFrames() });
      await e.init();
      adapter = e;
    } else {
      let encoder: TextEncoder | null = null;
      if (m.textEncoder !== null) {
        const te = m.textEncoder;
        const s = await createPrmSession(readModelBytes(te.modelPath, undefined, `text encoder of '${m.name}'`), { providers: m.providers, threads: m.threads, logger, what: `text encoder of '${m.name}'` });
        encoder = new TextEncoder(s.session, TextTokenizer.load(te.tokenizerPath), te.maxLength, { idsInput: te.idsInput, maskInput: te.maskInput, output: te.output }, te.modelPath);
      }
      const text = metadata.text;
      const e = new EmbeddingAdapter(runner, provider, views, {
        kind: 'text',
        encoder,
        baselineText: m.baselineText,
        goalEmbedding: encoder === null && text?.goal_embedding !== undefined ? readEmbeddingFile(resolve(metaDir, text.goal_embedding)) : null,
        baselineEmbedding: encoder === null && text?.baseline_embedding !== undefined ? readEmbeddingFile(resolve(metaDir, text.baseline_embedding)) : null,
        alpha: m.alpha,
        range: m.rewardRange,
      }, logger);
      await e.init();
      adapter = e;
    }
  } catch (err) {
    await session.release();
    throw err;
  }
  logger.info('reward model loaded', { model: m.name, kind: m.kind, provider, batched: adapter.batched, views, cameras: m.cameras.map((c) => c.name) });
  return { adapter, metadata, preprocessors };
}
