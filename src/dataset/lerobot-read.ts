// Reading a LeRobot v3.0 dataset from disk, checked at the edge: info.json against its schema, every parquet file
// read whole by arrow-rs (parquet-wasm), every column's type against the dtype and shape info.json declares.
// Anything wrong is a STRIATUM_ERR_DATASET naming the file and the field.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as arrow from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm/node';
import { StriatumError } from '../errors.js';
import { formatIssues } from '../util/validation.js';
import {
  LEROBOT_CODEBASE_VERSION, LeRobotInfoSchema, isColumnFeature, lerobotPath, type LeRobotFeature, type LeRobotInfo,
} from './lerobot-format.js';

export function datasetError(dir: string, file: string, message: string, details: readonly string[] = []): StriatumError {
  return new StriatumError('STRIATUM_ERR_DATASET', `${join(dir, file)}: ${message}`, details);
}

export function readInfo(dir: string): LeRobotInfo {
  const file = 'meta/info.json';
  if (!existsSync(join(dir, file))) throw datasetError(dir, file, 'missing (not a LeRobot v3 dataset, or its export did not finish)');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch (err) {
    throw datasetError(dir, file, `not JSON: ${(err as Error).message}`);
  }
  const version = (raw as { codebase_version?: unknown } | null)?.codebase_version;
  if (version !== LEROBOT_CODEBASE_VERSION) throw datasetError(dir, file, `codebase_version is ${JSON.stringify(version)}; this reads ${LEROBOT_CODEBASE_VERSION} (convert older datasets with LeRobot's converter first)`);
  const parsed = LeRobotInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues);
    throw datasetError(dir, file, lines[0] ?? 'invalid', lines.slice(1));
  }
  return parsed.data;
}

/** A parquet file read whole; truncated or damaged files are refused with the file named. */
export function readTable(dir: string, file: string): arrow.Table {
  const path = join(dir, file);
  if (!existsSync(path)) throw datasetError(dir, file, 'missing');
  try {
    return arrow.tableFromIPC(parquetWasm.readParquet(new Uint8Array(readFileSync(path))).intoIPCStream());
  } catch (err) {
    throw datasetError(dir, file, `not a readable parquet file (truncated?): ${String((err as Error).message ?? err)}`);
  }
}

const ARROW_TYPE: Record<string, readonly string[]> = {
  float32: ['Float32'], float64: ['Float64'], int64: ['Int64'], int32: ['Int32'], uint8: ['Uint8'], bool: ['Bool'],
  string: ['Utf8', 'LargeUtf8'],
};

/** The Arrow types a feature may be stored as: a scalar, or a fixed-size (or plain) list of the feature's length. */
export function acceptedTypes(f: LeRobotFeature): string[] {
  const base = ARROW_TYPE[f.dtype] ?? [];
  if (f.shape.length === 1 && f.shape[0] === 1) return [...base];
  if (f.shape.length === 1) return base.flatMap((t) => [`FixedSizeList[${f.shape[0]}]<${t}>`, `List<${t}>`]);
  return [];
}

/** Check a table's column against the feature; returns the column. */
export function featureColumn(dir: string, file: string, table: arrow.Table, key: string, f: LeRobotFeature): arrow.Vector {
  const v = table.getChild(key);
  if (v === null) throw datasetError(dir, file, `no column "${key}" (meta/info.json lists feature ${key})`);
  const accepted = acceptedTypes(f);
  if (accepted.length === 0) throw datasetError(dir, 'meta/info.json', `features.${key}: dtype ${f.dtype} with shape [${f.shape.join(', ')}] is not supported`);
  const type = String(v.type);
  if (!accepted.includes(type)) throw datasetError(dir, file, `column "${key}" is ${type}; meta/info.json features.${key} says ${f.dtype} [${f.shape.join(', ')}] (${accepted[0]})`);
  if (v.nullCount > 0) throw datasetError(dir, file, `column "${key}" has ${v.nullCount} missing values`);
  return v;
}

/** The values of a vector column, row-major in one array of the column's element type. */
export function flatValues(dir: string, file: string, key: string, v: arrow.Vector, width: number): ArrayLike<unknown> {
  if (width === 1) {
    const t = String(v.type);
    return t === 'Bool' || t === 'Utf8' || t === 'LargeUtf8' ? Array.from(v as Iterable<unknown>) : v.toArray() as ArrayLike<unknown>;
  }
  const rows = v.length;
  const first = rows > 0 ? v.get(0)?.toArray() as ArrayLike<number> & { constructor: new (n: number) => Float32Array } : new Float32Array(0);
  const out = new (first.constructor as new (n: number) => Float32Array)(rows * width);
  for (let i = 0; i < rows; i++) {
    const row = v.get(i)?.toArray() as Float32Array;
    if (row.length !== width) throw datasetError(dir, file, `column "${key}" row ${i} has ${row.length} values; meta/info.json says ${width}`);
    out.set(row, i * width);
  }
  return out;
}

/** Every parquet file under meta/episodes, in chunk/file order. */
export function episodeFiles(dir: string): string[] {
  const root = join(dir, 'meta/episodes');
  if (!existsSync(root)) throw datasetError(dir, 'meta/episodes', 'missing');
  const out: string[] = [];
  for (const chunk of readdirSync(root).filter((n) => /^chunk-\d+$/.test(n)).sort()) {
    for (const f of readdirSync(join(root, chunk)).filter((n) => /^file-\d+\.parquet$/.test(n)).sort()) out.push(relative(dir, join(root, chunk, f)));
  }
  if (out.length === 0) throw datasetError(dir, 'meta/episodes', 'holds no parquet file');
  return out;
}

export function dataFile(info: LeRobotInfo, chunk: number, file: number): string {
  return lerobotPath(info.data_path, chunk, file);
}

/** The features stored in the data files (not videos or images). */
export function columnFeatures(info: LeRobotInfo): [string, LeRobotFeature][] {
  return Object.entries(info.features).filter(([, f]) => isColumnFeature(f));
}
