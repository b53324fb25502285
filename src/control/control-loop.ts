// The control loop: read state → observation → policy → safety filter → write command, at a fixed rate on
// absolute deadlines. Everything the tick touches is allocated in the constructor; the tick allocates nothing
// itself (the policy runs synchronously on tensors made once; bench/policy-step counts the GCs that remain).
import type { Logger } from '../log.js';
import type { ActionSource } from '../policy/action-source.js';
import {
  TRANSPORT_EPISODE_RUNNING, TRANSPORT_EPISODE_SUCCESS, TRANSPORT_EPISODE_TIMEOUT,
  type JointCommand, type JointState, type RobotTransport,
} from '../transports/types.js';
import { LatencyHistogram } from '../util/histogram.js';
import { Exploration, NO_EXPLORATION, type ExplorationSettings } from './exploration.js';
import { ObservationBuilder, type ObservationField } from './observation.js';
import { SafetyFilter, type SafetyLimits } from './safety.js';
import { TickAccounting, type LoopClock } from './scheduler.js';
import { ControlStateMachine, type ControlEvent } from './state-machine.js';
import {
  END_REASON_MAX, type ControlState, type EpisodeOutcome, type EpisodeStart, type EpisodeSummary, type GroundTruth, type StepSink, type StepView,
  type SuccessJudge,
} from './step.js';

export type FaultCode = 'nan_action' | 'link_loss' | 'deadline_storm' | 'policy_error' | 'transport_error';

type Distribution = ReturnType<LatencyHistogram['summary']>;

/** What the loop reports to telemetry: the interval's distributions and its running counters. */
export interface LoopStats {
  readonly state: ControlState;
  readonly intervalS: number;
  readonly periodError: Distribution;
  readonly compute: Distribution;
  readonly policy: Distribution;
  readonly ticks: number;
  readonly deadlineMisses: number;
  readonly skippedPeriods: number;
  readonly overruns: number;
  readonly faults: number;
  readonly safety: Pick<SafetyFilter, 'clampedPosition' | 'clampedVelocity' | 'clampedEffort' | 'clampedDelta' | 'nonfiniteActions'>;
  readonly episodeIndex: number;
  readonly episodeStep: number;
  /** NaN when the transport reports no progress. */
  readonly progress: number;
  readonly policyVersion: string;
  readonly sourceSwaps: number;
}

/** Outcome code of an episode the loop interrupted (pause, e-stop, fault); beside the transport's codes. */
const EPISODE_ABORTED = -1;

export interface ControlLoopOptions {
  readonly rateHz: number;
  readonly transport: RobotTransport;
  readonly source: ActionSource;
  readonly clock: LoopClock;
  readonly logger: Logger;
  readonly jointState: JointState;
  readonly observationFields: readonly ObservationField[];
  readonly limits: SafetyLimits;
  readonly mode: JointCommand['mode'];
  readonly stormWindow: number;
  readonly stormMaxMisses: number;
  readonly linkTimeoutMs: number;
  readonly episodeCount: number | null;
  readonly episodeSeed: number;
  /** Episode time limit for transports without episode control (hardware). */
  readonly timeLimitS: number;
  readonly autostart: boolean;
  /**
   * Learning mode: the success model's verdict ends episodes as successes; the transport's outcome and progress
   * (ground truth) go only into the summary's ground_truth, and the time limit is timeLimitS on the loop's clock.
   * null: the transport's outcome decides, as before.
   */
  readonly successJudge?: SuccessJudge | null;
  /** Called in this order after every step and at each episode's start and end (see step.ts). */
  readonly sinks: readonly StepSink[];
  readonly onTransition: ((from: ControlState, to: ControlState, reason: string) => void) | null;
  /**
   * Virtual time only: awaited between ticks when it returns a promise (the reward models answering the frames
   * of the last tick, so simulated time never outruns them); null: nothing to wait for.
   */
  readonly settle?: (() => Promise<void> | null) | null;
  /** Sampling from a stochastic policy in training episodes (default: off, the mean runs). */
  readonly exploration?: ExplorationSettings;
}

export class ControlLoop {
  readonly stateMachine = new ControlStateMachine();
  readonly accounting: TickAccounting;
  readonly safety: SafetyFilter;
  readonly exploration: Exploration;
  readonly periodError = new LatencyHistogram();
  readonly computeTime = new LatencyHistogram();
  readonly policyTime = new LatencyHistogram();
  faults = 0;
  lastFault: FaultCode | null = null;
  episodeIndex = 0;
  episodeStep = 0;
  /** Episodes ended, aborted ones included (they count toward the episode count). */
  episodesDone = 0;
  /** Episodes interrupted by a pause, e-stop or fault: ended as "aborted", never a success or a failure. */
  episodesAborted = 0;
  successes = 0;
  progress = Number.NaN;
  /** Policy swaps applied, and the tick count when the last one was applied (between two ticks). */
  sourceSwaps = 0;
  lastSwapTick = -1;

  private readonly o: ControlLoopOptions;
  private readonly sinks: readonly StepSink[];
  private readonly settle: (() => Promise<void> | null) | null;
  private readonly judge: SuccessJudge | null;
  private source: ActionSource;
  /** Set by requestSourceSwap(), taken at the start of the next tick; null almost always (one check per tick). */
  private pendingSource: ActionSource | null = null;
  private swapListener: ((previous: ActionSource, next: ActionSource) => void) | null = null;
  private readonly periodS: number;
  private readonly observation: Float64Array;
  private readonly action: Float64Array;
  private readonly command: JointCommand;
  private readonly hold: Float64Array;
  private readonly builder: ObservationBuilder;
  private readonly step: { -readonly [K in keyof StepView]: StepView[K] };
  private lastStateMs = 0;
  private episodeStartMs = 0;
  private stopping = false;
  private stopReason = '';
  private intervalStartMs = 0;
  /** Ticks since the current episode began (any state): an episode the policy has not run yet restarts if this is > 0. */
  private episodeTicks = 0;
  /** The policy has run at least one tick of the current episode (a step may not have been recorded: a fault). */
  private episodeRan = false;
  /** Set when the loop left `running` in the middle of an episode: the episode ends as aborted after this tick. */
  private interruptReason: string | null = null;
  /** Set on resume when the episode has no step yet but time passed since its reset: reset it again first. */
  private restartPending = false;

  constructor(options: ControlLoopOptions) {
    this.o = options;
    this.sinks = options.sinks.slice();
    this.judge = options.successJudge ?? null;
    this.source = options.source;
    this.periodS = 1 / options.rateHz;
    this.accounting = new TickAccounting(options.rateHz, options.stormWindow);
    this.safety = new SafetyFilter(options.limits, options.mode, this.periodS);
    this.builder = new ObservationBuilder(options.observationFields, options.jointState);
    const n = options.limits.positionMin.length;
    this.observation = new Float64Array(this.builder.dim);
    this.action = new Float64Array(n);
    this.hold = new Float64Array(n);
    this.command = { mode: options.mode, targets: new Float64Array(n) };
    this.exploration = new Exploration(options.exploration ?? NO_EXPLORATION, n, options.limits.velocityMax, this.periodS);
    this.settle = options.clock.realtime ? null : options.settle ?? null;
    this.step = {
      episode: 0, step: 0, stampMs: 0, observation: this.observation, action: this.action,
      actionMean: this.exploration.mean, logProb: Number.NaN,
      command: this.command.targets, progress: Number.NaN, done: false, truncated: false,
    };
    this.stateMachine.onTransition((t) => this.transitioned(t.from, t.to, t.event, t.reason));
  }

  get state(): ControlState {
    return this.stateMachine.state;
  }

  /** Commands from MQTT, signals and the CLI. Returns whether the state changed. */
  handleCommand(event: ControlEvent, reason: string): boolean {
    return this.stateMachine.handle(event, reason);
  }

  /** The action source the loop runs now. */
  get activeSource(): ActionSource {
    return this.source;
  }

  /**
   * Replace the action source between two ticks: applied at the start of the next tick. `next` must be loaded and
   * warmed up already, so the swap itself is a pointer change and a reset. A later request replaces a pending one.
   * The previous source is handed to the swap listener, which owns it (keeps it for rollback or closes it).
   */
  requestSourceSwap(next: ActionSource): void {
    this.pendingSource = next;
  }

  onSourceSwap(listener: (previous: ActionSource, next: ActionSource) => void): void {
    this.swapListener = listener;
  }

  private applySourceSwap(next: ActionSource): void {
    this.pendingSource = null;
    const previous = this.source;
    next.reset();
    this.source = next;
    this.sourceSwaps++;
    this.lastSwapTick = this.accounting.ticks;
    this.o.logger.info('policy swapped between ticks', { from: previous.version, to: next.version, tick: this.accounting.ticks });
    this.swapListener?.(previous, next);
  }

  /** Ask the loop to stop after the current tick; the robot ends in its safe state. */
  stop(reason: string): void {
    this.stopping = true;
    this.stopReason = reason;
  }

  /** Runs until stop() or the episode count is reached. Resolves with the reason it stopped. */
  async run(): Promise<string> {
    const { transport, clock, logger } = this.o;
    transport.readState(this.o.jointState);
    this.safety.reset(this.o.jointState.positions);
    this.safety.safeCommand(this.o.jointState.positions, this.hold);
    await this.startEpisode();
    if (this.o.autostart) this.stateMachine.handle('resume', 'autostart');
    this.accounting.start(clock.now());
    this.lastStateMs = clock.now();
    this.intervalStartMs = clock.now();
    logger.info('control loop started', { rate_hz: this.o.rateHz, realtime: clock.realtime, mode: this.o.mode });
    while (!this.stopping) {
      await clock.sleepUntil(this.accounting.nextDeadlineMs);
      if (this.stopping) break;
      if (this.restartPending) {
        await this.restartEpisode();
        continue;
      }
      await this.tick();
      if (this.settle !== null) {
        const pending = this.settle();
        if (pending !== null) await pending;
      }
      if (this.episodeEnded !== 0) await this.finishEpisode();
    }
    this.safety.safeCommand(this.o.jointState.positions, this.command.targets);
    transport.writeCommand(this.command);
    logger.info('control loop stopped', { reason: this.stopReason, ticks: this.accounting.ticks, deadline_misses: this.accounting.deadlineMisses });
    return this.stopReason;
  }

  /** 0 while the episode runs; else the transport outcome code that ended it. */
  private episodeEnded = 0;

  private async tick(): Promise<void> {
    const { clock, transport } = this.o;
    const state = this.o.jointState;
    const wake = clock.now();
    const t0 = performance.now();
    const lateUs = this.accounting.beginTick(wake);
    if (this.pendingSource !== null) this.applySourceSwap(this.pendingSource);

    if (transport.readState(state)) this.lastStateMs = wake;
    else if (wake - this.lastStateMs > this.o.linkTimeoutMs) this.fault('link_loss');

    const targets = this.command.targets;
    if (this.stateMachine.state === 'running') {
      this.episodeRan = true;
      this.builder.build(this.observation);
      try {
        const pending = this.source.act(this.observation, this.action);
        if (pending !== undefined) await pending;
        // Sampling comes before the safety filter: whatever is drawn, the robot only gets a filtered command.
        this.exploration.perturb(this.action, this.source.actionStd ?? null, state.positions);
        this.policyTime.record(this.source.lastStepUs);
        if (!this.safety.apply(this.action, state.positions, targets)) this.fault('nan_action');
      } catch (err) {
        this.o.logger.error('policy step failed', { error: String((err as Error).message ?? err) });
        this.fault('policy_error');
        targets.set(this.hold);
      }
    } else {
      targets.set(this.hold);
    }
    transport.writeCommand(this.command);

    const end = clock.now();
    this.accounting.endTick(end);
    // Compute time is always real time, also when the loop runs on a virtual clock.
    this.computeTime.record((performance.now() - t0) * 1000);
    this.periodError.record(lateUs);
    if (clock.realtime && this.accounting.stormCount > this.o.stormMaxMisses) this.fault('deadline_storm');

    if (transport.stepSimulation !== null) transport.stepSimulation(this.periodS);
    this.afterTick(end);
  }

  private afterTick(nowMs: number): void {
    const ep = this.o.transport.episodes;
    const running = this.stateMachine.state === 'running';
    if (running) this.episodeStep++;
    this.episodeTicks++;
    // Learning mode: the environment's progress is ground truth and stays out of the step (read at the episode end).
    if (ep !== null && this.judge === null) this.progress = ep.progress();
    // The episode's outcome is judged only while the policy runs: time spent paused or e-stopped is never charged
    // to it (an episode interrupted mid-way ends as aborted; one that has not started waits for the resume).
    let outcome = TRANSPORT_EPISODE_RUNNING as number;
    if (this.interruptReason !== null) outcome = EPISODE_ABORTED;
    else if (!running) outcome = TRANSPORT_EPISODE_RUNNING;
    else if (this.judge !== null) {
      if (this.judge.successVerdict()) outcome = TRANSPORT_EPISODE_SUCCESS;
      else if ((nowMs - this.episodeStartMs) / 1000 >= this.o.timeLimitS) outcome = TRANSPORT_EPISODE_TIMEOUT;
    } else if (ep !== null) outcome = ep.outcome();
    else if ((nowMs - this.episodeStartMs) / 1000 >= this.o.timeLimitS) outcome = TRANSPORT_EPISODE_TIMEOUT;
    if (running) {
      const s = this.step;
      s.episode = this.episodeIndex;
      s.step = this.episodeStep - 1;
      s.stampMs = nowMs;
      s.progress = this.progress;
      s.logProb = this.exploration.logProb;
      s.done = outcome === TRANSPORT_EPISODE_SUCCESS;
      s.truncated = outcome === TRANSPORT_EPISODE_TIMEOUT;
      // A plain loop over a fixed array: no closure, no check per sink.
      const sinks = this.sinks;
      for (let i = 0; i < sinks.length; i++) sinks[i].onStep(s);
    }
    this.episodeEnded = outcome;
  }

  private async startEpisode(): Promise<void> {
    await this.resetEpisode();
    this.exploration.beginEpisode(this.episodeIndex, this.o.episodeSeed + this.episodeIndex);
    const ep = this.o.transport.episodes;
    const start: EpisodeStart = {
      episode: this.episodeIndex, seed: this.o.episodeSeed + this.episodeIndex, instruction: ep !== null ? ep.instruction() : '',
      policy_version: this.source.version,
    };
    for (const sink of this.sinks) sink.onEpisodeStart(start);
  }

  /** Reset the transport's episode (same index and seed) and the episode clock; no step has run in it yet. */
  private async resetEpisode(): Promise<void> {
    // Cleared before the await: a pause arriving during the reset finds an episode with no step to abort.
    this.episodeStep = 0;
    this.episodeEnded = 0;
    this.episodeTicks = 0;
    this.episodeRan = false;
    this.interruptReason = null;
    this.restartPending = false;
    const ep = this.o.transport.episodes;
    const seed = this.o.episodeSeed + this.episodeIndex;
    if (ep !== null) await ep.reset(seed);
    this.o.transport.readState(this.o.jointState);
    this.source.reset();
    this.safety.reset(this.o.jointState.positions);
    this.episodeStartMs = this.o.clock.now();
    this.progress = ep !== null && this.judge === null ? ep.progress() : Number.NaN;
  }

  /**
   * Resumed into an episode that has run no step while time passed (the robot waited idle, paused or e-stopped):
   * it starts from a fresh reset, so the wait is not charged to it. Its start message was already sent.
   */
  private async restartEpisode(): Promise<void> {
    await this.resetEpisode();
    this.accounting.start(this.o.clock.now());
  }

  private summary(outcome: EpisodeOutcome): EpisodeSummary {
    const ep = this.o.transport.episodes;
    return {
      episode: this.episodeIndex,
      seed: this.o.episodeSeed + this.episodeIndex,
      instruction: ep !== null ? ep.instruction() : '',
      policy_version: this.source.version,
      steps: this.episodeStep,
      duration_s: (this.o.clock.now() - this.episodeStartMs) / 1000,
      outcome,
      success: outcome === 'success',
      final_progress: Number.isFinite(this.progress) ? this.progress : null,
      end_reason: outcome === 'aborted' ? this.interruptReason : null,
      ground_truth: this.groundTruth(),
    };
  }

  /** Learning mode: the environment's own verdict, for evaluation records only; null when it reports none. */
  private groundTruth(): GroundTruth | null {
    const ep = this.o.transport.episodes;
    if (this.judge === null || ep === null) return null;
    const progress = ep.progress();
    if (!Number.isFinite(progress)) return null;
    return { success: ep.outcome() === TRANSPORT_EPISODE_SUCCESS, final_progress: progress };
  }

  private async finishEpisode(): Promise<void> {
    const code = this.episodeEnded;
    const outcome: EpisodeOutcome = code === EPISODE_ABORTED ? 'aborted' : code === TRANSPORT_EPISODE_SUCCESS ? 'success' : code === TRANSPORT_EPISODE_TIMEOUT ? 'timeout' : 'failure';
    const summary = this.summary(outcome);
    this.episodesDone++;
    if (outcome === 'aborted') this.episodesAborted++;
    if (summary.success) this.successes++;
    // The readable per-episode line (with rewards and the running success rate) is the runtime's.
    this.o.logger.debug('episode ended', { episode: summary.episode, outcome, steps: summary.steps, progress: summary.final_progress, end_reason: summary.end_reason });
    for (const sink of this.sinks) sink.onEpisodeEnd(summary);
    if (this.o.episodeCount !== null && this.episodesDone >= this.o.episodeCount) {
      this.stop(`completed ${this.episodesDone} episodes`);
      return;
    }
    if (this.stopping) return; // e.g. a fault with no operator link to arm: no next episode to start
    this.episodeIndex++;
    await this.startEpisode();
    // A reset is not the loop's lateness: restart the deadline grid after it.
    this.accounting.start(this.o.clock.now());
  }

  private fault(code: FaultCode): void {
    if (this.stateMachine.state === 'estopped') return;
    this.faults++;
    this.lastFault = code;
    this.stateMachine.handle('fault', `fault: ${code}`);
  }

  private transitioned(from: ControlState, to: ControlState, event: ControlEvent, reason: string): void {
    const state = this.o.jointState;
    if (to !== 'running') this.safety.safeCommand(state.positions, this.hold);
    if (to === 'estopped') {
      this.o.transport.estop(reason);
      this.command.targets.set(this.hold);
      this.o.transport.writeCommand(this.command);
    }
    if (event === 'arm') {
      this.o.transport.arm().catch((err: unknown) => this.o.logger.error('transport refused arm', { error: String(err) }));
    }
    if (to === 'running') {
      this.safety.reset(state.positions);
      this.source.reset();
      if (!this.episodeRan && this.episodeTicks > 0) this.restartPending = true;
    } else if (from === 'running' && this.episodeRan && this.interruptReason === null) {
      // The policy's trajectory is broken here: the episode ends as aborted, and the resume starts a fresh one.
      this.interruptReason = `${to}: ${reason}`.slice(0, END_REASON_MAX);
    }
    const level = to === 'estopped' ? 'warn' : 'info';
    this.o.logger[level]('state transition', { from, to, reason });
    this.o.onTransition?.(from, to, reason);
  }

  /** Telemetry's view of the loop; takes the interval (resets the interval histograms). */
  stats(): LoopStats {
    const iv = this.takeInterval();
    const acc = this.accounting;
    return {
      state: this.state, intervalS: iv.intervalS, periodError: iv.periodError, compute: iv.compute, policy: iv.policy,
      ticks: acc.ticks, deadlineMisses: acc.deadlineMisses, skippedPeriods: acc.skippedPeriods, overruns: acc.overruns,
      faults: this.faults, safety: this.safety, episodeIndex: this.episodeIndex, episodeStep: this.episodeStep,
      progress: this.progress, policyVersion: this.source.version, sourceSwaps: this.sourceSwaps,
    };
  }

  /** Interval statistics for telemetry; resets the interval histograms. */
  takeInterval(): { intervalS: number; periodError: ReturnType<LatencyHistogram['summary']>; compute: ReturnType<LatencyHistogram['summary']>; policy: ReturnType<LatencyHistogram['summary']> } {
    const now = this.o.clock.now();
    const out = {
      intervalS: (now - this.intervalStartMs) / 1000,
      periodError: this.periodError.summary(),
      compute: this.computeTime.summary(),
      policy: this.policyTime.summary(),
    };
    this.periodError.reset();
    this.computeTime.reset();
    this.policyTime.reset();
    this.intervalStartMs = now;
    return out;
  }
}
