// One parquet file from typed columns, with the Arrow schema embedded (`ARROW:schema`), so pyarrow, arrow-rs and
// HF `datasets` read fixed-size lists as FixedSizeList rather than plain lists. hyparquet-writer writes the pages
// (snappy); this module owns the two schemas (parquet and Arrow) so they always describe the same columns.
import * as arrow from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { StriatumError } from '../errors.js';

export type ParquetValueType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool' | 'string';

/** A column of a parquet table: one value per row, or a list per row (fixed length n, or variable). */
export interface ParquetColumn {
  readonly name: string;
  readonly type: ParquetValueType;
  /** null: a scalar per row; a number: a fixed-size list of that length; 'variable': a list of any length. */
  readonly list: null | number | 'variable';
  /**
   * Scalars: one value per row (a typed array is fine; int64 as BigInt64Array or bigint[]).
   * Fixed-size lists: the values row-major in one flat typed array (rows × n).
   * Variable lists: one array per row.
   */
  readonly values: ArrayLike<unknown>;
}

export interface ParquetTableOptions {
  /** Rows per row group, in order (LeRobot: one row group per episode). Defaults to one group. */
  readonly rowGroups?: readonly number[];
  /** Extra key-value metadata (pandas, huggingface). */
  readonly metadata?: Readonly<Record<string, string>>;
}

const PARQUET_TYPE: Record<ParquetValueType, Record<string, unknown>> = {
  float32: { type: 'FLOAT' },
  float64: { type: 'DOUBLE' },
  int64: { type: 'INT64' },
  int32: { type: 'INT32' },
  uint8: { type: 'INT32', converted_type: 'UINT_8' },
  bool: { type: 'BOOLEAN' },
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
};

function arrowType(t: ParquetValueType): arrow.DataType {
  switch (t) {
    case 'float32': return new arrow.Float32();
    case 'float64': return new arrow.Float64();
    case 'int64': return new arrow.Int64();
    case 'int32': return new arrow.Int32();
    case 'uint8': return new arrow.Uint8();
    case 'bool': return new arrow.Bool();
    case 'string': return new arrow.Utf8();
  }
}

/** The Arrow field pyarrow would write for the column (nullable, list children named `element`). */
export function arrowField(c: ParquetColumn): arrow.Field {
  const value = arrowType(c.type);
  if (c.list === null) return new arrow.Field(c.name, value, true);
  const child = new arrow.Field('element', value, true);
  return new arrow.Field(c.name, c.list === 'variable' ? new arrow.List(child) : new arrow.FixedSizeList(c.list, child), true);
}

/** The `ARROW:schema` value: base64 of the encapsulated IPC schema message (continuation, length, flatbuffer). */
export function arrowSchemaMetadata(columns: readonly ParquetColumn[], metadata: Readonly<Record<string, string>> = {}): string {
  const schema = new arrow.Schema(columns.map(arrowField), new Map(Object.entries(metadata)));
  const ipc = arrow.tableToIPC(new arrow.Table(schema), 'stream');
  const length = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength).getInt32(4, true);
  return Buffer.from(ipc.subarray(0, 8 + length)).toString('base64');
}

function parquetSchema(columns: readonly ParquetColumn[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [{ name: 'schema', num_children: columns.length }];
  for (const c of columns) {
    if (c.list === null) {
      out.push({ name: c.name, repetition_type: 'OPTIONAL', ...PARQUET_TYPE[c.type] });
    } else {
      // The standard 3-level list: <name> (LIST) / list (repeated) / element.
      out.push({ name: c.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      out.push({ name: 'element', repetition_type: 'OPTIONAL', ...PARQUET_TYPE[c.type] });
    }
  }
  return out;
}

/** The values hyparquet-writer takes for a column: plain numbers, bigints, booleans, strings or per-row arrays. */
function rowsOf(c: ParquetColumn, rows: number): unknown[] {
  const v = c.values;
  const scalar = c.type === 'int64'
    ? (x: unknown): unknown => (typeof x === 'bigint' ? x : BigInt(x as number))
    : (x: unknown): unknown => x;
  if (c.list === null) {
    if (v.length !== rows) throw new StriatumError('STRIATUM_ERR_INTERNAL', `parquet column ${c.name}: ${v.length} values for ${rows} rows`);
    return Array.from(v, scalar);
  }
  if (c.list === 'variable') {
    if (v.length !== rows) throw new StriatumError('STRIATUM_ERR_INTERNAL', `parquet column ${c.name}: ${v.length} lists for ${rows} rows`);
    return Array.from(v as ArrayLike<ArrayLike<unknown>>, (row) => Array.from(row, scalar));
  }
  const n = c.list;
  if (v.length !== rows * n) throw new StriatumError('STRIATUM_ERR_INTERNAL', `parquet column ${c.name}: ${v.length} values for ${rows} rows of ${n}`);
  const out = new Array<unknown>(rows);
  const flat = v as ArrayLike<number> & { subarray?: (a: number, b: number) => ArrayLike<number> };
  for (let r = 0; r < rows; r++) {
    const row = new Array<unknown>(n);
    for (let k = 0; k < n; k++) row[k] = scalar(flat[r * n + k]);
    out[r] = row;
  }
  return out;
}

function rowCount(c: ParquetColumn): number {
  return typeof c.list === 'number' ? c.values.length / c.list : c.values.length;
}

/** Encode the table (snappy, Arrow schema embedded). */
export function encodeParquetTable(columns: readonly ParquetColumn[], options: ParquetTableOptions = {}): Uint8Array {
  if (columns.length === 0) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'a parquet table needs at least one column');
  const rows = rowCount(columns[0]);
  const groups = options.rowGroups ?? [rows];
  if (groups.reduce((a, b) => a + b, 0) !== rows) throw new StriatumError('STRIATUM_ERR_INTERNAL', `row groups [${groups.join(',')}] do not add up to ${rows} rows`);
  // pyarrow takes the schema's metadata (pandas, huggingface) from the Arrow schema, other readers from the file's
  // key-value metadata: it goes in both.
  const metadata = [{ key: 'ARROW:schema', value: arrowSchemaMetadata(columns, options.metadata) }];
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.push({ key, value });
  const buf = parquetWriteBuffer({
    columnData: columns.map((c) => ({
      name: c.name,
      data: rowsOf(c, rows),
      // Float statistics are left out: a NaN (a step without reward) makes min/max meaningless to readers.
      statistics: c.type !== 'float32' && c.type !== 'float64' && c.list === null,
      // Measured values seldom repeat: trying a dictionary for them costs time and saves nothing.
      ...(c.type === 'float32' || c.type === 'float64' ? { encoding: 'PLAIN' } : {}),
    })) as never,
    schema: parquetSchema(columns) as never,
    codec: 'SNAPPY',
    // An empty group list would be refused by the writer; zero rows means one empty group.
    rowGroupSize: groups.length === 0 || rows === 0 ? [Math.max(1, rows)] : [...groups],
    kvMetadata: metadata,
    createdBy: 'striatum',
  });
  return new Uint8Array(buf);
}
