// Whole files or none: a file is written under a temporary name, flushed to disk, then renamed into place, and
// the folder entry is flushed too. A crash in the middle leaves every file written before it whole, and no file
// of which only the head exists (LeRobot's own writer loses datasets that way: a parquet file without footer).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Suffix of a file still being written; a folder left with one after a crash is cleaned up by --force. */
export const PARTIAL_SUFFIX = '.partial';

export function writeFileAtomic(path: string, parts: Uint8Array | readonly Uint8Array[]): number {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}${PARTIAL_SUFFIX}`);
  let bytes = 0;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (const p of (parts instanceof Uint8Array ? [parts] : parts)) {
      let off = 0;
      while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
      bytes += p.byteLength;
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  syncDir(dir);
  return bytes;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
