// The reward reporter: a StepSink after the reward pipeline. It publishes the step's reward for dashboards at
// most every 100 ms (QoS 0) and raises the reward-hacking alarm once, when the pipeline's alarm turns on.
import { CONTRACT_VERSION, type EventMessage, type RewardMessage } from '../contracts/messages.js';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import type { Logger } from '../log.js';
import type { RewardPipelineStep } from './reward-pipeline.js';

/** Per-step reward messages are capped at this period (QoS 0, for dashboards). */
export const REWARD_PUBLISH_PERIOD_MS = 100;

/** Where reward messages and alarm events go (the robot's MQTT link). */
export interface RewardOutlet {
  publishReward(msg: RewardMessage): void;
  publishEvent(e: Pick<EventMessage, 'kind' | 'code' | 'message'>): void;
}

/** The outlet of a robot with no MQTT link: the alarm is still logged. */
export const NO_REWARD_OUTLET: RewardOutlet = { publishReward: () => {}, publishEvent: () => {} };

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class RewardReporter implements StepSink {
  /** One message object, refilled for every publish (the link serializes it at once). */
  private readonly message: { -readonly [K in keyof RewardMessage]: RewardMessage[K] };
  private lastPublishMs = 0;
  private alarmRaised = false;

  constructor(
    private readonly record: RewardPipelineStep,
    private readonly outlet: RewardOutlet,
    robotId: string,
    private readonly log: Logger,
  ) {
    this.message = {
      v: CONTRACT_VERSION, robot: robotId, episode: 0, step: 0, progress: null, shaping: 0, gold: 0, total: 0,
      success_probability: null, prm_age_ms: null, no_reward: false, done: false,
    };
  }

  onEpisodeStart(_episode: EpisodeStart): void {}

  onEpisodeEnd(_summary: EpisodeSummary): void {}

  onStep(s: StepView): void {
    const r = this.record;
    if (s.stampMs - this.lastPublishMs >= REWARD_PUBLISH_PERIOD_MS) {
      this.lastPublishMs = s.stampMs;
      const m = this.message;
      m.episode = s.episode;
      m.step = s.step;
      m.progress = finiteOrNull(r.nextPotential);
      m.shaping = r.shaping;
      m.gold = r.gold;
      m.total = r.total;
      m.success_probability = finiteOrNull(r.successProbability);
      m.prm_age_ms = finiteOrNull(r.prmAgeMs);
      m.no_reward = r.noReward;
      m.done = r.done;
      this.outlet.publishReward(m);
    }
    if (r.hackingAlarm !== this.alarmRaised) {
      this.alarmRaised = r.hackingAlarm;
      if (this.alarmRaised) {
        this.log.warn('reward-hacking alarm: the PRM claims success the success signal does not confirm', { episode: s.episode, step: s.step });
        this.outlet.publishEvent({ kind: 'reward', code: 'reward_hacking_alarm', message: `episode ${s.episode}: PRM success claims contradicted by the success signal` });
      }
    }
  }
}
