// The reward pipeline: what the control loop calls once per tick, after the command is written. It copies new
// camera frames into the shared rings the PRM workers read, folds their newest answers into the shaped reward,
// and returns one preallocated record with every component. Nothing here waits for a worker.
//
// Per tick (allocation-free):   pollFrames(transport) or onFrame(frame) · onStep(step) → RewardPipelineStep
// Per episode:                  beginEpisode(instruction) · endEpisode() → EpisodeRewardSummary
// As the loop's first StepSink:  onEpisodeStart · onStep (polls `frames` first) · onEpisodeEnd (→ lastEpisode);
//                               the sinks after it read `record` for the same step.
//                               reversedPass() → VROC of a model with memory (evaluation, between episodes)
// Telemetry (allocates):        telemetry()
//
// Crediting rule. A PRM answer judges frames captured at S (the newest capture time among its views). It is
// folded in at the first onStep() after it arrives and is Φ(s′) from that step on, held (zero-order) until the
// next answer; the shaper's potential stays consistent across held steps. Answers are applied in capture
// order: one whose S is not newer than the last applied answer's, or that belongs to another episode, is
// dropped and counted (`staleResults`). Each step records S (`prmStampMs`) and its age at the step
// (`prmAgeMs` = step.stampMs − S), so an updater that relabels offline can move each answer back to the step
// nearest S. A missing answer (error, timeout, crash) or one whose every view is NaN makes the following steps
// "no reward" until the next valid answer (Φ holds its last valid value meanwhile; see shaping.ts).
//
// Sources: r_task is the environment's (taskReward argument, or task_success_reward on the step the
// environment reports success, 0 where it cannot tell); r_gold, shaping and done come from RewardShaper over
// the potential model's view-fused progress; done may instead come from a success model (shaping.done_source);
// r_intrinsic is the optional RND term. The hacking alarm compares each PRM answer's success claim with the
// success model (or the environment's success flag).
import type { EpisodeStart, EpisodeSummary, StepSink, StepView, SuccessJudge } from '../control/step.js';
import { LatencyHistogram } from '../util/histogram.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CameraFrame, CameraInfo, RobotTransport } from '../transports/types.js';
import { HackingAlarm } from './hacking-alarm.js';
import { potentialModel, successModel, type RewardConfig } from './prm/config.js';
import { FrameRing } from './prm/frame-ring.js';
import { resolvePrmModel } from './prm/load-adapter.js';
import { PrmWorkerHost, UPDATE_OK, type PrmUpdate } from './prm/prm-worker.js';
import { RndTerm } from './prm/rnd-term.js';
import { SuccessDetector } from './prm/success-detector.js';
import { RewardStep } from './reward-step.js';
import { DEFAULT_HORIZON_S, RewardShaper, STEP_CONTINUES, STEP_TERMINAL, STEP_TRUNCATED, type StepEnd } from './shaping.js';
import { ViewFusion } from './view-fusion.js';
import { reversedValueOrderCorrelation, valueOrderCorrelation, vocF1 } from './voc.js';

/** Potential-model progress values kept per episode for VOC (about 30 min at 2 Hz). */
const EPISODE_VALUES = 4096;

/** RewardStep plus what the PRMs said behind it. One record, overwritten every step. */
export class RewardPipelineStep extends RewardStep {
  /** View-fused P(success) of the success model's newest answer (NaN without one). */
  successProbability = Number.NaN;
  /** View-fused confidence of the potential model's newest answer (NaN when it has no confidence output). */
  confidence = Number.NaN;
  /** View-fused done probability of the potential model's newest answer (NaN without a done output). */
  doneProbability = Number.NaN;
  /** Mean over views of the potential model's newest delta (pairwise H, VIP step reward, progress change). */
  prmDelta = Number.NaN;
  /** Capture time of the frames behind `progress` (newest among views); NaN before the first answer. */
  prmStampMs = Number.NaN;
  /** step.stampMs − prmStampMs. */
  prmAgeMs = Number.NaN;
  /** Worker time of the answer behind `progress`, ms. */
  prmLatencyMs = Number.NaN;
  /** Sequence number of that answer within its worker. */
  prmUpdate = 0;
  /** The reward-hacking alarm is raised. */
  hackingAlarm = false;
}

export interface EpisodeRewardSummary {
  readonly episode: number;
  readonly steps: number;
  /** Valid potential-model answers applied this episode. */
  readonly updates: number;
  readonly no_reward_steps: number;
  readonly return: number;
  readonly final_progress: number;
  /** Spearman correlation of this episode's progress answers with time. */
  readonly voc: number;
  /** VOC on the reversed video; null when the model has memory and would need a second, reversed pass. */
  readonly vroc: number | null;
  readonly voc_f1: number | null;
  readonly hacking_alarm: { readonly active: boolean; readonly alarms: number; readonly disagreements_in_window: number };
}

/** VROC from a second, reversed pass of a model with memory over the frames it judged in the episode. */
export interface ReversedPass {
  readonly episode: number;
  /** Updates judged backwards (the episode's, evenly thinned to reversed_eval_frames). */
  readonly frames: number;
  readonly voc: number;
  readonly vroc: number;
  readonly voc_f1: number;
}

export interface RewardPipelineOptions {
  readonly config: RewardConfig;
  /** The robot's cameras (RobotDescription.cameras). */
  readonly cameras: readonly CameraInfo[];
  /** Control period in seconds (for γ from horizon_s). */
  readonly periodS: number;
  /** Resolves paths of the config (LoadedConfig.resolvePath). */
  readonly resolvePath: (p: string) => string;
  readonly logger: Logger;
  /** Observation size; needed when the config has an RND term. */
  readonly observationDim?: number;
  /** Where the sink's onStep takes camera frames from (the transport); none: frames come through onFrame(). */
  readonly frames?: Pick<RobotTransport, 'latestFrame'> | null;
  /**
   * Virtual time (run --fast, learn): every frame written is judged before the loop goes on (settle()), and the
   * workers look for frames every 2 ms instead of at their configured rate, so simulated time cannot outrun them.
   */
  readonly lockstep?: boolean;
}

/**
 * How long settle() waits for one frame's answer before going on without it (counted in lockstepTimeouts). Long:
 * virtual time loses nothing by waiting, and a loaded machine can hold a worker's answer for seconds; a worker that
 * stops answering altogether is the worker watchdog's to catch.
 */
const LOCKSTEP_TIMEOUT_MS = 30_000;
const LOCKSTEP_POLL_MS = 1;
const LOCKSTEP_RATE_HZ = 500;

/** A model's host with its view fusion, resolved once. */
class ModelSlot {
  readonly progressFusion: ViewFusion;
  readonly doneFusion: ViewFusion;
  readonly confidenceFusion = new ViewFusion('mean');
  readonly deltaFusion = new ViewFusion('mean');
  staleResults = 0;
  readonly age = new LatencyHistogram();
  constructor(readonly host: PrmWorkerHost) {
    this.progressFusion = new ViewFusion(host.model.fusion);
    this.doneFusion = new ViewFusion(host.model.fusion);
  }
}

/** The frame source of a pipeline fed through onFrame(): polling it finds nothing, so onStep never branches. */
const NO_FRAMES: Pick<RobotTransport, 'latestFrame'> = { latestFrame: () => null };

const DONE_FROM_PROGRESS = 0;
const DONE_FROM_SUCCESS = 1;
const DONE_FROM_EITHER = 2;

export class RewardPipeline implements StepSink, SuccessJudge {
  readonly shaper: RewardShaper;
  /** The step's reward, overwritten by every onStep(): later sinks read it for the same step. */
  readonly record = new RewardPipelineStep();
  /** The reward summary of the episode the last onEpisodeEnd() closed; null before the first. */
  lastEpisode: EpisodeRewardSummary | null = null;
  readonly alarm: HackingAlarm;
  readonly rnd: RndTerm | null;
  /** Camera frames refused for a size other than the camera's. */
  misSizedFrames = 0;
  /** onStep() calls outside an episode (an episode was begun implicitly). */
  implicitEpisodes = 0;

  private readonly rings: FrameRing[];
  private readonly ringCameras: string[];
  private readonly frames: Pick<RobotTransport, 'latestFrame'>;
  private readonly potential: ModelSlot | null;
  private readonly success: ModelSlot | null;
  private readonly slots: ModelSlot[];
  private readonly successDetector: SuccessDetector | null;
  private readonly doneSource: number;
  private readonly values = new Float64Array(EPISODE_VALUES);
  private valueCount = 0;
  private episode = 0;
  private open = false;
  private lastAppliedStampMs = Number.NaN;
  private successProbability = Number.NaN;
  private episodeSteps = 0;
  private episodeNoReward = 0;
  private episodeReturn = 0;
  private episodeUpdates = 0;
  private lastEnded = { episode: 0, voc: 0 };
  private intervalStartMs = performance.now();
  private intervalUpdates: number[];

  private constructor(o: RewardPipelineOptions, rings: FrameRing[], slots: ModelSlot[], rnd: RndTerm | null) {
    const cfg = o.config;
    const s = cfg.shaping;
    this.shaper = new RewardShaper({
      periodS: o.periodS,
      gamma: s.gamma,
      horizonS: s.gamma === null && s.horizon_s === null ? DEFAULT_HORIZON_S : s.horizon_s,
      successMargin: s.delta,
      successReward: s.task_success_reward,
      doneUpdates: s.done_updates,
      doneHysteresis: s.hysteresis,
      normalization: s.normalize,
    });
    const a = cfg.hacking_alarm;
    this.alarm = new HackingAlarm({ successMargin: s.delta, successThreshold: a.success_threshold, disagreements: a.disagreements, window: a.window });
    this.rings = rings;
    this.ringCameras = rings.map((r) => r.camera);
    this.frames = o.frames ?? NO_FRAMES;
    this.slots = slots;
    this.potential = slots.find((m) => m.host.model.kind !== 'success') ?? null;
    this.success = slots.find((m) => m.host.model.kind === 'success') ?? null;
    const sm = this.success?.host.model ?? null;
    this.successDetector = sm === null ? null : new SuccessDetector(sm.successThreshold, s.done_updates, s.hysteresis);
    const source = s.done_source ?? (sm !== null ? 'success' : 'progress');
    this.doneSource = source === 'progress' ? DONE_FROM_PROGRESS : source === 'success' ? DONE_FROM_SUCCESS : DONE_FROM_EITHER;
    this.rnd = rnd;
    this.intervalUpdates = slots.map(() => 0);
    this.lockstep = o.lockstep === true;
    this.lockstepMark = new Float64Array(slots.length).fill(-1);
    this.ringReaders = rings.map((ring) => slots.flatMap((slot, i) => (slot.host.model.cameras.some((c) => c.name === ring.camera) ? [i] : [])));
  }

  private readonly lockstep: boolean;
  /** Per model: the answered-update count to pass before the next tick (-1: nothing awaited). */
  private readonly lockstepMark: Float64Array;
  /** Per ring: the models that read it. */
  private readonly ringReaders: number[][];
  /** Frames settle() gave up waiting for (a slow or restarting worker). */
  lockstepTimeouts = 0;

  /**
   * Lockstep only: resolves once every model has answered the frames written since the last call (or is not
   * ready, or LOCKSTEP_TIMEOUT_MS passed); null when nothing is awaited. Called between ticks, never in one.
   */
  settle(): Promise<void> | null {
    const marks = this.lockstepMark;
    let waiting = false;
    for (let i = 0; i < marks.length; i++) if (marks[i] >= 0) waiting = true;
    if (!waiting) return null;
    const started = performance.now();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        let open = false;
        for (let i = 0; i < marks.length; i++) {
          if (marks[i] < 0) continue;
          const host = this.slots[i].host;
          if (host.state !== 'ready' || host.answered > marks[i]) marks[i] = -1;
          else open = true;
        }
        if (open && performance.now() - started > LOCKSTEP_TIMEOUT_MS) {
          this.lockstepTimeouts++;
          marks.fill(-1);
          open = false;
        }
        if (open) setTimeout(check, LOCKSTEP_POLL_MS);
        else resolve();
      };
      check();
    });
  }

  /** Resolve the config, start one worker per model (each loads its own session), and the RND term. */
  static async start(o: RewardPipelineOptions): Promise<RewardPipeline> {
    const cfg = o.config;
    const log = o.logger;
    const resolved = cfg.models.map((m) => {
      const model = resolvePrmModel(m, o.cameras, o.resolvePath).model;
      return o.lockstep === true ? { ...model, rateHz: Math.max(model.rateHz, LOCKSTEP_RATE_HZ) } : model;
    });
    // One ring per camera any model reads; a model's reader bit is its index.
    const rings: FrameRing[] = [];
    for (const cam of o.cameras) {
      const readers = resolved.filter((m) => m.cameras.some((c) => c.name === cam.name)).length;
      if (readers > 0) rings.push(FrameRing.create(cam.name, cam.width, cam.height, readers));
    }
    const hosts = resolved.map((model, i) => new PrmWorkerHost({
      model,
      rings: model.cameras.map((c) => rings.find((r) => r.camera === c.name) as FrameRing),
      reader: i,
      logger: log.child(`prm:${model.name}`),
    }));
    let rnd: RndTerm | null = null;
    try {
      await Promise.all(hosts.map((h) => h.start()));
      if (cfg.rnd !== null) {
        if (o.observationDim === undefined) throw new StriatumError('STRIATUM_ERR_CONFIG', 'reward.rnd needs the observation size');
        rnd = await RndTerm.load(cfg.rnd, o.observationDim, o.resolvePath, log.child('rnd'));
      }
    } catch (err) {
      await Promise.all(hosts.map((h) => h.close()));
      throw err;
    }
    for (const h of hosts) log.info('reward model running', { model: h.model.name, kind: h.model.kind, provider: h.provider, batched: h.batched, rate_hz: h.model.rateHz });
    if (potentialModel(cfg) === null) log.info('no progress model: shaping is 0 and every step has a reward');
    if (successModel(cfg) !== null && potentialModel(cfg) === null) log.info('success model only: it sets done');
    return new RewardPipeline(o, rings, hosts.map((h) => new ModelSlot(h)), rnd);
  }

  get currentEpisode(): number {
    return this.episode;
  }

  /** The workers, for telemetry and tests. */
  get hosts(): readonly PrmWorkerHost[] {
    return this.slots.map((s) => s.host);
  }

  /** Start an episode. instruction is the task text for models that read text (unless goal_text is set). */
  beginEpisode(instruction = ''): void {
    this.episode++;
    this.open = true;
    for (const s of this.slots) {
      s.host.setEpisode(this.episode, instruction);
      // Drop answers still queued from the previous episode.
      while (s.host.takeUpdate() !== null);
    }
    // Without a progress model Φ is 0 throughout and every step has a reward.
    this.shaper.beginEpisode(this.potential === null ? 0 : Number.NaN);
    this.successDetector?.reset();
    this.successProbability = Number.NaN;
    this.lastAppliedStampMs = Number.NaN;
    this.valueCount = 0;
    this.episodeSteps = 0;
    this.episodeNoReward = 0;
    this.episodeReturn = 0;
    this.episodeUpdates = 0;
    const r = this.record;
    r.successProbability = Number.NaN;
    r.confidence = Number.NaN;
    r.doneProbability = Number.NaN;
    r.prmDelta = Number.NaN;
    r.prmStampMs = Number.NaN;
    r.prmAgeMs = Number.NaN;
    r.prmLatencyMs = Number.NaN;
    r.prmUpdate = 0;
  }

  /** Copy a camera frame into its ring if it is new (same stamp as the last one: skipped). Never waits. */
  onFrame(frame: CameraFrame): void {
    const cams = this.ringCameras;
    for (let i = 0; i < cams.length; i++) {
      if (cams[i] !== frame.camera) continue;
      const ring = this.rings[i];
      if (frame.width !== ring.width || frame.height !== ring.height) {
        this.misSizedFrames++;
        return;
      }
      if (ring.write(frame.rgb, frame.stampMs, this.episode) && this.lockstep) {
        const readers = this.ringReaders[i];
        for (let k = 0; k < readers.length; k++) {
          const slot = readers[k];
          if (this.lockstepMark[slot] < 0) this.lockstepMark[slot] = this.slots[slot].host.answered;
        }
      }
      return;
    }
  }

  /** onFrame() for the newest frame of every camera a model reads. */
  pollFrames(transport: Pick<RobotTransport, 'latestFrame'>): void {
    const cams = this.ringCameras;
    for (let i = 0; i < cams.length; i++) {
      const frame = transport.latestFrame(cams[i]);
      if (frame !== null) this.onFrame(frame);
    }
  }

  /** StepSink: the loop starts an episode. */
  onEpisodeStart(episode: EpisodeStart): void {
    this.beginEpisode(episode.instruction);
  }

  /** StepSink: the loop ended an episode; its reward summary is kept in `lastEpisode` for the episode reporter. */
  onEpisodeEnd(_summary: EpisodeSummary): void {
    this.lastEpisode = this.endEpisode();
  }

  /**
   * One control step s → s′ (the StepView the loop hands its sinks). With a frame source, its newest frames go to
   * the workers first. taskReward: the environment's reward for the step when known; NaN derives it from
   * step.done. Returns the shared record.
   */
  onStep(step: StepView, taskReward = Number.NaN): RewardPipelineStep {
    this.pollFrames(this.frames);
    if (!this.open) {
      this.implicitEpisodes++;
      this.beginEpisode('');
    }
    const now = performance.now();
    const out = this.record;
    if (this.success !== null) this.foldSuccess(this.success, now);
    if (this.potential !== null) this.foldPotential(this.potential, step, now);

    // r_task is the environment's own reward when a caller has one; success is paid as r_gold at the terminal.
    const task = Number.isNaN(taskReward) ? 0 : taskReward;
    const intrinsic = this.rnd === null ? 0 : this.rnd.step(step.observation);
    const end: StepEnd = step.done ? STEP_TERMINAL : step.truncated ? STEP_TRUNCATED : STEP_CONTINUES;
    const r = this.shaper.step(task, intrinsic, end);
    out.copyFrom(r);
    const successDone = this.successDetector !== null && this.successDetector.done;
    out.done = this.doneSource === DONE_FROM_PROGRESS ? r.done : this.doneSource === DONE_FROM_SUCCESS ? successDone : r.done || successDone;
    out.successProbability = this.successProbability;
    out.prmAgeMs = step.stampMs - out.prmStampMs;
    out.hackingAlarm = this.alarm.active;
    this.episodeSteps++;
    if (r.noReward) this.episodeNoReward++;
    this.episodeReturn += r.total;
    if (end !== STEP_CONTINUES) this.open = false;
    return out;
  }

  /**
   * Learning mode's success verdict (SuccessJudge), asked by the loop before it builds the step: the success
   * model's newest answers are folded in now (onStep then finds none left), and the done rule of
   * shaping.done_source answers. Allocation-free.
   */
  successVerdict(): boolean {
    if (this.success !== null) this.foldSuccess(this.success, performance.now());
    const successDone = this.successDetector !== null && this.successDetector.done;
    return this.doneSource === DONE_FROM_PROGRESS ? this.shaper.done : this.doneSource === DONE_FROM_SUCCESS ? successDone : this.shaper.done || successDone;
  }

  /** Close the episode (the loop's episode-end hook): VOC over its progress answers and the alarm state. */
  endEpisode(): EpisodeRewardSummary {
    this.open = false;
    const values = this.values.slice(0, this.valueCount);
    const voc = valueOrderCorrelation(values);
    this.lastEnded = { episode: this.episode, voc };
    let vroc: number | null = null;
    if (this.potential !== null && this.potential.host.memoryless) {
      // A memoryless model answers the reversed video with its answers reversed.
      vroc = reversedValueOrderCorrelation(values.slice().reverse());
    }
    return {
      episode: this.episode,
      steps: this.episodeSteps,
      updates: this.episodeUpdates,
      no_reward_steps: this.episodeNoReward,
      return: this.episodeReturn,
      final_progress: this.record.progress,
      voc,
      vroc,
      voc_f1: vroc === null ? null : vocF1(voc, vroc),
      hacking_alarm: { active: this.alarm.active, alarms: this.alarm.alarms, disagreements_in_window: this.alarm.inWindow },
    };
  }

  /**
   * VROC for a potential model with memory (pairwise integration, frame windows, start anchor, VIP): its worker
   * judges the frames it recorded in the episode just ended again, played backwards, and the answers are fused
   * over views as in the episode. Call it between episodes (await it before beginEpisode): it occupies the
   * model's worker, and a live episode's model state starts over after the pass. Null for memoryless models
   * (endEpisode() already gives their exact VROC), when no frames were kept (reversed_eval_frames 0), or when the
   * worker could not answer. Note: an incremental pairwise integrator starts the reversed video at Φ = 0 and can
   * only stay there (deltas are negative), so its VROC is 0 by construction; three_way fusion (whose forward
   * perspective does fall) or a progress head give an informative VROC.
   */
  async reversedPass(): Promise<ReversedPass | null> {
    const slot = this.potential;
    if (slot === null || slot.host.memoryless || this.lastEnded.episode === 0) return null;
    const { episode, voc } = this.lastEnded;
    const progress = await slot.host.requestReversed(episode);
    if (progress === null) return null;
    const views = slot.host.views;
    const frames = progress.length / views;
    const rule = slot.host.model.fusion === 'confidence' ? 'mean' : slot.host.model.fusion; // no confidences here
    const fusion = new ViewFusion(rule);
    const fused = new Float64Array(frames);
    for (let i = 0; i < frames; i++) fused[i] = fusion.fuse(progress.subarray(i * views, (i + 1) * views), progress, views);
    const vroc = reversedValueOrderCorrelation(fused);
    return { episode, frames, voc, vroc, voc_f1: vocF1(voc, vroc) };
  }

  /** Counters since the previous call (rates, latency quantiles) and totals. Allocates; call at telemetry rate. */
  telemetry(): RewardTelemetry {
    const now = performance.now();
    const intervalS = Math.max(1e-9, (now - this.intervalStartMs) / 1000);
    const models = this.slots.map((s, i) => {
      const h = s.host;
      const updatesPerS = (h.validUpdates - this.intervalUpdates[i]) / intervalS;
      this.intervalUpdates[i] = h.validUpdates;
      const latency = h.latency.summary();
      const age = s.age.summary();
      h.latency.reset();
      s.age.reset();
      return {
        name: h.model.name, kind: h.model.kind, state: h.state, provider: h.provider, batched: h.batched,
        // updates counts every update, answered or missing; updates_per_s only valid answers.
        updates: h.updates, valid_updates: h.validUpdates, updates_per_s: updatesPerS,
        latency_ms: { p50: latency.p50 / 1000, p99: latency.p99 / 1000, max: latency.max / 1000 },
        age_ms: { p50: age.p50 / 1000, p99: age.p99 / 1000 },
        errors: h.errors, timeouts: h.timeouts, nan_results: h.nanResults, crashes: h.crashes, restarts: h.restarts,
        hangs: h.hangs, late_results: h.lateResults, stale_results: s.staleResults, dropped_updates: h.droppedUpdates,
        dropped_views: s.progressFusion.droppedViews,
      };
    });
    this.intervalStartMs = now;
    const sh = this.shaper;
    return {
      interval_s: intervalS,
      models,
      steps: sh.steps,
      no_reward_steps: sh.noRewardSteps,
      gold_steps: sh.goldSteps,
      invalid_progress_answers: sh.invalidProgressAnswers,
      frames: this.rings.map((r) => ({ camera: r.camera, written: r.framesWritten, dropped: r.framesDropped })),
      mis_sized_frames: this.misSizedFrames,
      hacking_alarm: { active: this.alarm.active, alarms: this.alarm.alarms, claims: this.alarm.claims, disagreements: this.alarm.disagreementsTotal },
      rnd: this.rnd === null ? null : { runs: this.rnd.runs, errors: this.rnd.errors, latest: this.rnd.latest },
    };
  }

  /** Stop the workers (each finishes its current run) and release the RND session. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.host.close()));
    await this.rnd?.close();
  }

  // ── tick internals ─────────────────────────────────────────────────────────────────────────────────────

  private foldSuccess(slot: ModelSlot, now: number): void {
    const host = slot.host;
    host.poll(now);
    for (let u = host.takeUpdate(); u !== null; u = host.takeUpdate()) {
      if (u.episode !== this.episode) {
        slot.staleResults++;
        continue;
      }
      const p = slot.doneFusion.fuse(u.done, u.confidence, u.views);
      this.successProbability = p;
      (this.successDetector as SuccessDetector).observe(p);
    }
  }

  private foldPotential(slot: ModelSlot, step: StepView, now: number): void {
    const host = slot.host;
    host.poll(now);
    const out = this.record;
    for (let u = host.takeUpdate(); u !== null; u = host.takeUpdate()) {
      if (u.episode !== this.episode) {
        slot.staleResults++;
        continue;
      }
      if (u.status === UPDATE_OK) {
        const stamp = u.judgedStampMs;
        if (stamp <= this.lastAppliedStampMs) {
          slot.staleResults++;
          continue;
        }
        this.lastAppliedStampMs = stamp;
        out.prmStampMs = stamp;
        out.prmLatencyMs = u.latencyMs;
        slot.age.record((step.stampMs - stamp) * 1000);
      }
      out.prmUpdate = u.update;
      this.apply(slot, u, step);
    }
  }

  private apply(slot: ModelSlot, u: PrmUpdate, step: StepView): void {
    const progress = slot.progressFusion.fuse(u.progress, u.confidence, u.views);
    const r = this.record;
    r.confidence = slot.confidenceFusion.fuse(u.confidence, u.confidence, u.views);
    r.doneProbability = slot.doneFusion.fuse(u.done, u.confidence, u.views);
    r.prmDelta = slot.deltaFusion.fuse(u.delta, u.delta, u.views);
    this.shaper.observeProgress(progress);
    if (Number.isFinite(progress)) {
      this.episodeUpdates++;
      if (this.valueCount < EPISODE_VALUES) this.values[this.valueCount++] = progress;
    }
    // The success signal for the same moment: the success model's newest answer, else the environment's flag
    // (NaN on robots that cannot tell, which never counts as a disagreement).
    const signal = this.success !== null ? this.successProbability : Number.isFinite(step.progress) ? (step.done ? 1 : 0) : Number.NaN;
    this.alarm.update(progress, signal);
  }
}

export interface RewardTelemetry {
  readonly interval_s: number;
  readonly models: readonly {
    name: string; kind: string; state: string; provider: string; batched: boolean;
    updates: number; valid_updates: number; updates_per_s: number;
    latency_ms: { p50: number; p99: number; max: number }; age_ms: { p50: number; p99: number };
    errors: number; timeouts: number; nan_results: number; crashes: number; restarts: number; hangs: number;
    late_results: number; stale_results: number; dropped_updates: number; dropped_views: number;
  }[];
  readonly steps: number;
  readonly no_reward_steps: number;
  readonly gold_steps: number;
  readonly invalid_progress_answers: number;
  readonly frames: readonly { camera: string; written: number; dropped: number }[];
  readonly mis_sized_frames: number;
  readonly hacking_alarm: { active: boolean; alarms: number; claims: number; disagreements: number };
  readonly rnd: { runs: number; errors: number; latest: number } | null;
}
