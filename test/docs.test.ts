import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configReferenceMarkdown } from '../src/config/reference.js';
import { REPO } from './helpers/fixtures.js';

test('docs/config-reference.md matches the config schema (run npm run docs after changing it)', () => {
  const onDisk = readFileSync(join(REPO, 'docs/config-reference.md'), 'utf8');
  assert.equal(onDisk, configReferenceMarkdown());
});

test('every top-level config section is in the reference', () => {
  const md = configReferenceMarkdown();
  for (const key of ['robot.id', 'joints[].name', 'control.rate_hz', 'observation.fields', 'action.mode', 'policy.model', 'transport (kind: sim)', 'mqtt.broker', 'episodes.count', 'rollout.chunk_steps']) {
    assert.ok(md.includes(key), key);
  }
});
