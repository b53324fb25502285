// `striatum learn`: one closed learning loop on this machine. An embedded broker; the updater (store, training
// rounds, signed releases) in this process; demonstrations recorded by a scripted-expert robot through the reward
// models; K simulated robots in virtual time (one process each, own robot id and seeds) that explore and take each
// release over the air; every release evaluated on held-out seeds (mean action, no rollouts). Stops at the target,
// the episode budget, the time limit or stop(); writes learning-curve.json and learning-curve.svg.
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
/** A robot that does not exit this long after SIGTERM is killed (its spool keeps what was not acknowledged). */
const ROBOT_STOP_MS = 15_000;

interface Evaluation { episodes: number; successes: number; success_rate: number }

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
            window_episodes: Math.max(cfg.training.window_episodes, cfg.episode_budget + cfg.demonstrations.episodes),
          },
          release: { key: keys.privatePath },
        }),
      });
      log.info('learning run started', { out: this.out, robots: cfg.robots, budget: cfg.episode_budget, target: cfg.target_success, algorithm: cfg.training.algorithm });
      const robotOverrides = (id: string, seed: number, episodes: number, explore: boolean): Record<string, unknown> => ({
        robot: { id },
        control: { realtime: false },
        mqtt: { broker: url, username: id, password: logins.get(id), telemetry_hz: 1, ws_port: null, users: [] },
        policy: {
          model: join(baseDir, 'policy.onnx'), trusted_keys: [keys.publicPath], state_dir: join(this.out, 'robots', id, 'policy'),
          auto_rollback: null, warmup_runs: 2,
        },
        rollout: { spool_dir: join(this.out, 'spool', id), chunk_steps: 250 },
        episodes: { seed, count: episodes },
        exploration: explore ? { ...cfg.exploration, seed } : null,
      });

      const baseEval = this.evaluate(join(baseDir, 'policy.onnx'), template);
      if (cfg.demonstrations.episodes > 0) {
        this.spawnRobot(DEMO_ROBOT, template, robotOverrides(DEMO_ROBOT, cfg.demonstrations.first_seed, cfg.demonstrations.episodes, false), cfg.demonstrations.episodes, true);
      }
      const base = await baseEval;
      if (base !== null) this.addPoint(0, 0, readVersion(baseDir), base);
      await this.waitFor(() => !this.robots.has(DEMO_ROBOT), 'demonstrations');
      const settled = this.wallS + 10; // the last chunks are acknowledged after the demonstrator exits
      await this.waitFor(() => this.completeEpisodes(DEMO_ROBOT) >= cfg.demonstrations.episodes || this.wallS > settled, 'demonstrations');
      if (this.completeEpisodes(DEMO_ROBOT) < cfg.demonstrations.episodes) log.warn('fewer demonstrations stored than asked for', { stored: this.completeEpisodes(DEMO_ROBOT), asked: cfg.demonstrations.episodes });

      const per = Math.floor(cfg.episode_budget / cfg.robots);
      robotIds.forEach((id, k) => {
        const episodes = per + (k < cfg.episode_budget % cfg.robots ? 1 : 0);
        if (episodes > 0) this.spawnRobot(id, template, robotOverrides(id, trainingSeed(cfg.run, k), episodes, true), episodes, false);
      });
      await this.loop(template);
    } finally {
      await this.shutdown();
      curve = this.writeCurve();
    }
    return curve;
  }

  /** Watch the store and the rounds; evaluate each release; stop at the target, budget, time limit or stop(). */
  private async loop(template: string): Promise<void> {
    const cfg = this.cfg;
    const training = this.updater?.training ?? null;
    let releases = training?.state.rounds_ok ?? 0;
    let finalRound = false;
    const queue: { modelDir: string; round: number }[] = [];
    let evaluating: Promise<void> | null = null;
    for (;;) {
      if (this.stopReason !== null) break;
      if (this.wallS > cfg.time_limit_min * 60) { this.stop(`time limit of ${cfg.time_limit_min} min reached`); break; }
      const s = training?.state;
      if (s !== undefined && s.rounds_ok > releases && s.last_model !== null) {
        releases = s.rounds_ok;
        queue.length = 0; // only the newest release is worth the CPU
        queue.push({ modelDir: s.last_model, round: s.round });
      }
      if (evaluating === null && queue.length > 0) {
        const next = queue.shift() as { modelDir: string; round: number };
        evaluating = this.evaluate(join(next.modelDir, 'policy.onnx'), template).then((r) => {
          if (r !== null) this.addPoint(trainedEpisodes(next.modelDir, this.completeEpisodes(null)), next.round, readVersion(next.modelDir), r);
        }).finally(() => { evaluating = null; });
      }
      const best = this.points.reduce((b, p) => Math.max(b, p.success_rate), 0);
      if (this.points.length > 1 && best >= cfg.target_success) { this.stop(`target ${cfg.target_success} reached`); break; }
      const robotsDone = [...this.robots.keys()].every((id) => id === DEMO_ROBOT);
      if (robotsDone && training !== null && !training.busy) {
        if (!finalRound && training.state.episodes_pending > 0) {
          finalRound = true; // the episodes since the last round still get a round
          void training.runRound();
        } else if (evaluating === null && queue.length === 0) {
          this.stop(`episode budget of ${cfg.episode_budget} reached`);
          break;
        }
      }
      this.showProgress();
      await sleep(POLL_MS);
    }
    this.showProgress();
    // At the budget the last release still gets its point; a time limit or a signal does not wait for it.
    if (evaluating !== null && this.stopReason?.startsWith('episode budget') === true) await evaluating;
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
      seeds: seedRanges(cfg.run, cfg.robots, cfg.demonstrations.episodes, cfg.evaluation.episodes, cfg.evaluation.first_seed),
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
