// PRM model metadata (the JSON beside each PRM .onnx, format `striatum.prm/v1`), declared once with zod, and
// the check that a model's declared tensors fit its kind. Pure: the caller reads the file and, at model load,
// compares these declarations with the ONNX session's own tensors.
//
// Kinds (see shared/research/reward-models.md):
//   progress  — one image input (a window of frames when frames.window > 1), optional start-frame anchor,
//               optional text; one `progress` output, one value per batch item
//   pairwise  — two image inputs (frame a, then frame b), optional text; one `delta` output in [−1,1]
//   embedding — one image input; one `embedding` output [batch, D]; the goal comes as text.goal_embedding
//               (VLM-RM) or as a goal image at run time (VIP/LIV)
//   success   — one image input, optional text; one `success` output, P(success) in [0,1]
// progress and pairwise models may add `confidence` and `done` outputs, success models `confidence`. A value
// head with bins (ProcVLM: Σ softmax·linspace(0,1,10)) is exported with the sum inside the graph, so the
// output is one value.
//
// Preprocessing order: crop (a region of the camera frame, in source pixels) → resize to width×height →
// channel order → value = (pixel·scale − mean)/std → layout. A uint8 input carries raw pixels, so scale,
// mean and std must be the identity there (normalization then lives inside the model).
import { z } from 'zod';
import { StriatumError } from '../errors.js';
import { formatIssues } from '../util/validation.js';

const Shape = z.array(z.int().min(-1).refine((d) => d !== 0, 'a dimension cannot be 0'))
  .min(1)
  .describe('-1 marks a dynamic dimension (batch)');

const PrmInputSchema = z.strictObject({
  name: z.string().min(1),
  role: z.enum(['image', 'start_image', 'text_ids', 'text_mask'])
    .describe('image: the current frame(s), or frame a then frame b for pairwise; start_image: the episode\'s first frame (frames.start_anchor)'),
  shape: Shape,
  dtype: z.enum(['float32', 'uint8', 'int64']),
});

const PrmOutputSchema = z.strictObject({
  name: z.string().min(1),
  role: z.enum(['progress', 'delta', 'embedding', 'success', 'confidence', 'done']),
  shape: Shape,
  dtype: z.enum(['float32', 'uint8', 'int64']),
});

export const PrmMetadataSchema = z.strictObject({
  format: z.literal('striatum.prm/v1'),
  name: z.string().min(1),
  version: z.string().min(1),
  kind: z.enum(['progress', 'pairwise', 'embedding', 'success']),
  created: z.string().optional(),
  model: z.string().min(1).describe('ONNX file name, relative to the metadata file'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  inputs: z.array(PrmInputSchema).min(1),
  outputs: z.array(PrmOutputSchema).min(1),
  preprocessing: z.strictObject({
    crop: z.strictObject({ x: z.int().min(0), y: z.int().min(0), width: z.int().min(1), height: z.int().min(1) })
      .nullable().default(null).describe('region of the camera frame, in source pixels, taken before resizing'),
    resize: z.strictObject({ width: z.int().min(1), height: z.int().min(1) }).describe('the model\'s input size'),
    channel_order: z.enum(['rgb', 'bgr']).default('rgb'),
    layout: z.enum(['nchw', 'nhwc']),
    dtype: z.enum(['uint8', 'float32']),
    scale: z.number().positive().default(1).describe('pixel multiplier applied before mean/std, e.g. 1/255'),
    mean: z.array(z.number()).length(3).default([0, 0, 0]),
    std: z.array(z.number().positive()).length(3).default([1, 1, 1]),
  }),
  text: z.strictObject({
    tokenizer: z.string().min(1).optional().describe('tokenizer.json, relative to the metadata file'),
    max_length: z.int().min(1).optional().describe('token ids are padded or cut to this length'),
    goal_embedding: z.string().min(1).optional().describe('precomputed goal text embedding file (float32), relative to the metadata file'),
    baseline_embedding: z.string().min(1).optional().describe('precomputed baseline prompt embedding (VLM-RM goal-baseline projection)'),
  }).superRefine((t, ctx) => {
    if (t.tokenizer !== undefined && t.max_length === undefined) ctx.addIssue({ code: 'custom', path: ['max_length'], message: 'a tokenizer needs max_length' });
    if (t.tokenizer === undefined && t.max_length !== undefined) ctx.addIssue({ code: 'custom', path: ['tokenizer'], message: 'max_length is set but no tokenizer' });
    if (t.tokenizer === undefined && t.goal_embedding === undefined) ctx.addIssue({ code: 'custom', message: 'give a tokenizer (with max_length) or a goal_embedding' });
    if (t.baseline_embedding !== undefined && t.goal_embedding === undefined) ctx.addIssue({ code: 'custom', path: ['baseline_embedding'], message: 'a baseline embedding needs a goal_embedding' });
  }).nullable().default(null),
  frames: z.strictObject({
    window: z.int().min(1).default(1).describe('frames per image input'),
    start_anchor: z.boolean().default(false).describe('the model also takes the episode\'s first frame (a start_image input)'),
  }).default({ window: 1, start_anchor: false }),
  training: z.record(z.string(), z.unknown()).optional(),
});
export type PrmMetadata = z.infer<typeof PrmMetadataSchema>;
export type PrmKind = PrmMetadata['kind'];

type OutputRole = PrmMetadata['outputs'][number]['role'];

const IMAGE_INPUTS: Record<PrmKind, number> = { progress: 1, pairwise: 2, embedding: 1, success: 1 };
const MAIN_OUTPUT: Record<PrmKind, OutputRole> = { progress: 'progress', pairwise: 'delta', embedding: 'embedding', success: 'success' };
const EXTRA_OUTPUTS: Record<PrmKind, readonly OutputRole[]> = {
  progress: ['confidence', 'done'],
  pairwise: ['confidence', 'done'],
  embedding: [],
  success: ['confidence'],
};

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Every way the declared tensors fail to fit the model's kind and preprocessing, one line each, naming the tensor. */
export function prmTensorProblems(meta: PrmMetadata): string[] {
  const problems: string[] = [];
  const { kind, preprocessing: pre, frames, text } = meta;

  const seen = new Set<string>();
  for (const t of [...meta.inputs, ...meta.outputs]) {
    if (seen.has(t.name)) problems.push(`'${t.name}': tensor name used twice`);
    seen.add(t.name);
  }

  // Inputs.
  const images = meta.inputs.filter((t) => t.role === 'image');
  if (images.length !== IMAGE_INPUTS[kind]) {
    const declared = images.length === 0 ? 'none is declared' : `declared: ${images.map((t) => `'${t.name}'`).join(', ')}`;
    const want = kind === 'pairwise' ? 'two image inputs (frame a, then frame b)' : 'one image input';
    problems.push(`inputs: a ${kind} model takes ${want}; ${declared}`);
  }
  const anchors = meta.inputs.filter((t) => t.role === 'start_image');
  if (frames.start_anchor && anchors.length !== 1) problems.push(`inputs: frames.start_anchor is set, so one input needs role start_image; ${anchors.length} declared`);
  if (!frames.start_anchor) for (const t of anchors) problems.push(`input '${t.name}': role start_image, but frames.start_anchor is false`);
  const ids = meta.inputs.filter((t) => t.role === 'text_ids');
  const masks = meta.inputs.filter((t) => t.role === 'text_mask');
  if (ids.length > 1) problems.push(`inputs: ${ids.length} inputs with role text_ids (${ids.map((t) => `'${t.name}'`).join(', ')}); at most one`);
  if (masks.length > 1) problems.push(`inputs: ${masks.length} inputs with role text_mask; at most one`);
  if (kind === 'embedding' && ids.length > 0) problems.push(`input '${ids[0].name}': an embedding model encodes images only; give the goal as text.goal_embedding`);
  if (ids.length > 0 && text?.tokenizer === undefined) problems.push(`input '${ids[0].name}': takes token ids, but text.tokenizer is not set`);
  if (ids.length === 0 && text?.tokenizer !== undefined) problems.push('text.tokenizer: set, but no input has role text_ids');
  if (masks.length > 0 && ids.length === 0) problems.push(`input '${masks[0].name}': a text mask without a text_ids input`);

  for (const t of meta.inputs) {
    const where = `input '${t.name}'`;
    if (t.role === 'image' || t.role === 'start_image') {
      problems.push(...imageProblems(where, t.shape, t.dtype, t.role === 'image' ? frames.window : 1, pre));
    } else {
      if (t.dtype !== 'int64') problems.push(`${where}: ${t.role} must be int64, declared ${t.dtype}`);
      if (t.shape.length !== 2) problems.push(`${where}: ${t.role} shape ${fmt(t.shape)} should be [batch, max_length]`);
      else if (text?.max_length !== undefined && t.shape[1] !== -1 && t.shape[1] !== text.max_length) {
        problems.push(`${where}: ${t.shape[1]} tokens, text.max_length is ${text.max_length}`);
      }
    }
    if (t.shape[0] !== -1 && t.shape[0] !== 1) problems.push(`${where}: batch dimension ${t.shape[0]}; use -1 (dynamic) or 1`);
  }

  // Outputs.
  const main = MAIN_OUTPUT[kind];
  const mains = meta.outputs.filter((t) => t.role === main);
  if (mains.length !== 1) problems.push(`outputs: a ${kind} model gives one output with role ${main}; ${mains.length} declared`);
  for (const t of meta.outputs) {
    const where = `output '${t.name}'`;
    if (t.role !== main && !EXTRA_OUTPUTS[kind].includes(t.role)) {
      problems.push(`${where}: role ${t.role} does not belong to a ${kind} model (allowed: ${[main, ...EXTRA_OUTPUTS[kind]].join(', ')})`);
      continue;
    }
    if (t.dtype !== 'float32') problems.push(`${where}: must be float32, declared ${t.dtype}`);
    if (t.shape[0] !== -1 && t.shape[0] !== 1) problems.push(`${where}: batch dimension ${t.shape[0]}; use -1 (dynamic) or 1`);
    if (t.role === 'embedding') {
      if (t.shape.length !== 2) problems.push(`${where}: shape ${fmt(t.shape)} should be [batch, D]`);
      else if (t.shape[1] === -1) problems.push(`${where}: embedding width must be fixed, declared -1`);
    } else {
      const width = t.shape.length === 1 ? 1 : t.shape.length === 2 ? t.shape[1] : Number.NaN;
      if (width !== 1) {
        problems.push(Number.isNaN(width)
          ? `${where}: shape ${fmt(t.shape)}; a ${t.role} output is one value per batch item ([-1] or [-1, 1])`
          : `${where}: width ${width}; a ${t.role} output is one value per batch item ([-1] or [-1, 1])`);
      }
    }
  }

  // Preprocessing that a uint8 tensor cannot carry.
  if (pre.dtype === 'uint8') {
    if (pre.scale !== 1) problems.push(`preprocessing.scale: ${pre.scale}, but a uint8 input carries raw pixels (scale inside the model)`);
    if (pre.mean.some((m) => m !== 0)) problems.push('preprocessing.mean: a uint8 input carries raw pixels (normalize inside the model)');
    if (pre.std.some((s) => s !== 1)) problems.push('preprocessing.std: a uint8 input carries raw pixels (normalize inside the model)');
  }
  return problems;
}

/** Image input: [batch, 3, H, W] (nchw) or [batch, H, W, 3] (nhwc); with a frame window, [batch, T, …]. */
function imageProblems(
  where: string, shape: readonly number[], dtype: string, window: number, pre: PrmMetadata['preprocessing'],
): string[] {
  const out: string[] = [];
  if (dtype !== pre.dtype) out.push(`${where}: dtype ${dtype}, preprocessing.dtype is ${pre.dtype}`);
  let frame: readonly number[];
  if (shape.length === 5) {
    if (shape[1] !== -1 && shape[1] !== window) out.push(`${where}: ${shape[1]} frames, frames.window is ${window}`);
    frame = shape.slice(2);
  } else if (shape.length === 4 && window === 1) {
    frame = shape.slice(1);
  } else {
    out.push(`${where}: shape ${fmt(shape)} is not an image (${pre.layout}${window > 1 ? `, ${window} frames: [batch, ${window}, …]` : ''})`);
    return out;
  }
  const [c, h, w] = pre.layout === 'nchw' ? [frame[0], frame[1], frame[2]] : [frame[2], frame[0], frame[1]];
  if (c !== -1 && c !== 3) out.push(`${where}: ${c} channels in ${pre.layout} layout, expected 3`);
  if (h !== -1 && h !== pre.resize.height) out.push(`${where}: height ${h}, preprocessing.resize.height is ${pre.resize.height}`);
  if (w !== -1 && w !== pre.resize.width) out.push(`${where}: width ${w}, preprocessing.resize.width is ${pre.resize.width}`);
  return out;
}

/** Refuses a model whose declared tensors do not fit its kind (StriatumError listing every problem). */
export function checkTensorsForKind(meta: PrmMetadata, source = meta.name): void {
  const problems = prmTensorProblems(meta);
  if (problems.length > 0) {
    throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `PRM metadata ${source}: tensors do not fit a ${meta.kind} model`, problems);
  }
}

/** Validate raw JSON as PRM metadata and check its tensors against its kind. */
export function parsePrmMetadata(raw: unknown, source: string): PrmMetadata {
  const parsed = PrmMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StriatumError('STRIATUM_ERR_PRM_METADATA', `PRM metadata ${source} is invalid`, formatIssues(parsed.error.issues));
  }
  checkTensorsForKind(parsed.data, source);
  return parsed.data;
}
