import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configReferenceMarkdown, updaterConfigReferenceMarkdown } from '../src/config/reference.js';
import { snapshotManifestJsonSchema } from '../src/contracts/snapshot-manifest.js';
import { REPO } from './helpers/fixtures.js';

test('docs/config-reference.md matches the config schema (run npm run docs after changing it)', () => {
  const onDisk = readFileSync(join(REPO, 'docs/config-reference.md'), 'utf8');
  assert.equal(onDisk, configReferenceMarkdown());
});

test('docs/updater-config-reference.md matches the updater config schema (run npm run docs after changing it)', () => {
  const onDisk = readFileSync(join(REPO, 'docs/updater-config-reference.md'), 'utf8');
  assert.equal(onDisk, updaterConfigReferenceMarkdown());
});

test('trainer/snapshot-manifest.schema.json matches src/contracts/snapshot-manifest.ts (run npm run docs after changing it)', () => {
  const onDisk = readFileSync(join(REPO, 'trainer/snapshot-manifest.schema.json'), 'utf8');
  assert.equal(onDisk, `${JSON.stringify(snapshotManifestJsonSchema(), null, 2)}\n`);
});

test('every top-level config section is in the reference', () => {
  const md = configReferenceMarkdown();
  for (const key of ['robot.id', 'joints[].name', 'control.rate_hz', 'observation.fields', 'action.mode', 'policy.model', 'transport (kind: sim)', 'mqtt.broker', 'episodes.count', 'rollout.chunk_steps']) {
    assert.ok(md.includes(key), key);
  }
});

test('the updater reference names the training and release settings, and which of them are required', () => {
  const md = updaterConfigReferenceMarkdown();
  const row = (key: string) => md.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  for (const key of ['broker.url', 'store.path', 'store.url', 'training.enabled', 'training.episodes_per_round', 'release.key', 'release.action_abs_max']) assert.ok(row(key), key);
  for (const key of ['training.base_policy_dir', 'training.out_dir', 'release.key']) assert.match(row(key) ?? '', /\| required \|/, key);
  // A store is required: store.path (SQLite) or store.url (PostgreSQL), exactly one.
  assert.match(md, /store\.path.*store\.url.*exactly one/);
});
