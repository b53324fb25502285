// The training snapshot contract, read from the committed fixture that trainer/tests/test_snapshot_manifest.py
// reads too: the zod schema accepts its manifest, its .npy shapes agree with that manifest, and the JSON Schema the
// trainer validates with is the one `striatum schema snapshot-manifest` prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SnapshotManifestSchema, snapshotManifestJsonSchema } from '../src/contracts/snapshot-manifest.js';
import { readNpy } from '../src/util/npy.js';
import { CLI, REPO } from './helpers/fixtures.js';

const FIXTURE = join(REPO, 'test/fixtures/snapshot');
const fixtureManifest = (): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8'));

test('the fixture snapshot manifest matches the schema', () => {
  const parsed = SnapshotManifestSchema.safeParse(fixtureManifest());
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  assert.equal(parsed.data.episodes.length, 2);
});

test('the fixture .npy shapes and dtypes agree with its manifest', () => {
  const m = SnapshotManifestSchema.parse(fixtureManifest());
  const rows = m.episodes.reduce((s, e) => s + e.steps, 0);
  const obsDim = m.observation_fields.reduce((s, f) => s + f.size, 0);
  const expected: Record<string, [number[], string]> = {
    observations: [[rows, obsDim], 'Float32Array'], actions: [[rows, m.action.joints.length], 'Float32Array'],
    rewards: [[rows], 'Float32Array'], terminals: [[rows], 'Int32Array'], truncations: [[rows], 'Int32Array'], episode_index: [[rows], 'Int32Array'],
  };
  for (const [name, [shape, kind]] of Object.entries(expected)) {
    const npy = readNpy(join(FIXTURE, `${name}.npy`));
    assert.deepEqual(npy.shape, shape, name);
    assert.equal(npy.data.constructor.name, kind, name);
  }
  // Each episode is one contiguous run of its index, as long as the manifest says.
  const index = Array.from(readNpy(join(FIXTURE, 'episode_index.npy')).data);
  assert.deepEqual(index, m.episodes.flatMap((e) => Array<number>(e.steps).fill(e.index)));
});

test('a broken manifest is refused naming the field', () => {
  const broken = fixtureManifest();
  (broken.episodes as Record<string, unknown>[])[1].steps = 0;
  const parsed = SnapshotManifestSchema.safeParse(broken);
  assert.equal(parsed.success, false);
  assert.deepEqual(parsed.error?.issues[0].path, ['episodes', 1, 'steps']);
});

test('striatum schema snapshot-manifest prints the schema the trainer validates with', () => {
  const printed = JSON.parse(execFileSync(process.execPath, [CLI, 'schema', 'snapshot-manifest'], { encoding: 'utf8' }));
  assert.deepEqual(printed, snapshotManifestJsonSchema());
  assert.deepEqual(printed, JSON.parse(readFileSync(join(REPO, 'trainer/snapshot-manifest.schema.json'), 'utf8')));
});
