// A bench's scratch directory: created under the system temp dir and removed when the process exits, so repeated
// runs do not fill /tmp with stores, models and binaries. STRIATUM_KEEP_BENCH_DIRS=1 keeps them for inspection.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];

export function benchTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (dirs.length === 0 && process.env.STRIATUM_KEEP_BENCH_DIRS !== '1') {
    process.once('exit', () => {
      for (const d of dirs) {
        try { rmSync(d, { recursive: true, force: true }); } catch { /* left behind; nothing else to do at exit */ }
      }
    });
  }
  dirs.push(dir);
  return dir;
}
