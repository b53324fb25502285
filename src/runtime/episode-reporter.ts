// The episode reporter: a StepSink that tells people how episodes go. Each start and end goes out as an episode
// message (with the reward summary when PRMs run), and each end as one readable log line with the running tally.
import { CONTRACT_VERSION, type EpisodeMessage } from '../contracts/messages.js';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import type { Logger } from '../log.js';
import type { EpisodeRewardSummary } from '../reward/reward-pipeline.js';
import { episodeLine, type EpisodeTally } from './episode-line.js';

/** Where episode messages go (the robot's MQTT link). */
export interface EpisodeOutlet {
  publishEpisode(msg: EpisodeMessage): void;
}

/** The outlet of a robot with no MQTT link: the log line still tells the story. */
export const NO_EPISODE_OUTLET: EpisodeOutlet = { publishEpisode: () => {} };

/** The reward pipeline's summary of the episode it just closed (it is an earlier sink); null without PRMs. */
export interface EpisodeRewards {
  readonly lastEpisode: EpisodeRewardSummary | null;
}

export class EpisodeReporter implements StepSink {
  /** Episodes finished by the policy, succeeded, and aborted so far. */
  readonly tally: EpisodeTally = { finished: 0, succeeded: 0, aborted: 0 };

  constructor(
    private readonly robotId: string,
    private readonly outlet: EpisodeOutlet,
    private readonly rewards: EpisodeRewards | null,
    private readonly log: Logger,
  ) {}

  onEpisodeStart(e: EpisodeStart): void {
    this.outlet.publishEpisode({
      v: CONTRACT_VERSION, robot: this.robotId, event: 'start', episode: e.episode, seed: e.seed,
      instruction: e.instruction, policy_version: e.policy_version, stamp: new Date().toISOString(),
    });
  }

  onStep(_step: StepView): void {}

  onEpisodeEnd(s: EpisodeSummary): void {
    const r = this.rewards === null ? null : this.rewards.lastEpisode;
    const msg: EpisodeMessage = {
      v: CONTRACT_VERSION, robot: this.robotId, event: 'end', episode: s.episode, seed: s.seed,
      instruction: s.instruction, policy_version: s.policy_version, stamp: new Date().toISOString(),
      steps: s.steps, duration_s: s.duration_s, outcome: s.outcome, end_reason: s.end_reason, success: s.success, final_progress: s.final_progress,
      ground_truth: s.ground_truth,
    };
    if (r !== null) {
      msg.reward = {
        return: r.return, final_progress: Number.isFinite(r.final_progress) ? r.final_progress : null, voc: r.voc,
        vroc: r.vroc, voc_f1: r.voc_f1, updates: r.updates, no_reward_steps: r.no_reward_steps, hacking_alarm: r.hacking_alarm.active,
      };
    }
    this.outlet.publishEpisode(msg);
    // An aborted episode (pause, e-stop, fault) says nothing about the policy: not in the running success rate.
    const tally = this.tally;
    if (s.outcome === 'aborted') tally.aborted++;
    else {
      tally.finished++;
      if (s.success) tally.succeeded++;
    }
    const line = episodeLine(s, r, tally);
    this.log.info('episode finished', line.fields, line.readable);
  }
}
