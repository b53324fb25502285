// The core types of a control step and an episode, and the StepSink every consumer of steps implements.
// Plain types with no imports: the loop produces them, sinks read them, and the MQTT and rollout wire formats
// in contracts/ are derived from them (never the other way round).

/** The loop's states. Faults and e-stop latch in `estopped` (see state-machine.ts). */
export const CONTROL_STATES = ['idle', 'running', 'paused', 'estopped'] as const;
export type ControlState = (typeof CONTROL_STATES)[number];

/** How an episode ended. `aborted`: a pause, e-stop or fault interrupted it; neither a success nor a failure. */
export const EPISODE_OUTCOMES = ['success', 'timeout', 'failure', 'aborted'] as const;
export type EpisodeOutcome = (typeof EPISODE_OUTCOMES)[number];

/** Longest `end_reason` kept (wire messages and rollout chunks carry it). */
export const END_REASON_MAX = 200;

/** A step as sinks see it. Arrays are the loop's own buffers, overwritten next tick: copy what must outlive the call. */
export interface StepView {
  readonly episode: number;
  readonly step: number;
  readonly stampMs: number;
  readonly observation: Float64Array;
  /** The policy's command before the safety filter (the sample, in a training episode of a stochastic policy). */
  readonly action: Float64Array;
  /** The policy's mean action (equal to `action` when nothing was sampled; the loop always sets it). */
  readonly actionMean?: Float64Array;
  /** log π(action | observation) of the sample, in command units; NaN when the mean ran (see exploration.ts). */
  readonly logProb?: number;
  /** The command written to the robot. */
  readonly command: Float64Array;
  readonly progress: number;
  readonly done: boolean;
  readonly truncated: boolean;
}

/** An episode about to run its first step (after the transport's reset). */
export interface EpisodeStart {
  readonly episode: number;
  readonly seed: number;
  /** The task text the transport gives this episode ('' when it has none). */
  readonly instruction: string;
  /** Version of the policy the loop runs (at the start; in a summary, at the end). */
  readonly policy_version: string;
}

/**
 * The environment's own verdict on an episode (the simulator's success flag and progress), kept beside the
 * learned verdict for evaluation in learning mode. Never an input to rewards, terminals or rollback.
 */
export interface GroundTruth {
  /** The environment reported success at some step of the episode. */
  readonly success: boolean;
  /** The environment's progress after the last step; null when it reports none. */
  readonly final_progress: number | null;
}

/** An episode that ended. */
export interface EpisodeSummary extends EpisodeStart {
  readonly steps: number;
  readonly duration_s: number;
  readonly outcome: EpisodeOutcome;
  readonly success: boolean;
  /** The transport's progress after the last step; null when it reports none. */
  readonly final_progress: number | null;
  /** Why an episode ended as "aborted" (the pause, e-stop or fault that interrupted it); null otherwise. */
  readonly end_reason: string | null;
  /**
   * Learning mode (episodes.success_signal: success_model): `outcome`/`success` are the success model's verdict
   * and this is the environment's, for evaluation only; null otherwise or when the environment reports nothing.
   */
  readonly ground_truth: GroundTruth | null;
}

/**
 * Learning mode's success signal: the success model's done rule, asked once per tick before the step is built.
 * The loop then ends an episode as a success only on this verdict, and at its own time limit otherwise.
 */
export interface SuccessJudge {
  successVerdict(): boolean;
}

/**
 * A consumer of the loop's steps (reward pipeline, recorder, reporters, rollback tracker, …). The runtime builds
 * a fixed array of sinks at start-up and the loop calls them in that order, after the command is written:
 * a sink may read what an earlier sink wrote for the same step. onStep runs on the hot path: it allocates
 * nothing and never waits.
 */
export interface StepSink {
  onEpisodeStart(episode: EpisodeStart): void;
  onStep(step: StepView): void;
  onEpisodeEnd(summary: EpisodeSummary): void;
}

/** Callbacks as a sink, for callers that want a hook rather than a class (CLI commands, tests, benches). */
export interface StepHooks {
  readonly onStep?: ((step: StepView) => void) | null;
  /** At start the summary has no steps yet: steps 0, duration 0, outcome `aborted`, success false. */
  readonly onEpisode?: ((summary: EpisodeSummary, event: 'start' | 'end') => void) | null;
}

const noStep = (_step: StepView): void => {};

/** Turns hooks into a sink, once, at start-up; a missing hook becomes a no-op, so the loop never checks. */
export class HookSink implements StepSink {
  readonly onStep: (step: StepView) => void;
  private readonly episodeHook: ((summary: EpisodeSummary, event: 'start' | 'end') => void) | null;

  constructor(hooks: StepHooks) {
    this.onStep = hooks.onStep ?? noStep;
    this.episodeHook = hooks.onEpisode ?? null;
  }

  onEpisodeStart(episode: EpisodeStart): void {
    if (this.episodeHook === null) return;
    this.episodeHook({
      episode: episode.episode, seed: episode.seed, instruction: episode.instruction, policy_version: episode.policy_version,
      steps: 0, duration_s: 0, outcome: 'aborted', success: false, final_progress: null, end_reason: null, ground_truth: null,
    }, 'start');
  }

  onEpisodeEnd(summary: EpisodeSummary): void {
    this.episodeHook?.(summary, 'end');
  }
}
