// Training rounds: after N newly completed episodes, relabel the recent ones with the current shaping settings,
// write a training snapshot (.npy + manifest.json), run trainer/awr.py as a child process, follow its JSON-line
// progress (stderr progress bar on a TTY, retained status on striatum/v1/updater/training), validate its output
// and hand the model directory to onModelReady. A failed round is logged and counted; ingest never waits on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAG_DONE, FLAG_TRUNCATED, REWARD_COMPONENTS, type RewardComponent } from '../contracts/rollout.js';
import { formatIssues } from '../util/validation.js';
import { SNAPSHOT_FORMAT, SnapshotManifestSchema, type SnapshotEpisode, type SnapshotManifest } from '../contracts/snapshot-manifest.js';
import { topics } from '../contracts/topics.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { readPolicyMetadata, type PolicyMetadata } from '../policy/metadata.js';
import { encodeNpy } from '../util/npy.js';
import type { UpdaterConfig } from './config.js';
import { relabelRewards, relabelSettings, type RelabelSettings } from './relabel.js';
import type { EpisodeStore } from './episode-store.js';
import type { EpisodeRow } from './store.js';
import type { TrainingStatusMessage } from '../contracts/messages.js';

export type TrainingConfig = NonNullable<UpdaterConfig['training']>;

export const TRAINING_STATUS_TOPIC = topics.updaterTraining();
export { SNAPSHOT_FORMAT };
/** trainer/awr.py of this package (dist/src/updater/ → repository root). */
export const DEFAULT_TRAINER = fileURLToPath(new URL('../../../trainer/awr.py', import.meta.url));
/** The script of each algorithm (training.algorithm). */
export const ALGORITHM_TRAINERS: Record<TrainingConfig['algorithm'], string> = {
  awr: DEFAULT_TRAINER,
  sac_rlpd: fileURLToPath(new URL('../../../trainer/sac_rlpd.py', import.meta.url)),
  filtered_bc: fileURLToPath(new URL('../../../trainer/filtered_bc.py', import.meta.url)),
};
/** Where sac_rlpd and filtered_bc keep their learner state and the record of the latest released policy, under out_dir. */
export const LEARNER_DIR = 'learner';
const LATEST_RELEASE_FILE = 'latest-release.json';

/** What the rounds publish; the wire schema (with the publishing updater's id) is in contracts/messages.ts. */
export type TrainingStatus = Omit<TrainingStatusMessage, 'updater'>;

export interface SnapshotSummary {
  dir: string;
  episodes: number;
  steps: number;
  skippedEpisodes: number;
  unrecordedRewardSteps: number;
  gamma: number;
  /** Over the arrays the trainer reads (not the manifest's timestamp): the same episodes give the same digest. */
  sha256: string;
}

export type RoundResult =
  | { outcome: 'ok'; modelDir: string; snapshot: SnapshotSummary; seconds: number; done: Record<string, unknown> }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'failed'; error: string; code?: string };

// ---------------------------------------------------------------------------------------------------------------
// Snapshot

/** What a round's policy version starts with, per algorithm. */
const VERSION_PREFIX = { awr: 'awr', sac_rlpd: 'sac', filtered_bc: 'fbc' } as const;

/**
 * Write the snapshot awr.py reads: every step of the given episodes (those whose layout matches the base policy),
 * rows in episode then step order; actions are the commands the robot wrote; rewards relabeled. Episodes are
 * grouped by robot (each robot's in the order given, which is the order they arrived): how the robots' episodes
 * happened to interleave on the way to the store does not change the snapshot, so a rerun with the same seeds
 * trains on the same rows in the same order.
 */
/** The episodes grouped by robot (robots by name), each robot's in the order given (a stable sort). */
function byRobot<T extends { readonly robot: string }>(episodes: readonly T[]): T[] {
  return [...episodes].sort((a, b) => (a.robot < b.robot ? -1 : a.robot > b.robot ? 1 : 0));
}

export async function writeTrainingSnapshot(
  store: EpisodeStore, episodes: readonly EpisodeRow[], dir: string, base: PolicyMetadata, settings: RelabelSettings,
  rewardSource: 'learned' | 'simulator' = 'learned',
): Promise<SnapshotSummary> {
  const fields = base.observation.fields.map((f) => ({ name: f.name, size: f.size }));
  const joints = base.action.joints;
  const obsDim = fields.reduce((s, f) => s + f.size, 0);
  const actDim = joints.length;
  const parts: { obs: Float32Array; cmd: Float32Array; rewards: Float32Array; progress: Float32Array; terminals: Int32Array; n: number }[] = [];
  const manifestEpisodes: SnapshotEpisode[] = [];
  let skipped = 0;
  let unrecorded = 0;
  for (const row of byRobot(episodes)) {
    const ex = await store.exportEpisode(row.robot, row.episode);
    const sameLayout = JSON.stringify(ex.layout.observation) === JSON.stringify(fields) && JSON.stringify(ex.layout.joints) === JSON.stringify(joints);
    if (!sameLayout || ex.steps === 0) { skipped++; continue; }
    const rewardRecord = rewardSource === 'simulator' ? simulatorRewards(ex.columns.progress, ex.columns.flags) : ex.columns.reward;
    const r = relabelRewards(rewardRecord, ex.columns.flags, settings);
    const n = ex.steps;
    for (const [what, values, width] of [['rewards', r.rewards, 1], ['observations', ex.columns.observation, obsDim], ['actions', ex.columns.command, actDim]] as const) {
      const at = firstNonFinite(values);
      if (at >= 0) throw new StriatumError('STRIATUM_ERR_SNAPSHOT', `episode ${ex.robot}/${ex.episode} has a non-finite value in its ${what} at step ${Math.floor(at / width)}`);
    }
    // Only the last row can end the episode: awr.py reads terminal/truncation there.
    const terminals = new Int32Array(n);
    terminals[n - 1] = r.terminals[n - 1];
    unrecorded += r.unrecordedSteps;
    manifestEpisodes.push({
      index: parts.length, robot: ex.robot, episode: ex.episode, steps: n, outcome: ex.outcome, success: ex.outcome === 'success',
      policy_versions: ex.policyVersions, unrecorded_reward_steps: r.unrecordedSteps, gold_steps: r.goldSteps,
    });
    parts.push({ obs: ex.columns.observation, cmd: ex.columns.command, rewards: r.rewards, progress: heldProgress(rewardRecord.next_potential), terminals, n });
  }
  if (parts.length === 0) {
    throw new StriatumError('STRIATUM_ERR_SNAPSHOT', `no usable episodes: ${episodes.length} complete, ${skipped} with another layout than ${base.name} or no steps`);
  }
  const total = parts.reduce((s, p) => s + p.n, 0);
  const obs = new Float32Array(total * obsDim);
  const cmd = new Float32Array(total * actDim);
  const rewards = new Float32Array(total);
  const progress = new Float32Array(total);
  const terminals = new Int32Array(total);
  const truncations = new Int32Array(total);
  const index = new Int32Array(total);
  let o = 0;
  parts.forEach((p, e) => {
    obs.set(p.obs, o * obsDim);
    cmd.set(p.cmd, o * actDim);
    rewards.set(p.rewards, o);
    progress.set(p.progress, o);
    terminals.set(p.terminals, o);
    truncations[o + p.n - 1] = p.terminals[p.n - 1] === 1 ? 0 : 1; // time limit, failure or abort: bootstrap
    index.fill(e, o, o + p.n);
    o += p.n;
  });
  mkdirSync(dir, { recursive: true });
  const files: [string, Buffer][] = [
    ['observations.npy', encodeNpy(obs, [total, obsDim])],
    ['actions.npy', encodeNpy(cmd, [total, actDim])],
    ['rewards.npy', encodeNpy(rewards, [total])],
    ['progress.npy', encodeNpy(progress, [total])],
    ['terminals.npy', encodeNpy(terminals, [total])],
    ['truncations.npy', encodeNpy(truncations, [total])],
    ['episode_index.npy', encodeNpy(index, [total])],
  ];
  const digest = createHash('sha256');
  for (const [name, data] of files) { writeFileSync(join(dir, name), data); digest.update(name).update(data); }
  const manifest = snapshotManifest({
    format: SNAPSHOT_FORMAT, created: new Date().toISOString(), task: base.task, gamma: settings.gamma,
    success_margin: settings.successMargin, reward: 'r_task + r_gold + γΦ′ − Φ (Φ′ = 0 and r_gold = R at true terminals, r_gold = 0 elsewhere; intrinsic left out)',
    observation_fields: fields, action: { mode: base.action.mode, joints: [...joints] }, base_policy: { name: base.name, version: base.version },
    steps: total, skipped_episodes: skipped, episodes: manifestEpisodes,
  });
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`); // last: a complete snapshot has it
  return { dir, episodes: parts.length, steps: total, skippedEpisodes: skipped, unrecordedRewardSteps: unrecorded, gamma: settings.gamma, sha256: digest.digest('hex') };
}

/**
 * The oracle baseline's reward record (benchmarks only): Φ is the simulator's ground-truth progress, r_task its
 * success flag, through the same shaping formula as the learned rewards.
 */
function simulatorRewards(progress: Float32Array, flags: Uint8Array): Record<RewardComponent, Float32Array> {
  const n = progress.length;
  const out = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) out[k] = new Float32Array(n);
  for (let t = 0; t < n; t++) {
    const now = Number.isFinite(progress[t]) ? progress[t] : 0;
    out.potential[t] = t === 0 ? 0 : (Number.isFinite(progress[t - 1]) ? progress[t - 1] : 0);
    out.next_potential[t] = now;
    out.raw_progress[t] = now;
    out.task[t] = (flags[t] & FLAG_DONE) !== 0 && (flags[t] & FLAG_TRUNCATED) === 0 ? 1 : 0;
  }
  return out;
}

/**
 * Φ′ after each step (the progress model's potential, or the simulator's progress for the oracle), each step
 * without an answer holding the last one (0 before the first): the learner's view of progress within an episode.
 */
function heldProgress(nextPotential: Float32Array): Float32Array {
  const out = new Float32Array(nextPotential.length);
  let held = 0;
  for (let t = 0; t < out.length; t++) {
    if (Number.isFinite(nextPotential[t])) held = nextPotential[t];
    out[t] = held;
  }
  return out;
}

/** Index of the first NaN or infinite value, −1 when all are finite. */
function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** The manifest, checked against the schema the trainer validates it with: a writer bug fails here, not in Python. */
function snapshotManifest(manifest: SnapshotManifest): SnapshotManifest {
  const parsed = SnapshotManifestSchema.safeParse(manifest);
  if (!parsed.success) throw new StriatumError('STRIATUM_ERR_INTERNAL', `training snapshot manifest: ${formatIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------------------------
// The trainer child process

export interface TrainerRun {
  readonly child: ChildProcess;
  readonly result: Promise<TrainerResult>;
}

/** done: a model was written; skipped: the trainer found nothing to learn from (a "skipped" line, exit 0, no model). */
export type TrainerResult = { ok: true; done: Record<string, unknown> } | { ok: 'skipped'; reason: string } | { ok: false; error: string };

/**
 * Spawn the trainer; every JSON line on stdout goes to onRecord; the last stderr line is the error on failure. A
 * trainer that has nothing to learn from prints {"event": "skipped", "reason": …} and exits 0 without a model.
 */
export function spawnTrainer(python: string, args: readonly string[], timeoutMs: number, onRecord: (r: Record<string, unknown>) => void): TrainerRun {
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  let pending = '';
  let stderr = '';
  let done: Record<string, unknown> | null = null;
  let skipped: string | null = null;
  let badLines = 0;
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line === '') continue;
      let record: unknown;
      try { record = JSON.parse(line); } catch { badLines++; continue; }
      if (typeof record !== 'object' || record === null) { badLines++; continue; }
      const r = record as Record<string, unknown>;
      if (r.event === 'done') done = r;
      if (r.event === 'skipped') skipped = typeof r.reason === 'string' ? r.reason : 'the trainer skipped the round';
      onRecord(r);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-4096); });
  const result = new Promise<TrainerResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); resolve({ ok: false, error: `cannot start ${python}: ${err.message}` }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '';
      if (code !== 0) resolve({ ok: false, error: `trainer exited with ${signal ?? `status ${code}`}${last === '' ? '' : `: ${last}`}` });
      else if (done === null && skipped !== null) resolve({ ok: 'skipped', reason: skipped });
      else if (done === null) resolve({ ok: false, error: `trainer exited 0 without a "done" line (${badLines} unparsable lines)` });
      else resolve({ ok: true, done });
    });
  });
  return { child, result };
}

/** The trainer's output must be a model the robot would load: metadata valid, sha256 matching, task unchanged. */
export function checkModelDir(dir: string, base: PolicyMetadata): PolicyMetadata {
  const meta = readPolicyMetadata(join(dir, 'policy.json'));
  const model = join(dir, meta.model);
  if (!existsSync(model)) throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `trainer output ${dir} has no ${meta.model}`);
  const digest = createHash('sha256').update(readFileSync(model)).digest('hex');
  if (meta.sha256 !== digest) throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `trainer output ${model} has sha256 ${digest}, metadata says ${meta.sha256}`);
  if (meta.task !== base.task || JSON.stringify(meta.action.joints) !== JSON.stringify(base.action.joints)) {
    throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `trainer output ${dir} is for another task or joints than the base policy`);
  }
  return meta;
}

// ---------------------------------------------------------------------------------------------------------------
// Progress bar (stderr, TTY only)

function progressLine(s: TrainingStatus): string {
  const width = 24;
  const filled = s.epochs > 0 ? Math.round((s.epoch / s.epochs) * width) : 0;
  const losses = Object.entries(s.losses).filter(([, v]) => v !== null).map(([k, v]) => `${k.replace('losses/', '')} ${(v as number).toFixed(4)}`).join('  ');
  return `training round ${s.round} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] epoch ${s.epoch}/${s.epochs}  ${losses}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Rounds

export interface TrainingHooks {
  /** A validated model directory (policy.onnx + policy.json); the registry signs and publishes it. */
  onModelReady?(dir: string, meta: PolicyMetadata): void | Promise<void>;
  /** Every status change (the updater publishes it retained). */
  onStatus?(status: TrainingStatus): void;
}

export class TrainingRounds {
  private readonly settings: RelabelSettings;
  private readonly trainer: string;
  private readonly bar: NodeJS.WriteStream | null;
  private pending = 0;
  private running: Promise<RoundResult> | null = null;
  private child: ChildProcess | null = null;
  private closed = false;
  readonly state: TrainingStatus;

  constructor(private readonly store: EpisodeStore, private readonly cfg: TrainingConfig, private readonly log: Logger, private readonly hooks: TrainingHooks = {}, progress: NodeJS.WriteStream | null = process.stderr.isTTY ? process.stderr : null) {
    this.settings = relabelSettings(cfg.shaping);
    this.trainer = cfg.trainer ?? ALGORITHM_TRAINERS[cfg.algorithm];
    this.bar = progress;
    this.state = {
      v: 1, state: 'idle', round: 0, stamp: new Date().toISOString(), episodes_pending: 0, epoch: 0, epochs: cfg.epochs, losses: {},
      rounds_ok: 0, rounds_failed: 0, rounds_skipped: 0, last_error: null, last_model: null, last_round_s: null,
    };
  }

  get busy(): boolean { return this.running !== null; }

  /** The ingest completed an episode; starts a round once episodes_per_round have come in and none is running. */
  episodeCompleted(count = 1): void {
    this.pending += count;
    this.state.episodes_pending = this.pending;
    if (this.pending >= this.cfg.episodes_per_round && this.running === null && !this.closed) void this.runRound();
  }

  /** Run one round now (the trigger calls this; so can tests and tools). Never throws. */
  runRound(): Promise<RoundResult> {
    if (this.running !== null) return this.running;
    const pending = this.pending;
    this.pending = 0;
    this.running = this.round(pending).catch((err: unknown) => this.fail((err as Error).message, (err as { code?: string }).code)).finally(() => { this.running = null; this.child = null; });
    return this.running;
  }

  /**
   * One round under the store's training lock: one round at a time across every updater of the store. While
   * another updater trains, this one skips and keeps its episodes pending for the next trigger.
   */
  private async round(pending: number): Promise<RoundResult> {
    const locked = await this.store.withTrainingLock((round) => this.lockedRound(round));
    if (locked.held) return locked.value;
    this.pending += pending;
    this.state.episodes_pending = this.pending;
    return this.skip('another updater of this store is training');
  }

  /** A round that trains nothing: counted, one log line, the status back to idle; the robots keep their policy. */
  private skip(reason: string, fields: Record<string, unknown> = {}): RoundResult {
    this.state.rounds_skipped++;
    this.log.info('training round skipped', { ...fields, reason });
    this.update('idle');
    return { outcome: 'skipped', reason };
  }

  private async lockedRound(round: number): Promise<RoundResult> {
    const started = performance.now();
    const s = this.state;
    s.round = round;
    s.epoch = 0;
    s.losses = {};
    this.update('snapshot');
    const baseDir = this.baseDir();
    const base = readPolicyMetadata(join(baseDir, 'policy.json'));
    const task = this.cfg.task ?? base.task;
    const episodes = (await this.store.listEpisodes({ complete: true })).filter((e) => e.task === task).slice(-this.cfg.window_episodes);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const roundDir = join(this.cfg.out_dir, `round-${s.round}-${stamp}`);
    const snapshot = await writeTrainingSnapshot(this.store, episodes, join(roundDir, 'snapshot'), base, this.settings, this.cfg.reward_source);
    if (snapshot.steps < this.cfg.min_steps) {
      return this.skip(`snapshot holds ${snapshot.steps} steps (${snapshot.episodes} episodes), min_steps is ${this.cfg.min_steps}`, { round: s.round });
    }
    this.log.info('training round started', { round: s.round, episodes: snapshot.episodes, steps: snapshot.steps, skipped_episodes: snapshot.skippedEpisodes, unrecorded_reward_steps: snapshot.unrecordedRewardSteps, gamma: snapshot.gamma, dir: roundDir });
    const modelDir = join(roundDir, 'model');
    const args = this.trainerArgs(snapshot, baseDir, modelDir);
    // Named by what determines the model (data, base policy, settings; the trainer is seeded), never by who
    // trained it or when: whichever updater of a fleet runs this round releases the same version. (The SAC
    // learner also carries its critics from round to round, on the disk of the updater that trained it.)
    const recipe = createHash('sha256').update(snapshot.sha256).update(base.version).update(args.slice(7).join(' ')).digest('hex');
    args.push('--version', `${VERSION_PREFIX[this.cfg.algorithm]}-${recipe.slice(0, 16)}`);
    this.update('training');
    const run = spawnTrainer(this.cfg.python, args, this.cfg.timeout_s * 1000, (r) => this.onRecord(r));
    this.child = run.child;
    const result = await run.result;
    if (this.bar !== null) this.bar.write('\n');
    if (result.ok === false) return this.fail(result.error);
    if (result.ok === 'skipped') return this.skip(result.reason, { round: s.round });
    let meta: PolicyMetadata;
    try {
      meta = checkModelDir(modelDir, base);
      // The release (validate, sign, publish): a model that fails it fails the round; the robots keep theirs.
      await this.hooks.onModelReady?.(modelDir, meta);
    } catch (err) {
      return this.fail(`model ${modelDir} refused: ${(err as Error).message}`);
    }
    this.recordRelease(modelDir, meta);
    const seconds = (performance.now() - started) / 1000;
    s.rounds_ok++;
    s.last_model = modelDir;
    s.last_round_s = seconds;
    s.last_error = null;
    this.update('done');
    this.log.info('training round finished', { round: s.round, model: modelDir, version: meta.version, parent_version: base.version, seconds: Math.round(seconds * 10) / 10, losses: s.losses });
    return { outcome: 'ok', modelDir, snapshot, seconds, done: result.done };
  }

  /** awr: always base_policy_dir. sac_rlpd, filtered_bc: the latest policy a round released (kept across restarts), else it. */
  baseDir(): string {
    if (this.cfg.algorithm === 'awr') return this.cfg.base_policy_dir;
    const file = join(this.cfg.out_dir, LEARNER_DIR, LATEST_RELEASE_FILE);
    if (!existsSync(file)) return this.cfg.base_policy_dir;
    try {
      const latest = JSON.parse(readFileSync(file, 'utf8')) as { dir?: unknown };
      if (typeof latest.dir === 'string' && existsSync(join(latest.dir, 'policy.json'))) return latest.dir;
    } catch { /* unreadable: start from the configured base, said below */ }
    this.log.warn('latest release record unreadable or its model is gone; starting from base_policy_dir', { file });
    return this.cfg.base_policy_dir;
  }

  private recordRelease(modelDir: string, meta: PolicyMetadata): void {
    if (this.cfg.algorithm === 'awr') return;
    const dir = join(this.cfg.out_dir, LEARNER_DIR);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, LATEST_RELEASE_FILE);
    writeFileSync(`${file}.tmp`, `${JSON.stringify({ dir: resolve(modelDir), version: meta.version, stamp: new Date().toISOString() })}\n`);
    renameSync(`${file}.tmp`, file);
  }

  private trainerArgs(snapshot: SnapshotSummary, baseDir: string, modelDir: string): string[] {
    const c = this.cfg;
    const common = ['--data', snapshot.dir, '--base', baseDir, '--out', modelDir, '--threads', String(c.threads), '--gamma', String(snapshot.gamma), '--batch-size', String(c.batch_size)];
    if (c.algorithm === 'awr') {
      return [this.trainer, ...common, '--epochs', String(c.epochs), '--beta', String(c.beta), '--w-max', String(c.w_max)];
    }
    if (c.algorithm === 'filtered_bc') {
      const f = c.filtered_bc;
      return [
        this.trainer, ...common, '--state', join(c.out_dir, LEARNER_DIR), '--updates', String(f.updates), '--lr', String(f.lr),
        '--demo-version', f.demo_version, '--demo-fraction', String(f.demo_fraction), '--symmetry', f.symmetry,
        '--symmetry-center', String(f.symmetry_center_m), '--progress-horizon', String(f.progress_horizon),
        '--progress-min', String(f.progress_min), '--tail-steps', String(f.tail_steps), '--top-fraction', String(f.top_fraction), '--velocity-noise', String(f.velocity_noise), '--min-kept', String(f.min_kept), '--ensemble', String(f.ensemble), '--seed', String(f.seed),
      ];
    }
    const sac = c.sac;
    return [
      this.trainer, ...common, '--state', join(c.out_dir, LEARNER_DIR), '--utd', String(sac.utd),
      '--min-updates', String(sac.min_updates), '--max-updates', String(sac.max_updates), '--demo-version', sac.demo_version,
      '--demo-fraction', String(sac.demo_fraction), '--critics', String(sac.critics), '--hidden', String(sac.hidden),
      '--bc-weight', String(sac.bc_weight), '--actor-warmup', String(sac.actor_warmup), '--init-log-std', String(sac.init_log_std), '--seed', String(sac.seed),
    ];
  }

  private onRecord(r: Record<string, unknown>): void {
    const s = this.state;
    if (typeof r.epoch === 'number') s.epoch = r.epoch;
    if (typeof r.epochs === 'number') s.epochs = r.epochs;
    for (const [k, v] of Object.entries(r)) if (k.startsWith('losses/')) s.losses[k] = typeof v === 'number' ? v : null;
    this.update(s.state);
  }

  private fail(error: string, code?: string): RoundResult {
    this.state.rounds_failed++;
    this.state.last_error = (code === undefined ? error : `${code}: ${error}`).slice(0, 500);
    // The status (state failed, last_error) goes out retained on the training topic: that is the round's event.
    this.update('failed');
    this.log.error('training round failed; the updater keeps running', { round: this.state.round, error, ...(code === undefined ? {} : { code }), rounds_failed: this.state.rounds_failed });
    return code === undefined ? { outcome: 'failed', error } : { outcome: 'failed', error, code };
  }

  private update(state: TrainingStatus['state']): void {
    this.state.state = state;
    this.state.stamp = new Date().toISOString();
    if (this.bar !== null && state === 'training') this.bar.write(`\r${progressLine(this.state)}`);
    this.hooks.onStatus?.(this.state);
  }

  /** Stop: kill a running trainer and wait for its round to settle. */
  async close(): Promise<void> {
    this.closed = true;
    this.child?.kill('SIGKILL');
    await this.running;
  }
}
