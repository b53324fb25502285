// The log line a person reads after each episode: what was asked, how it went, and the running success rate.
import type { EpisodeSummary } from '../control/step.js';
import type { EpisodeRewardSummary } from '../reward/reward-pipeline.js';

/** Episodes finished (by the policy: success, failure, timeout), succeeded, and aborted (pause, e-stop, fault) so far. */
export interface EpisodeTally {
  finished: number;
  succeeded: number;
  aborted: number;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Fields for JSON logs and one readable line, e.g. `episode 12 success 'push …' 212 steps 4.2 s … — 7/12 succeeded (58%)`. */
export function episodeLine(summary: Pick<EpisodeSummary, 'episode' | 'outcome' | 'instruction' | 'steps' | 'duration_s' | 'final_progress' | 'end_reason'> & { readonly ground_truth?: EpisodeSummary['ground_truth'] }, reward: EpisodeRewardSummary | null, tally: EpisodeTally): { fields: Record<string, unknown>; readable: string } {
  const rate = tally.finished > 0 ? tally.succeeded / tally.finished : 0;
  const fields: Record<string, unknown> = {
    episode: summary.episode, outcome: summary.outcome, instruction: summary.instruction,
    steps: summary.steps, duration_s: round(summary.duration_s, 3), progress: summary.final_progress === null ? null : round(summary.final_progress, 3),
    finished: tally.finished, succeeded: tally.succeeded, aborted: tally.aborted, success_rate: rate,
  };
  if (summary.end_reason !== null) fields.end_reason = summary.end_reason;
  let readable = `episode ${summary.episode} ${summary.outcome}`;
  if (summary.outcome === 'aborted' && typeof fields.end_reason === 'string') readable += ` (${fields.end_reason})`;
  if (summary.instruction !== '') readable += ` '${summary.instruction}'`;
  readable += ` ${summary.steps} steps ${summary.duration_s.toFixed(1)} s`;
  if (summary.final_progress !== null) readable += ` progress ${summary.final_progress.toFixed(2)}`;
  const truth = summary.ground_truth ?? null;
  if (truth !== null) {
    fields.ground_truth = truth;
    readable += ` (ground truth: ${truth.success ? 'success' : 'no success'})`;
  }
  if (reward !== null) {
    fields.return = round(reward.return, 4);
    fields.voc = Number.isFinite(reward.voc) ? round(reward.voc, 4) : null;
    fields.no_reward_steps = reward.no_reward_steps;
    readable += ` return ${reward.return.toFixed(2)}`;
    if (Number.isFinite(reward.voc)) readable += ` VOC ${reward.voc.toFixed(2)}`;
  }
  readable += ` — ${tally.succeeded}/${tally.finished} succeeded (${Math.round(rate * 100)}%)`;
  if (tally.aborted > 0) readable += `, ${tally.aborted} aborted (not counted)`;
  return { fields, readable };
}
