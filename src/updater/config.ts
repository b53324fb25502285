// Configuration of `striatum updater` (zod): a small YAML file, flags on top.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { formatIssues, parseYamlText } from '../util/validation.js';
import { unwritableDir } from '../util/fs-checks.js';
import { DEFAULT_MAX_CHUNK_BYTES } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import { DEFAULT_HORIZON_S } from '../reward/shaping.js';
import { isPostgresUrl, redactUrl } from './episode-store.js';

const Name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, - or _');

export const UpdaterConfigSchema = z.strictObject({
  id: Name.optional().describe('this instance, in logs and its status topic (default: updater-<host>-<pid>)'),
  broker: z.strictObject({
    url: z.string().min(1).default('mqtt://127.0.0.1:1883').describe('the broker the robots publish rollouts to (mqtt://, mqtts://, ws://, wss://)'),
    username: z.string().min(1).default('updater').describe('an account with the updater role (embedded broker: an entry of the robot config\'s mqtt.users)'),
    password: z.string().optional().describe('the account\'s password; prefer password_env outside demos'),
    password_env: z.string().optional().describe('read the password from this environment variable'),
    keepalive_s: z.int().min(5).max(3600).default(30).describe('MQTT keepalive'),
    reconnect_min_ms: z.int().min(10).default(1000).describe('first delay before reconnecting; doubles per attempt'),
    reconnect_max_ms: z.int().min(10).default(30_000).describe('longest delay between reconnect attempts'),
  }).prefault({}),
  store: z.strictObject({
    path: z.string().min(1).optional().describe('SQLite file (relative to the config file): the embedded default, one updater'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional()
      .describe('PostgreSQL instead of SQLite (postgres://user@host:port/db): one store for several updaters; a password is best left to PGPASSWORD'),
    max_mb: z.number().positive().optional()
      .describe('SQLite only: the file stops growing at about this size; ingest then pauses with a store_full alarm, as on a full disk'),
  }).superRefine((s, ctx) => {
    if ((s.path === undefined) === (s.url === undefined)) ctx.addIssue({ code: 'custom', path: ['path'], message: 'give store.path (SQLite) or store.url (PostgreSQL), exactly one' });
    if (s.max_mb !== undefined && s.url !== undefined) ctx.addIssue({ code: 'custom', path: ['max_mb'], message: 'store.max_mb applies to SQLite only (size PostgreSQL on its server)' });
  }),
  share_group: Name.default('striatum-updaters').describe('MQTT 5 shared-subscription group: updaters in one group split the robots\' chunks'),
  robots: z.array(Name).min(1).nullable().default(null).describe('only these robots (shard a fleet by robot across stores); null: all'),
  max_chunk_bytes: z.int().min(1024).default(DEFAULT_MAX_CHUNK_BYTES).describe('larger chunks are rejected before decoding'),
  status_interval_s: z.number().positive().default(5).describe('retained status on striatum/v1/updater/status at least this often'),
  training: z.strictObject({
    enabled: z.boolean().default(false).describe('run training rounds; false keeps the section but runs none'),
    episodes_per_round: z.int().min(1).default(20).describe('start a round after this many newly completed episodes'),
    window_episodes: z.int().min(1).default(200).describe('train on at most this many of the most recent complete episodes'),
    min_steps: z.int().min(1).default(1000).describe('skip a round whose snapshot holds fewer steps'),
    task: z.string().min(1).nullable().default(null).describe('only episodes of this task; null: the base policy\'s task'),
    python: z.string().min(1).default('/usr/bin/python3').describe('Python with PyTorch, ONNX and NumPy that runs the trainer'),
    reward_source: z.enum(['learned', 'simulator']).default('learned')
      .describe('learned: the robots\' recorded PRM rewards; simulator: an oracle for benchmarks only, Φ = the simulator\'s own progress and success (never on a real robot)'),
    algorithm: z.enum(['awr', 'sac_rlpd', 'filtered_bc']).default('awr')
      .describe('awr: advantage-weighted regression from base_policy_dir each round (trainer/awr.py); sac_rlpd: soft actor-critic with demonstrations and robot data 50/50, continuing from the latest released policy with its critics and optimisers kept in <out_dir>/learner (trainer/sac_rlpd.py); filtered_bc: behaviour cloning on demonstrations and the robot episodes the success model ended in success, 50/50, continuing from the latest released policy with its optimiser kept in <out_dir>/learner (trainer/filtered_bc.py)'),
    trainer: z.string().min(1).nullable().default(null).describe('trainer script; null: the algorithm\'s script in trainer/ of this package'),
    base_policy_dir: z.string().min(1).describe('the current policy (policy.onnx + policy.json): the actor starts from it'),
    out_dir: z.string().min(1).describe('each round writes <out_dir>/round-<n>-<stamp>/{snapshot,model}'),
    shaping: z.strictObject({
      gamma: z.number().gt(0).max(1).nullable().default(null).describe('discount per control step; null: derived from horizon_s'),
      horizon_s: z.number().positive().nullable().default(DEFAULT_HORIZON_S).describe('γ = exp(−period_s/horizon_s) when gamma is null'),
      period_s: z.number().positive().default(0.02).describe('the robots\' control period'),
      success_margin: z.number().min(0).lt(1).default(0.05).describe('δ: progress ≥ 1 − δ earns r_gold'),
      task_success_reward: z.number().default(1).describe('R = r_gold: the reward on a true-terminal (success) step, as the robot\'s reward.shaping.task_success_reward'),
    }).prefault({}),
    beta: z.number().positive().default(1).describe('AWR temperature: weights w = exp(A/β), A in units of its standard deviation over the snapshot'),
    w_max: z.number().min(1).default(20).describe('largest AWR weight of one step'),
    epochs: z.int().min(1).default(20).describe('passes over the snapshot per round'),
    batch_size: z.int().min(1).default(256).describe('steps per gradient step'),
    threads: z.int().min(1).default(2).describe('PyTorch threads of the trainer process'),
    timeout_s: z.number().positive().default(3600).describe('a round running longer is killed and counted as failed'),
    sac: z.strictObject({
      utd: z.number().positive().default(0.5).describe('gradient steps per new stored step'),
      min_updates: z.int().min(0).default(200).describe('fewest gradient steps in a round'),
      max_updates: z.int().min(1).default(4000).describe('most gradient steps in a round'),
      demo_version: z.string().min(1).default('scripted').describe('episodes whose only policy version is this are demonstrations'),
      demo_fraction: z.number().min(0).max(1).default(0.5).describe('share of each batch drawn from demonstrations'),
      critics: z.int().min(2).default(4).describe('Q-networks in the critic ensemble'),
      hidden: z.int().min(8).default(256).describe('units in each critic hidden layer'),
      bc_weight: z.number().min(0).default(0).describe('weight of a behaviour-cloning term on demonstrations (the Q term is then scaled by 1/mean|Q|, TD3+BC)'),
      actor_warmup: z.int().min(0).default(500).describe('the learner\'s first gradient steps train only the critics'),
      init_log_std: z.number().min(-5).max(1).default(-1).describe('log-std (normalized action units) of the first Gaussian policy'),
      seed: z.int().min(0).default(1).describe('seed of the learner'),
    }).prefault({}).describe('settings of algorithm sac_rlpd'),
    filtered_bc: z.strictObject({
      updates: z.int().min(1).default(6000).describe('gradient steps per round'),
      lr: z.number().positive().default(1e-3).describe('learning rate at the start of each round (cosine down to a tenth)'),
      demo_version: z.string().min(1).default('scripted').describe('episodes whose only policy version is this are demonstrations'),
      demo_fraction: z.number().min(0).max(1).default(0.5).describe('share of each batch drawn from demonstrations, the rest from robot episodes that ended in success'),
      symmetry: z.enum(['none', 'square-d4']).default('none').describe('augment the imitated episodes with the task\'s symmetries: square-d4, the 8 rotations and reflections of a square table seen from above (the push task)'),
      symmetry_center_m: z.number().default(0.4).describe('centre of the square table (m) for square-d4'),
      progress_horizon: z.int().min(0).default(0).describe('steps: also imitate robot steps of any episode after which the progress model saw at least progress_min more progress within this many steps; 0: successful episodes only'),
      progress_min: z.number().min(0).max(1).default(0.05).describe('progress (0–1) a step must be followed by within progress_horizon steps'),
      min_kept: z.int().min(0).default(1).describe('skip the round (the robots keep their policy) when fewer robot episodes than this ended in success and no progress step is kept; 0 always trains, on the demonstrations alone if nothing else is kept'),
      tail_steps: z.int().min(0).default(0).describe('imitate only the last this many steps of each robot episode the success model ended in success (the push that succeeded, without the stalls and detours before it); 0: the whole episode'),
      top_fraction: z.number().gt(0).max(1).default(1).describe('imitate only this share of the robot episodes the success model ended in success: those with the highest PRM-only discounted return (the quickest pushes to the verdict); 1: all of them'),
      velocity_noise: z.number().min(0).lt(1).default(0).describe('m/s: add N(0, σ²) to the measured joint velocities of every training batch, so the policy acts on where the pusher and the block are instead of repeating its last command (the copycat problem of behaviour cloning); 0: off'),
      ensemble: z.int().min(1).max(16).default(1).describe('MLPs trained side by side on the same kept episodes, each on its own batches, released as one graph that outputs their mean (each costs a round\'s updates); 1: one MLP'),
      seed: z.int().min(0).default(1).describe('seed of the learner'),
    }).prefault({}).describe('settings of algorithm filtered_bc'),
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
    let text: string;
    try {
      text = readFileSync(flags.config, 'utf8');
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `updater config ${flags.config} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const parsed = parseYamlText(text, flags.config) ?? {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `updater config ${flags.config} must contain a mapping at the top level`, ['(top level): expected keys broker, store, training, ...']);
    }
    raw = parsed as Record<string, any>;
    base = dirname(resolve(flags.config));
  }
  raw.broker = { ...(raw.broker ?? {}) };
  if (flags.broker !== undefined) raw.broker.url = flags.broker;
  if (flags.username !== undefined) raw.broker.username = flags.username;
  if (flags.passwordEnv !== undefined) raw.broker.password_env = flags.passwordEnv;
  if (flags.store !== undefined) raw.store = isPostgresUrl(flags.store) ? { url: flags.store } : { path: resolve(flags.store) };
  if (flags.shareGroup !== undefined) raw.share_group = flags.shareGroup;
  if (flags.robots !== undefined) raw.robots = flags.robots.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (flags.id !== undefined) raw.id = flags.id;
  const parsed = UpdaterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', 'invalid updater configuration', formatIssues(parsed.error.issues));
  }
  const cfg = parsed.data;
  if (cfg.store.path !== undefined && cfg.store.path !== ':memory:') cfg.store.path = resolve(base, cfg.store.path);
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

/** The store a config names: the SQLite path or the PostgreSQL URL. */
export function storeLocation(cfg: UpdaterConfig): string {
  return cfg.store.url ?? (cfg.store.path as string);
}

/** The store for logs: the path, or the URL without its password. */
export function storeForLog(cfg: UpdaterConfig): string {
  return cfg.store.url !== undefined ? redactUrl(cfg.store.url) : (cfg.store.path as string);
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

function missing(path: string, executable = false): string | null {
  try {
    if (!statSync(path).isFile()) return `${path} is not a file`;
    if (executable) accessSync(path, constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `${path} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not executable' : `cannot be read (${code})`}`;
  }
}

/**
 * What `striatum updater run` needs beyond the schema, on a loaded config (paths resolved): the store can be
 * created, the training round's policy, trainer and Python exist, the release key exists. One line per problem.
 */
export function updaterConfigProblems(cfg: UpdaterConfig): string[] {
  const problems: string[] = [];
  if (cfg.store.path !== undefined && cfg.store.path !== ':memory:') {
    const why = unwritableDir(dirname(cfg.store.path));
    if (why !== null) problems.push(`store.path: ${why}`);
  }
  const t = cfg.training;
  if (t !== null && t.enabled) {
    for (const name of ['policy.onnx', 'policy.json']) {
      const why = missing(join(t.base_policy_dir, name));
      if (why !== null) problems.push(`training.base_policy_dir: ${why}`);
    }
    const why = unwritableDir(t.out_dir);
    if (why !== null) problems.push(`training.out_dir: ${why}`);
    const python = t.python.includes('/') ? missing(t.python, true) : null; // a bare name is looked up on PATH
    if (python !== null) problems.push(`training.python: ${python}`);
    if (t.trainer !== null) {
      const trainer = missing(t.trainer);
      if (trainer !== null) problems.push(`training.trainer: ${trainer}`);
    }
  }
  if (cfg.release !== null) {
    const why = missing(cfg.release.key);
    if (why !== null) problems.push(`release.key: ${why}`);
  }
  return problems;
}

/** `striatum updater check FILE`: the schema, then updaterConfigProblems; throws STRIATUM_ERR_CONFIG. */
export function checkUpdaterConfigFile(file: string): UpdaterConfig {
  const cfg = loadUpdaterConfig({ config: file });
  const problems = updaterConfigProblems(cfg);
  if (problems.length > 0) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'} striatum updater run would refuse`, problems);
  }
  return cfg;
}
