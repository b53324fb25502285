// `striatum learn` configuration (examples/learn.yaml), declared once with zod. Paths are relative to the file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { StriatumError } from '../errors.js';
import { StallSchema } from '../config/schema.js';
import { UpdaterConfigSchema } from '../updater/config.js';
import { formatIssues } from '../util/validation.js';
import { SEEDS, seedRanges } from './seeds.js';

const TrainingSchema = UpdaterConfigSchema.shape.training.unwrap().unwrap().omit({ enabled: true, base_policy_dir: true, out_dir: true });

export const LearnConfigSchema = z.strictObject({
  robot_template: z.string().min(1).describe('robot config of one simulated robot (transport sim, reward models); the run sets its id, broker, policy, spool, seeds and exploration'),
  base_policy_dir: z.string().min(1).describe('the policy the robots start from (policy.onnx + policy.json)'),
  out_dir: z.string().min(1).describe('the run writes its store, rounds, keys, logs, learning-curve.json and learning-curve.svg here; must be new or empty'),
  robots: z.int().min(1).max(16).default(2).describe('simulated robots collecting in parallel (one process each, own robot id)'),
  run: z.int().min(0).max(99).default(0).describe('run number: picks the training seeds (seeds.ts), so runs are independent'),
  episode_budget: z.int().min(1).default(100).describe('training episodes of all robots together; evaluation episodes do not count'),
  target_success: z.number().min(0).max(1).default(0.9).describe('stop when a released policy reaches this held-out success rate'),
  time_limit_min: z.number().positive().default(30).describe('stop after this much wall time'),
  demonstrations: z.strictObject({
    episodes: z.int().min(0).default(10).describe('scripted-expert episodes recorded through the reward models before the robots start (the learner\'s demonstration buffer); 0: none'),
    first_seed: z.int().min(0).default(SEEDS.demonstrations.first).describe('seed of the first demonstration; the base policy\'s card names the demonstration it was cloned from'),
  }).prefault({}),
  evaluation: z.strictObject({
    episodes: z.int().min(1).default(200).describe('held-out episodes per released policy (mean action, no rollouts: not experience)'),
    first_seed: z.int().min(0).default(SEEDS.evaluation.first),
  }).prefault({}),
  exploration: z.strictObject({
    enabled: z.boolean().default(true),
    log_std: z.number().min(-10).max(1).nullable().default(null).describe('scheduled log-std instead of the model\'s'),
    std_scale: z.number().positive().default(1),
    correlation_s: z.number().min(0).default(0).describe('time constant of the exploration noise (s); 0: white'),
    stall: StallSchema.nullable().default(null).describe('bursts of wider noise while a robot stands still (robot config exploration.stall)'),
    evaluation_every: z.int().min(0).default(0),
  }).prefault({}),
  training: TrainingSchema.prefault({}).describe('the updater\'s training settings (see docs/updater-config-reference.md); algorithm filtered_bc by default here'),
}).superRefine((c, ctx) => {
  // A held-out success rate is only held out when no demonstration or training episode ran an evaluation seed.
  const seeds = seedRanges(c.run, c.robots, c.demonstrations.episodes, c.demonstrations.first_seed, c.evaluation.episodes, c.evaluation.first_seed);
  const [first, last] = seeds.evaluation;
  const overlaps = ([a, b]: [number, number]) => a <= last && first <= b;
  const span = ([a, b]: [number, number]) => `${a}–${b}`;
  if (c.demonstrations.episodes > 0 && overlaps(seeds.demonstrations)) {
    ctx.addIssue({ code: 'custom', path: ['demonstrations', 'first_seed'], message: `demonstration seeds ${span(seeds.demonstrations)} overlap the evaluation seeds ${span(seeds.evaluation)}` });
  }
  if (overlaps(seeds.training)) {
    ctx.addIssue({ code: 'custom', path: ['evaluation', 'first_seed'], message: `evaluation seeds ${span(seeds.evaluation)} overlap run ${c.run}'s training seeds ${span(seeds.training)}` });
  }
});
export type LearnConfig = z.infer<typeof LearnConfigSchema>;

export interface LoadedLearnConfig {
  readonly config: LearnConfig;
  readonly path: string;
  readonly resolvePath: (p: string) => string;
}

export function loadLearnConfig(file: string): LoadedLearnConfig {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `cannot read learn config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const withDefaults = { ...(raw as Record<string, unknown>) };
  const training = (withDefaults.training ?? {}) as Record<string, unknown>;
  withDefaults.training = { algorithm: 'filtered_bc', ...training };
  const parsed = LearnConfigSchema.safeParse(withDefaults);
  if (!parsed.success) throw new StriatumError('STRIATUM_ERR_CONFIG', `invalid learn config ${file}`, formatIssues(parsed.error.issues));
  const base = dirname(path);
  return { config: parsed.data, path, resolvePath: (p: string) => resolve(base, p) };
}
