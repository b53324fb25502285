// Configuration of `striatum updater` (zod): a small YAML file, flags on top.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { DEFAULT_MAX_CHUNK_BYTES } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';

const Name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, - or _');

export const UpdaterConfigSchema = z.strictObject({
  id: Name.optional().describe('this instance, in logs and its status topic (default: updater-<host>-<pid>)'),
  broker: z.strictObject({
    url: z.string().min(1).default('mqtt://127.0.0.1:1883'),
    username: z.string().min(1).default('updater'),
    password: z.string().optional(),
    password_env: z.string().optional().describe('read the password from this environment variable'),
    keepalive_s: z.int().min(5).max(3600).default(30),
    reconnect_min_ms: z.int().min(10).default(1000),
    reconnect_max_ms: z.int().min(10).default(30_000),
  }).prefault({}),
  store: z.strictObject({
    path: z.string().min(1).describe('SQLite file (relative to the config file)'),
  }),
  share_group: Name.default('striatum-updaters').describe('MQTT 5 shared-subscription group: updaters in one group split the robots\' chunks'),
  robots: z.array(Name).min(1).nullable().default(null).describe('only these robots (shard a fleet by robot across stores); null: all'),
  max_chunk_bytes: z.int().min(1024).default(DEFAULT_MAX_CHUNK_BYTES).describe('larger chunks are rejected before decoding'),
  status_interval_s: z.number().positive().default(5).describe('retained status on striatum/v1/updater/status at least this often'),
  training: z.strictObject({
    enabled: z.boolean().default(false),
    episodes_per_round: z.int().min(1).default(20).describe('start a round after this many newly completed episodes'),
    window_episodes: z.int().min(1).default(200).describe('train on at most this many of the most recent complete episodes'),
    min_steps: z.int().min(1).default(1000).describe('skip a round whose snapshot holds fewer steps'),
    task: z.string().min(1).nullable().default(null).describe('only episodes of this task; null: the base policy\'s task'),
    python: z.string().min(1).default('/usr/bin/python3'),
    trainer: z.string().min(1).nullable().default(null).describe('trainer script; null: trainer/awr.py of this package'),
    base_policy_dir: z.string().min(1).describe('the current policy (policy.onnx + policy.json): the actor starts from it'),
    out_dir: z.string().min(1).describe('each round writes <out_dir>/round-<n>-<stamp>/{snapshot,model}'),
    shaping: z.strictObject({
      gamma: z.number().gt(0).max(1).nullable().default(null),
      horizon_s: z.number().positive().nullable().default(2).describe('γ = exp(−period_s/horizon_s) when gamma is null'),
      period_s: z.number().positive().default(0.02).describe('the robots\' control period'),
      success_margin: z.number().min(0).lt(1).default(0.05).describe('δ: progress ≥ 1 − δ earns r_gold'),
      task_success_reward: z.number().default(1).describe('r_task of a true-terminal step recorded without a reward record (robots without a reward composer)'),
    }).prefault({}),
    beta: z.number().positive().default(1),
    w_max: z.number().min(1).default(20),
    epochs: z.int().min(1).default(20),
    batch_size: z.int().min(1).default(256),
    threads: z.int().min(1).default(2),
    timeout_s: z.number().positive().default(3600).describe('a round running longer is killed and counted as failed'),
  }).nullable().default(null).describe('training rounds (trainer/awr.py) on stored episodes; null: off'),
  release: z.strictObject({
    key: z.string().min(1).describe('ed25519 private key (PEM, from `striatum keys generate`) that signs each new policy'),
    action_abs_max: z.number().positive().nullable().default(null).describe('refuse a model whose |action| on held-out observations exceeds this'),
  }).nullable().default(null).describe('sign, validate and publish each model a training round produces; null: keep it on disk only'),
});
export type UpdaterConfig = z.infer<typeof UpdaterConfigSchema>;

export interface UpdaterFlags {
  config?: string;
  broker?: string;
  username?: string;
  passwordEnv?: string;
  store?: string;
  shareGroup?: string;
  robots?: string;
  id?: string;
}

/** Read the YAML file (if any), apply flags, validate; paths are resolved against the config file. */
export function loadUpdaterConfig(flags: UpdaterFlags): UpdaterConfig {
  let raw: Record<string, any> = {};
  let base = process.cwd();
  if (flags.config !== undefined) {
    try {
      raw = (parse(readFileSync(flags.config, 'utf8')) ?? {}) as Record<string, any>;
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `updater config ${flags.config} cannot be read: ${(err as Error).message}`);
    }
    base = dirname(resolve(flags.config));
  }
  raw.broker = { ...(raw.broker ?? {}) };
  if (flags.broker !== undefined) raw.broker.url = flags.broker;
  if (flags.username !== undefined) raw.broker.username = flags.username;
  if (flags.passwordEnv !== undefined) raw.broker.password_env = flags.passwordEnv;
  if (flags.store !== undefined) { raw.store = { path: resolve(flags.store) }; }
  if (flags.shareGroup !== undefined) raw.share_group = flags.shareGroup;
  if (flags.robots !== undefined) raw.robots = flags.robots.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (flags.id !== undefined) raw.id = flags.id;
  const parsed = UpdaterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', 'invalid updater configuration', parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`));
  }
  const cfg = parsed.data;
  if (cfg.store.path !== ':memory:') cfg.store.path = resolve(base, cfg.store.path);
  if (cfg.release !== null) cfg.release.key = resolve(base, cfg.release.key);
  const t = cfg.training;
  if (t !== null) {
    t.base_policy_dir = resolve(base, t.base_policy_dir);
    t.out_dir = resolve(base, t.out_dir);
    if (t.trainer !== null) t.trainer = resolve(base, t.trainer);
    if (t.shaping.gamma !== null) t.shaping.horizon_s = null; // gamma given: it wins over the default horizon
  }
  return cfg;
}

/** The broker password: password_env wins over password; none at all is allowed (anonymous brokers). */
export function updaterPassword(cfg: UpdaterConfig): string | undefined {
  const env = cfg.broker.password_env;
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined) throw new StriatumError('STRIATUM_ERR_CONFIG', `broker.password_env: environment variable ${env} is not set`);
    return v;
  }
  return cfg.broker.password;
}
