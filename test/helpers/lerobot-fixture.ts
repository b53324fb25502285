// A tiny LeRobot v3.0 dataset written by hand, following LeRobot's format and not Striatum's exporter: the
// tables are built with apache-arrow and written by arrow-rs (parquet-wasm), the way pyarrow writes LeRobot's
// own files (Arrow schema embedded, pandas index metadata on tasks.parquet). Shaped like a teleoperated SO-100
// arm recording: 4 joint positions in, 2 commands out, 2 episodes (5 and 3 frames) of two tasks, 10 fps.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm/node';

export const FIXTURE_STATE_NAMES = ['shoulder_pan.pos', 'shoulder_lift.pos', 'elbow_flex.pos', 'gripper.pos'];
export const FIXTURE_ACTION_NAMES = ['shoulder_pan.pos', 'gripper.pos'];
export const FIXTURE_LENGTHS = [5, 3];
export const FIXTURE_TASKS = ['pick up the cube', 'open the gripper'];
export const FIXTURE_FPS = 10;

/** observation.state of global frame i, value k: exact in float32. */
export const fixtureState = (i: number, k: number): number => i * 0.5 + k * 0.125 - 1;
export const fixtureAction = (i: number, k: number): number => -i * 0.25 + k;

export interface FixtureOptions {
  /** Write observation.state as float64 while info.json says float32 (a wrong dtype). */
  readonly float64State?: boolean;
  /** Leave the footer off the data file (a crash while writing). */
  readonly truncateData?: boolean;
  /** info.json without `features`. */
  readonly dropFeatures?: boolean;
}

function fixedList(values: Float32Array | Float64Array, width: number, double: boolean): arrow.Vector {
  const child = new arrow.Field('element', double ? new arrow.Float64() : new arrow.Float32(), true);
  const type = new arrow.FixedSizeList(width, child);
  const data = arrow.makeData({ type, length: values.length / width, nullCount: 0, child: arrow.makeData({ type: child.type, length: values.length, data: values } as never) } as never);
  return arrow.makeVector(data);
}

function writeParquet(path: string, table: arrow.Table): Uint8Array {
  mkdirSync(join(path, '..'), { recursive: true });
  const props = new parquetWasm.WriterPropertiesBuilder().setCompression(parquetWasm.Compression.SNAPPY).build();
  const bytes = parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props);
  writeFileSync(path, bytes);
  return bytes;
}

export function writeLeRobotFixture(dir: string, options: FixtureOptions = {}): void {
  const frames = FIXTURE_LENGTHS.reduce((a, b) => a + b, 0);
  const stateValues = Array.from({ length: frames * 4 }, (_, j) => fixtureState(Math.floor(j / 4), j % 4));
  const state = options.float64State === true ? Float64Array.from(stateValues) : Float32Array.from(stateValues);
  const action = Float32Array.from({ length: frames * 2 }, (_, j) => fixtureAction(Math.floor(j / 2), j % 2));
  const episode = BigInt64Array.from(FIXTURE_LENGTHS.flatMap((n, e) => Array.from({ length: n }, () => BigInt(e))));
  const frameIndex = BigInt64Array.from(FIXTURE_LENGTHS.flatMap((n) => Array.from({ length: n }, (_, i) => BigInt(i))));
  const data = new arrow.Table({
    'observation.state': fixedList(state, 4, options.float64State === true),
    action: fixedList(action, 2, false),
    'next.reward': arrow.makeVector(Float32Array.from({ length: frames }, (_, i) => (i === 4 ? 1 : 0))),
    timestamp: arrow.makeVector(Float32Array.from(frameIndex, (f) => Number(f) / FIXTURE_FPS)),
    frame_index: arrow.makeVector(frameIndex),
    episode_index: arrow.makeVector(episode),
    index: arrow.makeVector(BigInt64Array.from({ length: frames }, (_, i) => BigInt(i))),
    task_index: arrow.makeVector(BigInt64Array.from(episode)),
  });
  const bytes = writeParquet(join(dir, 'data/chunk-000/file-000.parquet'), data);
  if (options.truncateData === true) writeFileSync(join(dir, 'data/chunk-000/file-000.parquet'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));

  const tasks = new arrow.Table({
    task_index: arrow.makeVector(BigInt64Array.from([0n, 1n])),
    task: arrow.vectorFromArray(FIXTURE_TASKS, new arrow.Utf8()),
  });
  tasks.schema.metadata.set('pandas', JSON.stringify({
    index_columns: ['task'], column_indexes: [],
    columns: [
      { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
      { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
    ],
  }));
  writeParquet(join(dir, 'meta/tasks.parquet'), tasks);

  let from = 0;
  const bounds = FIXTURE_LENGTHS.map((n) => { const b = [from, from + n]; from += n; return b; });
  const episodes = new arrow.Table({
    episode_index: arrow.makeVector(BigInt64Array.from([0n, 1n])),
    tasks: arrow.vectorFromArray(FIXTURE_TASKS.map((t) => [t]), new arrow.List(new arrow.Field('element', new arrow.Utf8(), true))),
    length: arrow.makeVector(BigInt64Array.from(FIXTURE_LENGTHS, BigInt)),
    'data/chunk_index': arrow.makeVector(BigInt64Array.from([0n, 0n])),
    'data/file_index': arrow.makeVector(BigInt64Array.from([0n, 0n])),
    dataset_from_index: arrow.makeVector(BigInt64Array.from(bounds, (b) => BigInt(b[0]))),
    dataset_to_index: arrow.makeVector(BigInt64Array.from(bounds, (b) => BigInt(b[1]))),
    'meta/episodes/chunk_index': arrow.makeVector(BigInt64Array.from([0n, 0n])),
    'meta/episodes/file_index': arrow.makeVector(BigInt64Array.from([0n, 0n])),
  });
  writeParquet(join(dir, 'meta/episodes/chunk-000/file-000.parquet'), episodes);

  const scalar = (dtype: string) => ({ dtype, shape: [1], names: null });
  const info = {
    codebase_version: 'v3.0', robot_type: 'so100_follower', total_episodes: 2, total_frames: frames, total_tasks: 2,
    chunks_size: 1000, data_files_size_in_mb: 100, video_files_size_in_mb: 200, fps: FIXTURE_FPS, splits: { train: '0:2' },
    data_path: 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
    video_path: 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4',
    features: {
      'observation.state': { dtype: 'float32', shape: [4], names: FIXTURE_STATE_NAMES },
      action: { dtype: 'float32', shape: [2], names: FIXTURE_ACTION_NAMES },
      'next.reward': scalar('float32'),
      timestamp: scalar('float32'), frame_index: scalar('int64'), episode_index: scalar('int64'), index: scalar('int64'), task_index: scalar('int64'),
    } as Record<string, unknown> | undefined,
  };
  if (options.dropFeatures === true) delete info.features;
  mkdirSync(join(dir, 'meta'), { recursive: true });
  writeFileSync(join(dir, 'meta/info.json'), `${JSON.stringify(info, null, 4)}\n`);
  writeFileSync(join(dir, 'meta/stats.json'), '{}\n');
}
