// `striatum updater` as a user types it: read-only subcommands never create a store, and export never writes
// over an earlier export silently.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { readNpy } from '../src/util/npy.js';
import { runCli, simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { ROLLOUT_TEST_RUN as RUN, rolloutTestChunk as chunkOf, ROLLOUT_TEST_TOPIC as ROLLOUT } from './helpers/rollout-chunks.js';

test('updater episodes and export with a mistyped --store fail with exit 7 and create nothing', async () => {
  const dir = tempDir();
  const typo = join(dir, 'data', 'episodes.sqlte');
  for (const args of [
    ['updater', 'episodes', '--store', typo],
    ['updater', 'export', '--store', typo, '--robot', 'arm-1', '--episode', 'x:1', '--out', join(dir, 'ep')],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 7, `${args[1]}: ${r.stderr}`);
    assert.match(r.stderr, /STRIATUM_ERR_IO/);
    assert.equal(r.stdout, '');
  }
  assert.equal(existsSync(typo), false, 'no store was created');
  assert.equal(existsSync(join(dir, 'data')), false, 'not even its folder');
});

test('updater episodes refuses a file that is not a rollout store, and leaves it unchanged', async () => {
  const dir = tempDir();
  const notes = join(dir, 'notes.txt');
  writeFileSync(notes, 'not a database');
  const r = await runCli(['updater', 'episodes', '--store', notes]);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(readFileSync(notes, 'utf8'), 'not a database');
});

test('updater merge with a missing --from fails instead of merging an empty store', async () => {
  const dir = tempDir();
  const r = await runCli(['updater', 'merge', '--store', join(dir, 'a.sqlite'), '--from', join(dir, 'b.sqlite')]);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(existsSync(join(dir, 'b.sqlite')), false);
});

test('updater export refuses an --out folder that holds files unless --force', async () => {
  const dir = tempDir();
  const path = join(dir, 's.sqlite');
  const store = new RolloutStore(path);
  await new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger }).handle(ROLLOUT, chunkOf(2, 0, 0, 8, 'success'));
  store.close();
  const out = join(dir, 'ep');
  mkdirSync(out);
  writeFileSync(join(out, 'meta.json'), '{"earlier": true}');
  const args = ['updater', 'export', '--store', path, '--robot', 'arm-1', '--episode', `${RUN}:2`, '--out', out];
  const refused = await runCli(args);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /STRIATUM_ERR_OUTPUT_EXISTS/);
  assert.equal(readFileSync(join(out, 'meta.json'), 'utf8'), '{"earlier": true}');
  const forced = await runCli([...args, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')).steps, 8);
});

test('updater export and record name the same arrays the same way (observations.npy, actions.npy: commands written)', async () => {
  const dir = tempDir();
  const path = join(dir, 's.sqlite');
  const store = new RolloutStore(path);
  await new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger }).handle(ROLLOUT, chunkOf(2, 0, 0, 8, 'success'));
  store.close();
  const exported = await runCli(['updater', 'export', '--store', path, '--robot', 'arm-1', '--episode', `${RUN}:2`, '--out', join(dir, 'ep')]);
  assert.equal(exported.code, 0, exported.stderr);
  const cfg = simConfig(writeLinearPolicy(dir));
  const recorded = await runCli(['record', '--config', writeConfig(dir, cfg), '--out', join(dir, 'rec'), '--episodes', '1', '--progress']);
  assert.equal(recorded.code, 0, recorded.stderr);

  const exportNames = new Set(readdirSync(join(dir, 'ep')));
  const recordNames = new Set(readdirSync(join(dir, 'rec')));
  for (const name of ['observations.npy', 'actions.npy', 'progress.npy', 'meta.json']) {
    assert.ok(exportNames.has(name) && recordNames.has(name), `${name} in both (export: ${[...exportNames]}; record: ${[...recordNames]})`);
  }
  // No array goes by a singular in one and a plural in the other.
  const stem = (name: string) => name.replace(/s?\.npy$/, '');
  const exportStems = new Map([...exportNames].map((n) => [stem(n), n]));
  for (const name of recordNames) {
    const twin = exportStems.get(stem(name));
    if (twin !== undefined) assert.equal(twin, name);
  }
  // The same column under the same name: the commands the robot wrote (the fixture's command column is 0.25).
  assert.ok(Array.from(readNpy(join(dir, 'ep', 'actions.npy')).data).every((v) => v === 0.25));
});
