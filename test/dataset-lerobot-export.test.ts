import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REWARD_COMPONENTS } from '../src/contracts/rollout.js';
import { updaterCommand } from '../src/cli/cmd-updater.js';
import { silentLogger } from '../src/log.js';
import { exportLeRobot } from '../src/dataset/lerobot-export.js';
import { RolloutStore } from '../src/updater/store.js';
import {
  CAMERA, CAMERA_LENGTHS, DATASET_ACT, DATASET_FPS, DATASET_OBS, cameraLevel, fillCameraStore, fillDatasetStore, type StoredEpisode,
} from './helpers/dataset-store.js';
import { requireFfmpeg } from './helpers/required-tools.js';
import { tempDir } from './helpers/fixtures.js';
import { readWithArrowRs, readWithHyparquet } from './helpers/parquet-readers.js';

// The schemas LeRobot v3.0 gives these columns, written out by hand from its format (features → HF `datasets`
// → Arrow): 1-D features as fixed-size lists of float32, shape-(1,) features as scalars, the five default
// columns last, int64 indices, float32 timestamps.
const EXPECTED_DATA_ARROW = [
  'observation.state: FixedSizeList[6]<Float32>',
  'action: FixedSizeList[2]<Float32>',
  'next.reward: Float32',
  'next.done: Bool',
  'striatum.policy_action: FixedSizeList[2]<Float32>',
  'striatum.progress: Float32',
  ...REWARD_COMPONENTS.map((k) => `striatum.reward.${k}: Float32`),
  'striatum.intervention: Bool',
  'striatum.flags: Uint8',
  'striatum.step: Int32',
  'striatum.stamp_ms: Float64',
  'striatum.policy_version: Utf8',
  'timestamp: Float32',
  'frame_index: Int64',
  'episode_index: Int64',
  'index: Int64',
  'task_index: Int64',
];

/** The same columns as parquet declares them: the standard 3-level LIST for the vectors. */
const LIST_F32 = (name: string) => [`${name} OPTIONAL LIST`, '  list REPEATED', '    element OPTIONAL FLOAT'];
const EXPECTED_DATA_PARQUET = [
  ...LIST_F32('observation.state'),
  ...LIST_F32('action'),
  'next.reward OPTIONAL FLOAT',
  'next.done OPTIONAL BOOLEAN',
  ...LIST_F32('striatum.policy_action'),
  'striatum.progress OPTIONAL FLOAT',
  ...REWARD_COMPONENTS.map((k) => `striatum.reward.${k} OPTIONAL FLOAT`),
  'striatum.intervention OPTIONAL BOOLEAN',
  'striatum.flags OPTIONAL INT32 UINT_8',
  'striatum.step OPTIONAL INT32',
  'striatum.stamp_ms OPTIONAL DOUBLE',
  'striatum.policy_version OPTIONAL BYTE_ARRAY UTF8',
  'timestamp OPTIONAL FLOAT',
  'frame_index OPTIONAL INT64',
  'episode_index OPTIONAL INT64',
  'index OPTIONAL INT64',
  'task_index OPTIONAL INT64',
];

const EXPECTED_EPISODE_COLUMNS_HEAD = [
  'episode_index: Int64', 'tasks: List<Utf8>', 'length: Int64', 'data/chunk_index: Int64', 'data/file_index: Int64',
  'dataset_from_index: Int64', 'dataset_to_index: Int64',
];
const STATS = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'];

function bits(a: ArrayLike<number>, type: 'f32' | 'f64' = 'f32'): Buffer {
  const t = type === 'f32' ? Float32Array.from(a) : Float64Array.from(a);
  return Buffer.from(t.buffer);
}

function storeHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function exportTo(store: string, out: string, extra: string[] = []): Promise<number> {
  return updaterCommand.run(['export', '--format', 'lerobot', '--store', store, '--out', out, ...extra], silentLogger);
}

async function setup(): Promise<{ dir: string; store: string; episodes: StoredEpisode[] }> {
  const dir = tempDir('striatum-lerobot-');
  const store = join(dir, 'store.db');
  return { dir, store, episodes: await fillDatasetStore(store) };
}

test('lerobot export: data files read by hyparquet and by arrow-rs have LeRobot v3 schemas and every stored value, bit for bit', async () => {
  const { dir, store, episodes } = await setup();
  const out = join(dir, 'ds');
  assert.equal(await exportTo(store, out), 0);
  const path = join(out, 'data/chunk-000/file-000.parquet');
  const arrowRead = readWithArrowRs(path);
  const hyp = await readWithHyparquet(path);
  assert.deepEqual(arrowRead.schema, EXPECTED_DATA_ARROW, 'arrow-rs resolves the LeRobot column types');
  assert.deepEqual(hyp.schema, EXPECTED_DATA_PARQUET, 'parquet schema');
  assert.deepEqual(hyp.codecs, ['SNAPPY']);
  assert.deepEqual(hyp.rowGroups, episodes.map((e) => e.columns.step.length), 'one row group per episode');

  const total = episodes.reduce((s, e) => s + e.columns.step.length, 0);
  assert.equal(arrowRead.table.numRows, total);
  assert.equal(hyp.rows.length, total);
  const col = (name: string): unknown[] => arrowRead.table.getChild(name)?.toArray() as unknown[];
  const listRows = (name: string): number[] => {
    const v = arrowRead.table.getChild(name);
    const out: number[] = [];
    for (let i = 0; i < (v?.length ?? 0); i++) out.push(...(v?.get(i).toArray() as Float32Array));
    return out;
  };
  const hypList = (name: string): number[] => hyp.rows.flatMap((r) => r[name] as number[]);
  const hypCol = (name: string): unknown[] => hyp.rows.map((r) => r[name]);
  const cat = (pick: (e: StoredEpisode) => ArrayLike<number>): number[] => episodes.flatMap((e) => Array.from(pick(e)));

  for (const [name, expected] of [
    ['observation.state', cat((e) => e.columns.observation)], ['action', cat((e) => e.columns.command)],
    ['striatum.policy_action', cat((e) => e.columns.action)],
  ] as const) {
    assert.ok(bits(listRows(name)).equals(bits(expected)), `${name} (arrow-rs)`);
    assert.ok(bits(hypList(name)).equals(bits(expected)), `${name} (hyparquet)`);
  }
  for (const [name, expected] of [
    ['next.reward', cat((e) => e.columns.reward.total)], ['striatum.progress', cat((e) => e.columns.progress)],
    ...REWARD_COMPONENTS.map((k) => [`striatum.reward.${k}`, cat((e) => e.columns.reward[k])] as const),
  ] as const) {
    assert.ok(bits(Array.from(col(name) as number[])).equals(bits(expected)), `${name} (arrow-rs)`);
    assert.ok(bits(hypCol(name) as number[]).equals(bits(expected)), `${name} (hyparquet)`);
  }
  assert.ok(bits(Array.from(col('striatum.stamp_ms') as number[]), 'f64').equals(bits(cat((e) => e.columns.stampMs), 'f64')));
  assert.deepEqual(Array.from(col('striatum.flags') as number[]), cat((e) => e.columns.flags));
  assert.deepEqual(hypCol('striatum.flags'), cat((e) => e.columns.flags));
  assert.deepEqual(Array.from(col('striatum.step') as number[]), cat((e) => e.columns.step));
  assert.deepEqual(hypCol('striatum.policy_version'), episodes.flatMap((e) => e.policyVersions));
  assert.deepEqual(Array.from(col('striatum.policy_version') as string[]), episodes.flatMap((e) => e.policyVersions));
  assert.deepEqual(hypCol('striatum.intervention'), cat((e) => e.columns.flags).map((f) => (f & 8) !== 0));
  // next.done: the environment's done/truncation, and every episode's last frame (episode 2 is partial).
  const done = episodes.flatMap((e) => Array.from(e.columns.flags, (f, i) => (f & 3) !== 0 || i === e.columns.flags.length - 1));
  assert.deepEqual(hypCol('next.done'), done);
  assert.deepEqual(Array.from(col('next.done') as boolean[], Boolean), done);

  // The LeRobot bookkeeping columns.
  const expectEpisode = episodes.flatMap((e, i) => e.columns.step.length === 0 ? [] : Array.from(e.columns.step, () => BigInt(i)));
  assert.deepEqual(hypCol('episode_index'), expectEpisode);
  assert.deepEqual(Array.from(col('index') as bigint[]), Array.from({ length: total }, (_, i) => BigInt(i)));
  assert.deepEqual(hypCol('frame_index'), episodes.flatMap((e) => Array.from(e.columns.step, (_, i) => BigInt(i))));
  assert.deepEqual(hypCol('task_index'), episodes.map((e) => (e.task === 'push' ? 0n : 1n)).flatMap((t, i) => Array.from(episodes[i].columns.step, () => t)));
  const ts = hypCol('timestamp') as number[];
  assert.ok(bits(ts).equals(bits(episodes.flatMap((e) => Array.from(e.columns.step, (_, i) => i / DATASET_FPS)))), 'timestamps on the fps grid');

  // HF datasets reads the features from the huggingface metadata: fixed-length Sequences.
  const hf = JSON.parse(hyp.metadata.huggingface) as { info: { features: Record<string, unknown> } };
  assert.deepEqual(hf.info.features['observation.state'], { feature: { dtype: 'float32', _type: 'Value' }, length: DATASET_OBS, _type: 'Sequence' });
  assert.deepEqual(hf.info.features.index, { dtype: 'int64', _type: 'Value' });
});

test('lerobot export: info.json, stats.json, tasks.parquet (pandas index) and the episodes table are what LeRobot reads', async () => {
  const { dir, store, episodes } = await setup();
  const out = join(dir, 'ds');
  assert.equal(await exportTo(store, out, ['--complete']), 0);
  const kept = episodes.filter((e) => e.complete);
  const frames = kept.reduce((s, e) => s + e.columns.step.length, 0);

  const info = JSON.parse(readFileSync(join(out, 'meta/info.json'), 'utf8')) as Record<string, unknown> & { features: Record<string, { dtype: string; shape: number[]; names: unknown }> };
  assert.equal(info.codebase_version, 'v3.0');
  assert.equal(info.fps, DATASET_FPS, 'fps measured from the step stamps');
  assert.equal(info.total_episodes, kept.length);
  assert.equal(info.total_frames, frames);
  assert.equal(info.total_tasks, 2);
  assert.equal(info.chunks_size, 1000);
  assert.equal(info.robot_type, 'arm-1');
  assert.deepEqual(info.splits, { train: `0:${kept.length}` });
  assert.equal(info.data_path, 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet');
  assert.equal(info.video_path, null);
  assert.deepEqual(info.features['observation.state'], {
    dtype: 'float32', shape: [DATASET_OBS], names: ['joint_positions[0]', 'joint_positions[1]', 'block[0]', 'block[1]', 'block[2]', 'gripper'],
  });
  assert.deepEqual(info.features.action, { dtype: 'float32', shape: [DATASET_ACT], names: ['x', 'y'] });
  assert.deepEqual(info.features.timestamp, { dtype: 'float32', shape: [1], names: null });
  assert.deepEqual(info.features.episode_index, { dtype: 'int64', shape: [1], names: null });
  assert.deepEqual(Object.keys(info.features), EXPECTED_DATA_ARROW.map((s) => s.split(': ')[0]));

  const stats = JSON.parse(readFileSync(join(out, 'meta/stats.json'), 'utf8')) as Record<string, Record<string, number[]>>;
  assert.deepEqual(Object.keys(stats.action), STATS);
  assert.equal(stats['striatum.policy_version'], undefined, 'no statistics of text');
  assert.deepEqual(stats.index.count, [frames]);
  assert.deepEqual([stats.index.min[0], stats.index.max[0]], [0, frames - 1]);
  const obs0 = kept.flatMap((e) => Array.from({ length: e.columns.step.length }, (_, i) => e.columns.observation[i * DATASET_OBS + 3]));
  assert.ok(Math.abs(stats['observation.state'].mean[3] - obs0.reduce((a, b) => a + b, 0) / obs0.length) < 1e-9, 'dataset mean = mean over every frame');
  assert.equal(stats['observation.state'].max[1], 3.4028234663852886e38);
  assert.ok(stats['next.reward'].mean.every(Number.isFinite), 'steps without reward are left out, not NaN');

  for (const read of [readWithArrowRs(join(out, 'meta/tasks.parquet'))]) {
    assert.deepEqual(read.schema, ['task_index: Int64', 'task: Utf8']);
    assert.deepEqual(Array.from(read.table.getChild('task')?.toArray() as string[]), ['push the block onto the pad', 'stack']);
    const pandas = JSON.parse(read.metadata.get('pandas') as string) as { index_columns: string[]; columns: { name: string }[] };
    assert.deepEqual(pandas.index_columns, ['task'], 'the task text is the pandas index');
  }
  const tasksHyp = await readWithHyparquet(join(out, 'meta/tasks.parquet'));
  assert.deepEqual(tasksHyp.rows, [{ task_index: 0n, task: 'push the block onto the pad' }, { task_index: 1n, task: 'stack' }]);
  assert.deepEqual(JSON.parse(tasksHyp.metadata.pandas).index_columns, ['task']);

  const epPath = join(out, 'meta/episodes/chunk-000/file-000.parquet');
  const ep = readWithArrowRs(epPath);
  assert.deepEqual(ep.schema.slice(0, EXPECTED_EPISODE_COLUMNS_HEAD.length), EXPECTED_EPISODE_COLUMNS_HEAD);
  for (const s of STATS) assert.ok(ep.schema.includes(`stats/action/${s}: List<${s === 'count' ? 'Int64' : 'Float64'}>`), `stats/action/${s}`);
  assert.ok(ep.schema.includes('meta/episodes/chunk_index: Int64') && ep.schema.includes('meta/episodes/file_index: Int64'));
  const epRows = (await readWithHyparquet(epPath)).rows;
  let from = 0;
  epRows.forEach((r, i) => {
    const n = kept[i].columns.step.length;
    assert.equal(r.episode_index, BigInt(i));
    assert.deepEqual(r.tasks, [kept[i].instruction || kept[i].task]);
    assert.deepEqual([r.length, r.dataset_from_index, r.dataset_to_index], [BigInt(n), BigInt(from), BigInt(from + n)]);
    assert.deepEqual([r['data/chunk_index'], r['data/file_index']], [0n, 0n]);
    assert.equal(r['striatum/episode'], kept[i].episode);
    assert.equal(r['striatum/outcome'], kept[i].outcome);
    from += n;
  });
});

test('lerobot export: a non-empty folder is refused unless --force; the store is never changed; a crash leaves no info.json', async () => {
  const { dir, store } = await setup();
  const before = storeHash(store);
  const out = join(dir, 'ds');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  await assert.rejects(exportTo(store, out), { code: 'STRIATUM_ERR_OUTPUT_EXISTS' } as never);
  assert.deepEqual(readdirSync(out), ['notes.txt']);
  // A half-written file of an interrupted export (what a crash leaves) is cleared by --force; the user's file stays.
  mkdirSync(join(out, 'data/chunk-000'), { recursive: true });
  writeFileSync(join(out, 'data/chunk-000/.file-000.parquet.123.partial'), 'PAR1 half');
  assert.equal(await exportTo(store, out, ['--force']), 0);
  assert.deepEqual(readdirSync(out).sort(), ['data', 'meta', 'notes.txt']);
  assert.deepEqual(readdirSync(join(out, 'data/chunk-000')), ['file-000.parquet'], 'no temporary file is left');
  assert.equal(storeHash(store), before, 'export only reads the store');
  await assert.rejects(exportTo(join(dir, 'missing.db'), join(dir, 'ds2')), { code: 'STRIATUM_ERR_IO' } as never);
  await assert.rejects(exportTo(store, join(dir, 'ds3'), ['--robot', 'arm-9']), { code: 'STRIATUM_ERR_USAGE' } as never);
  assert.equal(existsSync(join(dir, 'ds3', 'meta', 'info.json')), false);
  // Several data files: episodes never split, each file its own row groups, the episodes table points at them.
  const small = join(dir, 'ds4');
  const ro = RolloutStore.openExisting(store);
  const r = exportLeRobot(ro, small, { fps: 25, dataFileBytes: 3000 });
  ro.close();
  assert.equal(r.fps, 25);
  const dataFiles = readdirSync(join(small, 'data/chunk-000')).sort();
  assert.ok(dataFiles.length > 1, `several data files: ${dataFiles.join(', ')}`);
  const epRows = (await readWithHyparquet(join(small, 'meta/episodes/chunk-000/file-000.parquet'))).rows;
  for (const f of dataFiles) {
    const index = BigInt(Number(/file-(\d+)/.exec(f)?.[1]));
    const inFile = epRows.filter((e) => e['data/file_index'] === index);
    const read = await readWithHyparquet(join(small, 'data/chunk-000', f));
    assert.deepEqual(read.rowGroups, inFile.map((e) => Number(e.length)), `${f}: one row group per episode it holds`);
    assert.equal(read.rows[0].index, inFile[0].dataset_from_index);
  }
});

test('lerobot export: camera frames become an MP4 per camera that ffprobe counts one frame per row of, each row showing its newest frame', async () => {
  const { ffmpeg, ffprobe } = requireFfmpeg();
  const dir = tempDir('striatum-lerobot-video-');
  const store = join(dir, 'store.db');
  const shown = await fillCameraStore(store);
  const out = join(dir, 'ds');
  assert.equal(await exportTo(store, out), 0);
  const frames = CAMERA_LENGTHS.reduce((a, b) => a + b, 0);
  const info = JSON.parse(readFileSync(join(out, 'meta/info.json'), 'utf8'));
  assert.equal(info.video_path, 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4');
  const feature = info.features['observation.images.top'];
  assert.deepEqual([feature.dtype, feature.shape, feature.names], ['video', [CAMERA.height, CAMERA.width, 3], ['height', 'width', 'channels']]);
  assert.equal(feature.info['video.fps'], DATASET_FPS);
  const video = join(out, 'videos/observation.images.top/chunk-000/file-000.mp4');
  const probe = spawnSync(ffprobe, ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height,codec_name', '-of', 'json', video], { encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  const stream = JSON.parse(probe.stdout).streams[0];
  assert.deepEqual([Number(stream.nb_read_frames), stream.width, stream.height, stream.codec_name], [frames, CAMERA.width, CAMERA.height, 'h264']);
  // Decoded, row r shows the grey level of the newest frame rendered at or before its step (lossy: within a few levels).
  const raw = spawnSync(ffmpeg, ['-v', 'error', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(raw.status, 0, String(raw.stderr));
  const size = CAMERA.width * CAMERA.height * 3;
  const expected = shown.flat().map(cameraLevel);
  expected.forEach((level, r) => {
    const px = raw.stdout.subarray(r * size, (r + 1) * size);
    const mean = px.reduce((a, b) => a + b, 0) / size;
    assert.ok(Math.abs(mean - level) < 4, `row ${r}: mean ${mean}, expected ${level}`);
  });
  const episodes = (await readWithHyparquet(join(out, 'meta/episodes/chunk-000/file-000.parquet'))).rows;
  assert.deepEqual(episodes.map((e) => [e['videos/observation.images.top/from_timestamp'], e['videos/observation.images.top/to_timestamp']]),
    [[0, CAMERA_LENGTHS[0] / DATASET_FPS], [CAMERA_LENGTHS[0] / DATASET_FPS, frames / DATASET_FPS]]);
  const stats = JSON.parse(readFileSync(join(out, 'meta/stats.json'), 'utf8'));
  assert.deepEqual(stats['observation.images.top'].count, [frames]);
  assert.equal(stats['observation.images.top'].mean.length, 3, 'per channel, shaped [3][1][1]');
});
