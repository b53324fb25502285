// Two independent parquet readers for the dataset tests: hyparquet (JavaScript) and parquet-wasm (arrow-rs,
// the Rust implementation, compiled to WebAssembly). A file both read the same way is not a private dialect of
// the writer.
import { readFileSync } from 'node:fs';
import * as arrow from 'apache-arrow';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import * as parquetWasm from 'parquet-wasm/node';

export interface ArrowRead {
  readonly table: arrow.Table;
  /** `name: Type` per column, as arrow-rs resolved it (e.g. `FixedSizeList[6]<Float32>`). */
  readonly schema: string[];
  readonly metadata: Map<string, string>;
}

function buf(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Read with parquet-wasm (arrow-rs). */
export function readWithArrowRs(path: string): ArrowRead {
  const table = arrow.tableFromIPC(parquetWasm.readParquet(new Uint8Array(readFileSync(path))).intoIPCStream());
  return { table, schema: table.schema.fields.map((f) => `${f.name}: ${String(f.type)}`), metadata: table.schema.metadata };
}

export interface HyparquetRead {
  readonly rows: Record<string, unknown>[];
  /** The parquet schema as `name type/converted/repetition` lines, depth-first. */
  readonly schema: string[];
  readonly rowGroups: number[];
  readonly codecs: string[];
  readonly metadata: Record<string, string>;
}

/** Read with hyparquet (JavaScript). */
export async function readWithHyparquet(path: string): Promise<HyparquetRead> {
  const file = buf(path);
  const meta = parquetMetadata(file);
  const schema: string[] = [];
  const walk = (node: ReturnType<typeof parquetSchema>, depth: number): void => {
    const e = node.element;
    if (depth > 0) schema.push(`${'  '.repeat(depth - 1)}${e.name} ${[e.repetition_type, e.type, e.converted_type].filter((x) => x !== undefined).join(' ')}`);
    for (const c of node.children) walk(c, depth + 1);
  };
  walk(parquetSchema(meta), 0);
  const rows = await parquetReadObjects({ file }) as Record<string, unknown>[];
  return {
    rows, schema,
    rowGroups: meta.row_groups.map((g) => Number(g.num_rows)),
    codecs: [...new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec ?? '?')))],
    metadata: Object.fromEntries((meta.key_value_metadata ?? []).map((kv) => [kv.key, kv.value ?? ''])),
  };
}
