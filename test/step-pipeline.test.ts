// The step pipeline: the loop hands every step and episode to a fixed array of sinks, in order; the reward
// reporter, the episode reporter and the rollback tracker are sinks of their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EpisodeMessage, EventMessage, RewardMessage } from '../src/contracts/messages.js';
import { EpisodeMessageSchema, RewardMessageSchema } from '../src/contracts/messages.js';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../src/control/step.js';
import { createLogger, silentLogger } from '../src/log.js';
import { RollbackTracker } from '../src/policy/policy-manager.js';
import { RewardPipelineStep, type EpisodeRewardSummary } from '../src/reward/reward-pipeline.js';
import { RewardReporter } from '../src/reward/reward-reporter.js';
import { EpisodeReporter } from '../src/runtime/episode-reporter.js';
import { tempDir, writeLinearPolicy } from './helpers/fixtures.js';
import { simLoop } from './helpers/loop-harness.js';

/** Writes what it saw into a shared journal; `mark` is what a later sink should read back for the same step. */
class JournalSink implements StepSink {
  mark = -1;
  constructor(private readonly name: string, private readonly journal: string[], private readonly before: JournalSink | null) {}
  onEpisodeStart(e: EpisodeStart): void { this.journal.push(`${this.name} start ${e.episode} ${e.policy_version}`); }
  onStep(s: StepView): void {
    this.mark = s.step;
    // A later sink reads what the earlier one wrote for this very step.
    if (this.before !== null && this.before.mark !== s.step) this.journal.push(`${this.name} saw a stale mark`);
    if (s.step < 2) this.journal.push(`${this.name} step ${s.episode}/${s.step}`);
  }
  onEpisodeEnd(e: EpisodeSummary): void { this.journal.push(`${this.name} end ${e.episode} ${e.outcome} ${e.steps}`); }
}

test('the loop calls its sinks in order for every episode start, step and end', async () => {
  const journal: string[] = [];
  const first = new JournalSink('a', journal, null);
  const second = new JournalSink('b', journal, first);
  const { loop, transport, policy } = await simLoop(writeLinearPolicy(tempDir()), { episodes: 2, sinks: [first, second] });
  await loop.run();
  await transport.close();
  const v = policy.version;
  const ends = journal.filter((l) => l.includes(' end '));
  assert.equal(ends.length, 4);
  const steps0 = Number(ends[0].split(' ')[4]);
  const steps1 = Number(ends[2].split(' ')[4]);
  assert.ok(steps0 > 2 && steps1 > 2, 'both episodes ran steps');
  assert.deepEqual(journal, [
    `a start 0 ${v}`, `b start 0 ${v}`,
    'a step 0/0', 'b step 0/0', 'a step 0/1', 'b step 0/1',
    `a end 0 timeout ${steps0}`, `b end 0 timeout ${steps0}`,
    `a start 1 ${v}`, `b start 1 ${v}`,
    'a step 1/0', 'b step 1/0', 'a step 1/1', 'b step 1/1',
    `a end 1 timeout ${steps1}`, `b end 1 timeout ${steps1}`,
  ]);
  assert.ok(!journal.some((l) => l.includes('stale')), 'a later sink sees what an earlier one wrote for the same step');
});

function stepAt(stampMs: number, step: number): StepView {
  return { episode: 3, step, stampMs, observation: new Float64Array(1), action: new Float64Array(1), command: new Float64Array(1), progress: Number.NaN, done: false, truncated: false };
}

test('the reward reporter publishes at most every 100 ms and raises the hacking alarm once per rise', () => {
  const rewards: RewardMessage[] = [];
  const events: Pick<EventMessage, 'kind' | 'code' | 'message'>[] = [];
  const record = new RewardPipelineStep();
  record.nextPotential = Number.NaN;
  const reporter = new RewardReporter(record, { publishReward: (m) => rewards.push(RewardMessageSchema.parse({ ...m })), publishEvent: (e) => events.push(e) }, 'r1', silentLogger);
  for (let i = 0; i < 50; i++) { // 50 steps at 50 Hz: 1 s
    record.total = i;
    record.hackingAlarm = i >= 10 && i < 20 || i >= 30;
    reporter.onStep(stepAt(1000 + i * 20, i));
  }
  assert.deepEqual(rewards.map((m) => m.step), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
  assert.deepEqual(rewards.map((m) => m.total), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
  assert.equal(rewards[0].progress, null, 'NaN progress goes out as null');
  assert.deepEqual(events.map((e) => e.code), ['reward_hacking_alarm', 'reward_hacking_alarm']);
});

const end = (episode: number, outcome: EpisodeSummary['outcome']): EpisodeSummary => ({
  episode, seed: episode, instruction: 'push', policy_version: 'v1', steps: 10, duration_s: 0.2, outcome,
  success: outcome === 'success', final_progress: 0.5, end_reason: outcome === 'aborted' ? 'paused: pause via MQTT' : null, ground_truth: null,
});

test('the episode reporter publishes start and end with the reward summary, and counts aborted episodes apart', () => {
  const sent: EpisodeMessage[] = [];
  const lines: string[] = [];
  const log = createLogger({ sink: { pretty: false, write: (l) => { lines.push(l); } } });
  const rewards: { lastEpisode: EpisodeRewardSummary | null } = { lastEpisode: null };
  const reporter = new EpisodeReporter('r1', { publishEpisode: (m) => sent.push(EpisodeMessageSchema.parse(m)) }, rewards, log);
  reporter.onEpisodeStart({ episode: 0, seed: 0, instruction: 'push', policy_version: 'v1' });
  rewards.lastEpisode = {
    episode: 1, steps: 10, updates: 4, no_reward_steps: 1, return: 2.5, final_progress: Number.NaN, voc: 0.9, vroc: null, voc_f1: null,
    hacking_alarm: { active: false, alarms: 0, disagreements_in_window: 0 },
  };
  reporter.onEpisodeEnd(end(0, 'success'));
  reporter.onEpisodeEnd(end(1, 'aborted'));
  assert.deepEqual(sent.map((m) => [m.event, m.episode, m.policy_version, m.outcome ?? null]), [['start', 0, 'v1', null], ['end', 0, 'v1', 'success'], ['end', 1, 'v1', 'aborted']]);
  assert.equal(sent[1].reward?.return, 2.5);
  assert.equal(sent[1].reward?.final_progress, null);
  assert.equal(sent[2].end_reason, 'paused: pause via MQTT');
  assert.deepEqual(reporter.tally, { finished: 1, succeeded: 1, aborted: 1 });
  assert.equal(lines.length, 2);
  assert.match(JSON.parse(lines[1]).msg, /episode finished/);
});

test('the rollback tracker passes finished episodes to the policy manager, never aborted ones', () => {
  const seen: boolean[] = [];
  const tracker = new RollbackTracker();
  tracker.onEpisodeEnd(end(0, 'failure')); // nothing attached yet: dropped
  tracker.attach({ onEpisodeEnd: (success) => { seen.push(success); } });
  for (const outcome of ['success', 'aborted', 'failure', 'timeout', 'aborted', 'success'] as const) tracker.onEpisodeEnd(end(1, outcome));
  assert.deepEqual(seen, [true, false, false, true]);
});
