// File-system checks for config preflight: can a folder be made where a setting points?
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Why a directory cannot be created (or written) at path, or null when it can. */
export function unwritableDir(path: string): string | null {
  let dir = resolve(path);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return `${path}: no existing parent folder`;
      dir = parent;
      continue;
    }
    if (!isDir) return `${dir} is not a folder, so ${path} cannot be created`;
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
      return null;
    } catch {
      return `${dir} is not writable, so ${path} cannot be ${dir === resolve(path) ? 'written' : 'created'}`;
    }
  }
}
