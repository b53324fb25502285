// Output folders of the commands that write files (record, updater export): never write over earlier results
// silently. A folder that holds anything is refused unless --force; with --force, the files this command
// writes are removed first, so no file of an earlier run is left beside the new ones.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StriatumError } from '../errors.js';

/** Refuse a non-empty folder unless `force`; call before the work starts, so a refusal costs nothing. */
export function checkOutDir(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new StriatumError('STRIATUM_ERR_OUTPUT_EXISTS', `--out ${dir} is a file, not a folder`);
  const entries = readdirSync(dir);
  if (entries.length > 0 && !force) {
    throw new StriatumError('STRIATUM_ERR_OUTPUT_EXISTS', `--out ${dir} already holds ${entries.length} file(s) (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); choose a new folder, or add --force to write over it`);
  }
}

/** Create the folder; with `force`, first remove the files of a previous run that `isOwnFile` recognizes. */
export function prepareOutDir(dir: string, force: boolean, isOwnFile: (name: string) => boolean): void {
  mkdirSync(dir, { recursive: true });
  if (!force) return;
  for (const name of readdirSync(dir)) if (isOwnFile(name)) rmSync(join(dir, name), { force: true });
}
