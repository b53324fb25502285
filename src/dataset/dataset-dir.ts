// The output folder of a dataset export: created, and with --force cleared of what an earlier export wrote
// (meta/, data/, videos/, and files a crash left half-written), nothing else.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PARTIAL_SUFFIX } from './atomic-file.js';

const DATASET_FOLDERS = ['meta', 'data', 'videos'];

export function prepareDatasetDir(dir: string, force: boolean): void {
  mkdirSync(dir, { recursive: true });
  if (!force) return;
  for (const name of readdirSync(dir)) {
    if (DATASET_FOLDERS.includes(name)) rmSync(join(dir, name), { recursive: true, force: true });
    else if (name.endsWith(PARTIAL_SUFFIX)) rmSync(join(dir, name), { force: true });
  }
}
