// The `reward` section of a robot config, declared once with zod: which process-reward models run (one worker
// thread each), how their answers become a shaped reward, the optional RND term and the hacking alarm.
// Paths are relative to the config file. The lead adds RewardConfigSchema to the robot config schema.
import { z } from 'zod';

const positive = z.number().positive();
const fraction = z.number().min(0).max(1);

export const PrmProviderSchema = z.enum(['tensorrt', 'cuda', 'cpu']);

export const TextEncoderSchema = z.strictObject({
  model: z.string().min(1).describe('ONNX text encoder (token ids → [batch, D] embedding), relative to the config file'),
  tokenizer: z.string().min(1).describe('tokenizer.json of the text encoder, relative to the config file'),
  max_length: z.int().min(1).max(4096).describe('token ids are padded or cut to this length'),
  ids_input: z.string().min(1).default('input_ids').describe('name of the int64 [batch, max_length] ids input'),
  mask_input: z.string().min(1).nullable().default(null).describe('name of the int64 attention-mask input, if the encoder has one'),
  output: z.string().min(1).nullable().default(null).describe('name of the embedding output; default: the first output'),
});

export const PrmModelConfigSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'must be an identifier').describe('used in logs and telemetry'),
  kind: z.enum(['progress', 'pairwise', 'embedding', 'success']).describe('must equal the kind in the model metadata'),
  model: z.string().min(1).describe('path to the ONNX file, relative to the config file'),
  metadata: z.string().min(1).optional().describe('striatum.prm/v1 metadata JSON; default: the model path with .json'),
  cameras: z.array(z.string().min(1)).min(1).max(8).describe('camera views judged on each update (batched into one run when the model\'s batch is dynamic)'),
  rate_hz: positive.max(100).default(2).describe('updates per second the worker aims for; each takes the newest frame of every view'),
  timeout_ms: z.int().min(1).default(2000).describe('an update without an answer after this long is marked "no reward" (its late answer is dropped)'),
  hang_ms: z.int().min(1).nullable().default(null).describe('a worker busy on one update this long is restarted; default max(5·timeout_ms, 5000)'),
  providers: z.array(PrmProviderSchema).min(1).default(['cpu']).describe('execution providers, tried in order; the one that loads is logged'),
  threads: z.int().min(1).max(64).default(1).describe('intra-op threads of this model\'s session (its own worker thread)'),
  warmup_runs: z.int().min(0).max(100).default(2),
  fusion: z.enum(['mean', 'min', 'confidence']).default('mean').describe('how the views\' answers become one (confidence: weighted by the model\'s confidence output)'),
  goal_text: z.string().min(1).nullable().default(null).describe('task text for text inputs and text goals; null: the episode\'s instruction'),
  // pairwise
  perspectives: z.enum(['incremental', 'three_way']).default('incremental')
    .describe('pairwise: incremental integrates H(prev, cur); three_way is Robo-Dopamine\'s fusion of hop, forward H(start, cur) and backward 1 + H(goal, cur) (three pairs per view per update)'),
  goal_images: z.record(z.string(), z.string().min(1)).nullable().default(null)
    .describe('per camera, an image of the goal state (PNG/JPEG, or .npy [H, W, 3] with values 0–255) at the camera\'s size; pairwise three_way and embedding goal-image (VIP) models'),
  // embedding
  text_encoder: TextEncoderSchema.nullable().default(null).describe('embedding models with a text goal: the CLIP/SigLIP text tower; else metadata text.goal_embedding is used'),
  baseline_text: z.string().min(1).nullable().default(null).describe('VLM-RM baseline prompt, e.g. "a robot arm" (needs alpha > 0 to matter)'),
  alpha: fraction.default(0).describe('VLM-RM goal-baseline projection strength; 0 is plain cosine similarity'),
  reward_range: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo < hi, 'low must be below high').default([0, 1])
    .describe('embedding text goal: the VLM-RM reward r maps to progress clip((r − low)/(high − low), 0, 1); calibrate it on an episode'),
  // success
  success_threshold: fraction.default(0.5).describe('success models: P(success) at or above this counts as success'),
  reversed_eval_frames: z.int().min(0).max(4096).default(64)
    .describe('updates whose frames the worker keeps per episode for a reversed pass (VROC of models with memory); 0 keeps none'),
  restart_backoff_ms: z.int().min(1).default(500).describe('first delay before restarting a crashed worker; doubles per failure'),
  restart_backoff_max_ms: z.int().min(1).default(30000),
});
export type PrmModelConfig = z.infer<typeof PrmModelConfigSchema>;

export const ShapingConfigSchema = z.strictObject({
  gamma: z.number().gt(0).max(1).nullable().default(null).describe('discount per control step; set this or horizon_s'),
  horizon_s: positive.nullable().default(null).describe('γ = exp(−dt/τ); default 10 s when neither is set'),
  delta: z.number().min(0).lt(1).default(0.05).describe('progress ≥ 1 − δ earns the success bonus r_gold and counts toward done'),
  done_updates: z.int().min(1).default(3).describe('consecutive PRM answers at ≥ 1 − δ (or success-model answers at ≥ its threshold) before done'),
  hysteresis: z.number().min(0).default(0.05).describe('done clears when an answer falls below 1 − δ − hysteresis (threshold − hysteresis for success models)'),
  normalize: z.strictObject({
    clip: positive.default(10),
    center: z.boolean().default(false).describe('subtracting a running mean changes the optimal policy in episodic tasks'),
  }).nullable().default(null).describe('running normalization of the total reward; null for none'),
  done_source: z.enum(['progress', 'success', 'either']).nullable().default(null)
    .describe('what sets done: the progress model, the success model, or either; default success when a success model runs, else progress'),
  task_success_reward: z.number().default(1).describe('R = r_gold: the reward on the step that ends the episode in success (the success verdict: the success model in learning mode); see docs/rewards.md'),
});

export const RndConfigSchema = z.strictObject({
  model: z.string().min(1).describe('ONNX with one input (normalized observation [1, D]) and outputs target [1, K] and prediction [1, K]'),
  target_output: z.string().min(1).default('target'),
  prediction_output: z.string().min(1).default('prediction'),
  coefficient: z.number().min(0).default(0.01).describe('weight of the normalized intrinsic reward in the total'),
  warmup_steps: z.int().min(0).default(1000).describe('steps that only seed the observation statistics (intrinsic reward 0)'),
  gamma: z.number().gt(0).max(1).default(0.99).describe('discount of the intrinsic return whose std scales r_int'),
  clip: positive.default(5).describe('normalized observations are clipped to ±clip'),
});

export const HackingAlarmConfigSchema = z.strictObject({
  disagreements: z.int().min(1).default(5).describe('N: PRM success claims contradicted by the success signal within the window that raise the alarm'),
  window: z.int().min(1).default(20).describe('W, in PRM updates'),
  success_threshold: fraction.default(0.5).describe('the success signal (success model or environment) says success at ≥ this'),
}).refine((a) => a.disagreements <= a.window, { message: 'disagreements must not exceed window', path: ['disagreements'] });

export const RewardConfigSchema = z.strictObject({
  models: z.array(PrmModelConfigSchema).max(8).default([]),
  shaping: ShapingConfigSchema.default(ShapingConfigSchema.parse({})),
  rnd: RndConfigSchema.nullable().default(null),
  hacking_alarm: HackingAlarmConfigSchema.default(HackingAlarmConfigSchema.parse({})),
}).superRefine((cfg, ctx) => {
  const names = new Set<string>();
  let potentials = 0;
  let successes = 0;
  cfg.models.forEach((m, i) => {
    if (names.has(m.name)) ctx.addIssue({ code: 'custom', path: ['models', i, 'name'], message: `model name '${m.name}' is used twice` });
    names.add(m.name);
    if (m.kind === 'success') successes++;
    else potentials++;
    if (new Set(m.cameras).size !== m.cameras.length) ctx.addIssue({ code: 'custom', path: ['models', i, 'cameras'], message: 'a camera is listed twice' });
    if (m.kind === 'pairwise' && m.perspectives === 'three_way') {
      for (const c of m.cameras) {
        if (m.goal_images?.[c] === undefined) ctx.addIssue({ code: 'custom', path: ['models', i, 'goal_images'], message: `three_way needs a goal image for camera '${c}'` });
      }
    }
    if (m.kind === 'embedding' && m.goal_images !== null) {
      for (const c of m.cameras) {
        if (m.goal_images[c] === undefined) ctx.addIssue({ code: 'custom', path: ['models', i, 'goal_images'], message: `goal-image (VIP) embedding needs a goal image for camera '${c}'` });
      }
    }
    if (m.alpha > 0 && m.kind === 'embedding' && m.baseline_text === null && m.text_encoder !== null) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'baseline_text'], message: 'alpha > 0 needs a baseline_text (the goal-baseline projection)' });
    }
    if (m.restart_backoff_max_ms < m.restart_backoff_ms) ctx.addIssue({ code: 'custom', path: ['models', i, 'restart_backoff_max_ms'], message: 'must be at least restart_backoff_ms' });
  });
  if (potentials > 1) ctx.addIssue({ code: 'custom', path: ['models'], message: `at most one progress, pairwise or embedding model gives the potential; ${potentials} configured` });
  if (successes > 1) ctx.addIssue({ code: 'custom', path: ['models'], message: `at most one success model; ${successes} configured` });
  if (cfg.shaping.gamma !== null && cfg.shaping.horizon_s !== null) ctx.addIssue({ code: 'custom', path: ['shaping'], message: 'set gamma or horizon_s, not both' });
  if (cfg.shaping.done_source !== null && cfg.shaping.done_source !== 'progress' && successes === 0) {
    ctx.addIssue({ code: 'custom', path: ['shaping', 'done_source'], message: `${cfg.shaping.done_source} needs a success model` });
  }
});
export type RewardConfig = z.infer<typeof RewardConfigSchema>;
export type RewardConfigInput = z.input<typeof RewardConfigSchema>;

/** The model that gives the potential Φ (progress, pairwise or embedding), or null. */
export function potentialModel(cfg: RewardConfig): PrmModelConfig | null {
  return cfg.models.find((m) => m.kind !== 'success') ?? null;
}

export function successModel(cfg: RewardConfig): PrmModelConfig | null {
  return cfg.models.find((m) => m.kind === 'success') ?? null;
}
