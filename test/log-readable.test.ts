// The readable lines a person sees on a terminal: the pretty format, the episode line, the model card's numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelCardEvaluation } from '../src/cli/start-up-hints.js';
import { createLogger } from '../src/log.js';
import { episodeLine } from '../src/runtime/episode-line.js';
import { REPO } from './helpers/fixtures.js';

function capture(pretty: boolean): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ sink: { pretty, write: (l) => { lines.push(l); } } }) };
}

const summary = { episode: 11, seed: 12, instruction: 'push the red block onto the green pad', steps: 212, duration_s: 4.24, outcome: 'success' as const, success: true, final_progress: 0.97, end_reason: null };

test('pretty format prints the readable line in place of the message and fields; JSON keeps the fields', () => {
  const line = episodeLine(summary, null, { finished: 12, succeeded: 7, aborted: 0 });
  const pretty = capture(true);
  pretty.logger.info('episode finished', line.fields, line.readable);
  assert.ok(pretty.lines[0].includes(line.readable));
  assert.ok(!pretty.lines[0].includes('success_rate='));
  const json = capture(false);
  json.logger.info('episode finished', line.fields, line.readable);
  const parsed = JSON.parse(json.lines[0]);
  assert.equal(parsed.msg, 'episode finished');
  assert.equal(parsed.succeeded, 7);
  assert.equal(parsed.finished, 12);
  assert.equal(parsed.instruction, summary.instruction);
});

test('the episode line reads: episode, outcome, instruction, steps, duration, progress, then the running rate', () => {
  const line = episodeLine(summary, null, { finished: 12, succeeded: 7, aborted: 0 });
  assert.equal(line.readable, "episode 11 success 'push the red block onto the green pad' 212 steps 4.2 s progress 0.97 — 7/12 succeeded (58%)");
  assert.equal(line.fields.success_rate, 7 / 12);
  assert.equal('voc' in line.fields, false, 'no VOC without reward models');
});

test('an aborted episode names why and is left out of the running success rate', () => {
  const aborted = { ...summary, outcome: 'aborted' as const, success: false, end_reason: 'estopped: estop via MQTT' };
  const line = episodeLine(aborted, null, { finished: 12, succeeded: 7, aborted: 1 });
  assert.equal(line.readable, "episode 11 aborted (estopped: estop via MQTT) 'push the red block onto the green pad' 212 steps 4.2 s progress 0.97 — 7/12 succeeded (58%), 1 aborted (not counted)");
  assert.equal(line.fields.aborted, 1);
  assert.equal(line.fields.success_rate, 7 / 12);
});

test('the shipped demo policy card reports its evaluation: 100 episodes, 50% success', () => {
  const card = readFileSync(join(REPO, 'models/push/policy.card.md'), 'utf8');
  assert.deepEqual(modelCardEvaluation(card), { episodes: 100, successRate: 0.5 });
  assert.equal(modelCardEvaluation('# no evaluation here\n'), null);
});
