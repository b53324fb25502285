// `striatum learn`: one closed learning loop on this machine. An embedded broker; the updater (store, training
// rounds, signed releases) in this process; demonstrations recorded by a scripted-expert robot through the reward
// models; then synchronous rounds: K simulated robots in virtual time (one process each, own robot id and seeds)
// collect a round's episodes with the newest release, the updater trains on everything stored and releases, and
// the release is evaluated on held-out seeds (mean action, no rollouts) while the robots collect the next round.
// Stops at the target, the episode budget, the time limit or stop(); writes learning-curve.json and .svg.
import { RolloutStore } from '../updater/store.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeAccount } from '../broker/acl.js';
import { EmbeddedBroker } from '../broker/embedded-broker.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { UpdaterConfigSchema } from '../updater/config.js';
import { generateKeyFiles } from '../updater/registry.js';
import { runUpdater, type RunningUpdater } from '../updater/updater.js';
import type { LoadedLearnConfig } from './config.js';
import { curveSummary, curveSvg, type CurvePoint, type LearningCurve } from './curve.js';
import { seedRanges, trainingSeed } from './seeds.js';

const ROBOT_PROCESS = fileURLToPath(new URL('./robot-process.js', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const DEMO_ROBOT = 'demo';
const POLL_MS = 500;
/** The updater's own trigger (a round per this many new episodes) is switched off: rounds() starts each round. */
const NEVER_BY_COUNT = 1_000_000_000;
/** A robot that does not exit this long after SIGTERM is killed (its spool keeps what was not acknowledged). */
const ROBOT_STOP_MS = 15_000;

interface Evaluation { episodes: number; successes: number; success_rate: number }
/** A robot's overrides of the template: id, login, the policy it starts with, spool, seeds, exploration. */
type RobotOverrides = (id: string, firstSeed: number, episodes: number, explore: boolean, modelDir: string) => Record<string, unknown>;

export interface LearnRunOptions {
  readonly loaded: LoadedLearnConfig;
  readonly logger: Logger;
  /** A terminal for the progress bar; null logs a line per change instead. */
  readonly progress: NodeJS.WriteStream | null;
}

export class LearnRun {
  private readonly cfg: LoadedLearnConfig['config'];
  private readonly out: string;
  private readonly started = performance.now();
  private stopReason: string | null = null;
  private broker: EmbeddedBroker | null = null;
  private updater: RunningUpdater | null = null;
  private readonly robots = new Map<string, ChildProcess>();
  private evalChild: ChildProcess | null = null;
  private readonly points: CurvePoint[] = [];
  private lastLine = '';
  /** Training episodes stored, as last counted (the count survives the store's closing). */
  private trainingEpisodes = 0;

  constructor(private readonly o: LearnRunOptions) {
    this.cfg = o.loaded.config;
    this.out = o.loaded.resolvePath(this.cfg.out_dir);
  }

  /** Ask the run to stop (Ctrl-C): robots are stopped cleanly, the store and the curve so far are kept. */
  stop(reason: string): void {
    if (this.stopReason === null) this.stopReason = reason;
  }

  private get wallS(): number {
    return (performance.now() - this.started) / 1000;
  }

  async run(): Promise<LearningCurve> {
    const cfg = this.cfg;
    const log = this.o.logger;
    const resolvePath = this.o.loaded.resolvePath;
    if (existsSync(this.out) && readdirSync(this.out).length > 0) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `out_dir ${this.out} is not empty: each run needs a new folder (its store and curve would mix with another run's)`);
    }
    for (const d of ['keys', 'logs', 'robots', 'rounds', 'spool']) mkdirSync(join(this.out, d), { recursive: true });
    const template = resolvePath(cfg.robot_template);
    const baseDir = resolvePath(cfg.base_policy_dir);
    const keys = generateKeyFiles(join(this.out, 'keys'));
    const password = (): string => randomBytes(12).toString('base64url');
    const robotIds = Array.from({ length: cfg.robots }, (_, k) => `learner-${k + 1}`);
    const logins = new Map([...robotIds, DEMO_ROBOT, 'updater'].map((id) => [id, password()]));
    let curve: LearningCurve | null = null;
    try {
      this.broker = await EmbeddedBroker.start({
        host: '127.0.0.1', port: 0, wsPort: null, logger: log.child('broker'),
        accounts: [...logins].map(([id, pw]) => makeAccount(id, pw, id === 'updater' ? 'updater' : 'robot', id === 'updater' ? undefined : id)),
      });
      const url = this.broker.url;
      this.updater = await runUpdater({
        logger: log.child('updater'),
        config: UpdaterConfigSchema.parse({
          broker: { url, username: 'updater', password: logins.get('updater') },
          store: { path: join(this.out, 'episodes.sqlite') },
          training: {
            ...cfg.training, enabled: true, base_policy_dir: baseDir, out_dir: join(this.out, 'rounds'),
            episodes_per_round: NEVER_BY_COUNT, // the run starts each round itself, once the robots' episodes are stored
            // Runs differ in every seed: the robots' episodes and noise (seeds.ts) and the learner's.
            sac: { ...cfg.training.sac, seed: cfg.training.sac.seed + cfg.run },
            filtered_bc: { ...cfg.training.filtered_bc, seed: cfg.training.filtered_bc.seed + cfg.run },
            window_episodes: Math.max(cfg.training.window_episodes, cfg.episode_budget + cfg.demonstrations.episodes),
          },
          release: { key: keys.privatePath },
        }),
      });
      log.info('learning run started', { out: this.out, robots: cfg.robots, budget: cfg.episode_budget, target: cfg.target_success, algorithm: cfg.training.algorithm });
      const robotOverrides: RobotOverrides = (id, seed, episodes, explore, modelDir) => ({
        robot: { id },
        control: { realtime: false },
        mqtt: { broker: url, username: id, password: logins.get(id), telemetry_hz: 1, ws_port: null, users: [] },
        policy: {
          model: join(modelDir, 'policy.onnx'), trusted_keys: [keys.publicPath], state_dir: join(this.out, 'robots', id, 'policy'),
          auto_rollback: null, warmup_runs: 2,
        },
        rollout: { spool_dir: join(this.out, 'spool', id), chunk_steps: 250 },
        // The oracle baseline (reward_source: simulator) needs the simulator's verdict and progress recorded:
        // its robots end episodes on the simulator's success, not the success model's (benchmarks only).
        episodes: { seed, count: episodes, ...(cfg.training.reward_source === 'simulator' ? { success_signal: 'environment' } : {}) },
        exploration: explore ? { ...cfg.exploration, seed } : null,
      });

      const baseEval = this.evaluate(join(baseDir, 'policy.onnx'), template);
      if (cfg.demonstrations.episodes > 0) {
        this.spawnRobot(DEMO_ROBOT, template, robotOverrides(DEMO_ROBOT, cfg.demonstrations.first_seed, cfg.demonstrations.episodes, false, baseDir), cfg.demonstrations.episodes, true);
      }
      const base = await baseEval;
      if (base !== null) this.addPoint(0, 0, readVersion(baseDir), base);
      await this.waitFor(() => !this.robots.has(DEMO_ROBOT), 'demonstrations');
      const settled = this.wallS + 10; // the last chunks are acknowledged after the demonstrator exits
      await this.waitFor(() => this.completeEpisodes(DEMO_ROBOT) >= cfg.demonstrations.episodes || this.wallS > settled, 'demonstrations');
      if (this.completeEpisodes(DEMO_ROBOT) < cfg.demonstrations.episodes) log.warn('fewer demonstrations stored than asked for', { stored: this.completeEpisodes(DEMO_ROBOT), asked: cfg.demonstrations.episodes });

      await this.rounds(template, baseDir, robotIds, robotOverrides);
    } finally {
      await this.shutdown();
      curve = this.writeCurve();
    }
    return curve;
  }

  /**
   * Synchronous rounds: the K robots collect episodes_per_round episodes together with the newest release, the
   * updater trains one round on everything stored, the release is evaluated on the held-out seeds while the robots
   * collect the next round with it. Every episode of the budget runs the newest policy there is.
   */
  private async rounds(template: string, baseDir: string, robotIds: readonly string[], overrides: RobotOverrides): Promise<void> {
    const cfg = this.cfg;
    const log = this.o.logger;
    const training = this.updater?.training ?? null;
    if (training === null) throw new StriatumError('STRIATUM_ERR_CONFIG', 'striatum learn needs the updater\'s training rounds');
    let model = baseDir;
    let evaluating: Promise<void> | null = null;
    const nextSeed = robotIds.map((_, k) => trainingSeed(cfg.run, k));
    const targetReached = (): boolean => this.points.length > 1 && this.points.some((p) => p.round > 0 && p.success_rate >= cfg.target_success);
    while (this.stopReason === null) {
      const collected = this.completeEpisodes(null);
      if (collected >= cfg.episode_budget) { this.stop(`episode budget of ${cfg.episode_budget} reached`); break; }
      const episodes = Math.min(cfg.training.episodes_per_round, cfg.episode_budget - collected);
      robotIds.forEach((id, k) => {
        const n = Math.floor(episodes / robotIds.length) + (k < episodes % robotIds.length ? 1 : 0);
        if (n === 0) return;
        this.spawnRobot(id, template, overrides(id, nextSeed[k], n, true, model), n, false);
        nextSeed[k] += n;
      });
      await this.waitFor(() => robotIds.every((id) => !this.robots.has(id)), 'collecting');
      const settled = this.wallS + 10; // the last chunks are acknowledged after a robot exits
      await this.waitFor(() => this.completeEpisodes(null) >= collected + episodes || this.wallS > settled, 'storing');
      if (this.stopReason !== null || targetReached()) break;
      const result = await training.runRound();
      if (result.outcome !== 'ok') {
        log.warn('training round did not release a policy; the robots keep the current one', { outcome: result.outcome, ...(result.outcome === 'failed' ? { error: result.error } : { reason: result.reason }) });
        continue;
      }
      model = result.modelDir;
      const release = result.modelDir;
      const round = training.state.round;
      const previous: Promise<void> | null = evaluating;
      evaluating = (async () => {
        if (previous !== null) await previous;
        const r = await this.evaluate(join(release, 'policy.onnx'), template);
        if (r !== null) this.addPoint(trainedEpisodes(release, this.completeEpisodes(null)), round, readVersion(release), r);
        if (targetReached()) this.stop(`target ${cfg.target_success} reached`);
      })();
    }
    this.showProgress();
    // The last release still gets its point, unless a time limit or a signal stopped the run.
    if (evaluating !== null && (this.stopReason?.startsWith('episode budget') === true || this.stopReason?.startsWith('target') === true)) await evaluating;
  }

  private spawnRobot(id: string, template: string, overrides: Record<string, unknown>, episodes: number, expert: boolean): void {
    const file = join(this.out, 'robots', `${id}.json`);
    writeFileSync(file, `${JSON.stringify(overrides, null, 2)}\n`);
    const logFd = openSync(join(this.out, 'logs', `${id}.log`), 'a');
    const args = [ROBOT_PROCESS, '--template', template, '--overrides', file, '--episodes', String(episodes), ...(expert ? ['--source', 'expert'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.robots.set(id, child);
    child.on('exit', (code, signal) => {
      this.robots.delete(id);
      if (code !== 0 && this.stopReason === null) this.o.logger.error('robot process failed', { robot: id, code, signal, log: join(this.out, 'logs', `${id}.log`) });
    });
  }

  /** Held-out evaluation of one model (mean action, no MQTT, no rollouts) as a child `striatum eval`. */
  private evaluate(modelPath: string, template: string): Promise<Evaluation | null> {
    const e = this.cfg.evaluation;
    return new Promise((resolvePromise) => {
      const child = spawn(process.execPath, [CLI, '--log-level', 'warn', 'eval', '--config', template, '--model', modelPath, '--episodes', String(e.episodes), '--seed', String(e.first_seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.evalChild = child;
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => { stdout += t; });
      child.stderr.setEncoding('utf8').on('data', (t: string) => { stderr = (stderr + t).slice(-2000); });
      child.on('close', (code) => {
        this.evalChild = null;
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          if (code !== 0) throw new Error(`exit ${code}: ${stderr.trim().split('\n').pop() ?? ''}`);
          resolvePromise(JSON.parse(line) as Evaluation);
        } catch (err) {
          if (this.stopReason === null) this.o.logger.error('evaluation failed', { model: modelPath, error: (err as Error).message });
          resolvePromise(null);
        }
      });
    });
  }

  private addPoint(episodes: number, round: number, version: string, r: Evaluation): void {
    const point: CurvePoint = { episodes, round, version, success_rate: r.success_rate, successes: r.successes, eval_episodes: r.episodes, wall_s: Math.round(this.wallS * 10) / 10 };
    this.points.push(point);
    this.o.logger.info('policy evaluated on held-out seeds', { ...point });
    this.writeCurve();
  }

  /** Complete, not aborted episodes in the store: of one robot, or (null) of every robot but the demonstrator. */
  private completeEpisodes(robot: string | null): number {
    // striatum learn keeps its episodes in a SQLite file of its own, which answers synchronously.
    const store = this.updater?.store;
    if (!(store instanceof RolloutStore) || this.closed) return robot === null ? this.trainingEpisodes : 0;
    const rows = store.listEpisodes({ complete: true }).filter((e) => e.outcome !== 'aborted');
    const count = rows.filter((e) => (robot === null ? e.robot !== DEMO_ROBOT : e.robot === robot)).length;
    if (robot === null) this.trainingEpisodes = count;
    return count;
  }

  private closed = false;

  private async waitFor(done: () => boolean, what: string): Promise<void> {
    while (!done()) {
      if (this.stopReason !== null) return;
      if (this.wallS > this.cfg.time_limit_min * 60) { this.stop(`time limit reached during ${what}`); return; }
      this.showProgress(what);
      await sleep(POLL_MS);
    }
  }

  private showProgress(phase = ''): void {
    const cfg = this.cfg;
    const episodes = this.completeEpisodes(null);
    const s = this.updater?.training?.state;
    const last = this.points[this.points.length - 1];
    const width = 24;
    const filled = Math.min(width, Math.round((episodes / cfg.episode_budget) * width));
    const mm = Math.floor(this.wallS / 60);
    const ss = Math.floor(this.wallS % 60).toString().padStart(2, '0');
    const line = `learn [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] episodes ${episodes}/${cfg.episode_budget}  round ${s?.round ?? 0} (${s?.state ?? 'idle'})  `
      + `success ${last === undefined ? '—' : `${(last.success_rate * 100).toFixed(0)}% (${last.version})`}  target ${(cfg.target_success * 100).toFixed(0)}%  ${mm}:${ss}${phase === '' ? '' : `  ${phase}`}`;
    if (this.o.progress !== null) this.o.progress.write(`\r${line}   `);
    else if (line.replace(/ \d+:\d\d.*$/, '') !== this.lastLine.replace(/ \d+:\d\d.*$/, '')) this.o.logger.info(line);
    this.lastLine = line;
  }

  /** Robots first (SIGTERM: each finishes its tick, puts its motors safe, keeps its spool), then updater, broker. */
  private async shutdown(): Promise<void> {
    const log = this.o.logger;
    if (this.o.progress !== null) this.o.progress.write('\n');
    this.evalChild?.kill('SIGKILL');
    const exits = [...this.robots.entries()].map(([id, child]) => new Promise<void>((done) => {
      if (child.exitCode !== null) { done(); return; }
      const timer = setTimeout(() => { log.warn('robot did not stop in time; killing it', { robot: id }); child.kill('SIGKILL'); }, ROBOT_STOP_MS);
      child.once('exit', () => { clearTimeout(timer); done(); });
      child.kill('SIGTERM');
    }));
    await Promise.all(exits);
    this.completeEpisodes(null);
    this.closed = true;
    try { await this.updater?.close(); } catch (err) { log.error('error while stopping the updater', { error: (err as Error).message }); }
    try { await this.broker?.close(); } catch (err) { log.error('error while stopping the broker', { error: (err as Error).message }); }
  }

  private writeCurve(): LearningCurve {
    const cfg = this.cfg;
    const curve: LearningCurve = {
      format: 'striatum.learning-curve/v1', target_success: cfg.target_success, episode_budget: cfg.episode_budget, robots: cfg.robots,
      algorithm: cfg.training.algorithm,
      seeds: seedRanges(cfg.run, cfg.robots, cfg.demonstrations.episodes, cfg.demonstrations.first_seed, cfg.evaluation.episodes, cfg.evaluation.first_seed),
      points: [...this.points], ...curveSummary(this.points, cfg.target_success),
      training_episodes: this.completeEpisodes(null), wall_s: Math.round(this.wallS * 10) / 10, stopped: this.stopReason ?? 'running',
    };
    mkdirSync(this.out, { recursive: true });
    writeFileSync(join(this.out, 'learning-curve.json'), `${JSON.stringify(curve, null, 2)}\n`);
    writeFileSync(join(this.out, 'learning-curve.svg'), curveSvg(curve));
    return curve;
  }

  get outDir(): string {
    return resolve(this.out);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Robot episodes a model was trained on (its snapshot's episodes less the demonstrations); else the count now. */
function trainedEpisodes(dir: string, fallback: number): number {
  try {
    const t = (JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as { training?: { dataset_episodes?: number; demo_episodes?: number } }).training;
    if (typeof t?.dataset_episodes === 'number') return t.dataset_episodes - (t.demo_episodes ?? 0);
  } catch { /* the count now */ }
  return fallback;
}
