// The first of the two README commands starts with `npm install` on a fresh clone: the lock file must be the one
// npm installs from (no rewrite), npm must accept every setting in .npmrc without a warning, and onnxruntime-node's
// install script (a CUDA download from outside the npm registry) must stay off.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers/fixtures.js';

test('npm ci accepts package-lock.json as it is, and npm prints no warning about the project settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'striatum-install-'));
  try {
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(REPO, f), join(dir, f));
    const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, `npm ci refused the lock file:\n${r.stderr}`);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('npm warn'));
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('install scripts: native builds allowed, the onnxruntime-node CUDA download denied', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  assert.equal(pkg.allowScripts?.['better-sqlite3'], true);
  assert.equal(pkg.allowScripts?.['@serialport/bindings-cpp'], true);
});
