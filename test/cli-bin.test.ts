// The `striatum` command as a fresh checkout gets it: `npm install` builds dist (prepare), the bin entry point
// runs on its own (shebang, executable bit), and every command in the README uses the form that works then.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers/fixtures.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const BIN = join(REPO, pkg.bin.striatum);

test('npm install builds dist: a prepare script runs the build', () => {
  assert.match(pkg.scripts.prepare ?? '', /npm run build/);
  assert.match(pkg.scripts.build, /chmod \+x dist\/src\/cli\/main\.js/, 'the build marks the bin executable');
});

test('the bin entry point starts with a node shebang and is executable', () => {
  assert.equal(pkg.bin.striatum, 'dist/src/cli/main.js');
  assert.ok(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
  assert.notEqual(statSync(BIN).mode & 0o111, 0, `${pkg.bin.striatum} has no executable bit`);
});

test('the bin entry point runs on its own: --help exits 0 with the usage', () => {
  // Run the file itself, not `node FILE`: this is what npx and node_modules/.bin do.
  const out = execFileSync(BIN, ['--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: striatum <command>/);
});

test('every striatum command in the README is written as npx striatum', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  // Lines of the shell code blocks (```sh, ```bash or untagged); other blocks (```text) are not commands.
  const commands: string[] = [];
  let fence: string | null = null;
  for (const line of readme.split('\n')) {
    if (line.startsWith('```')) { fence = fence === null ? line.slice(3).trim() : null; continue; }
    if (fence !== null && ['', 'sh', 'bash'].includes(fence) && line.trim() !== '') commands.push(line.trim());
  }
  const invoking = commands.filter((l) => /(^|&&\s*|\|\s*)(striatum|node dist\/src\/cli\/main\.js)\s/.test(l) || l.includes('npx striatum'));
  assert.ok(invoking.length >= 8, `found only ${invoking.length} striatum commands in the README`);
  const wrong = invoking.filter((l) => /node dist\/src\/cli\/main\.js/.test(l) || /(^|&&\s*)striatum\s/.test(l));
  assert.deepEqual(wrong, []);
});

test('the signing keys folder of the README (keys/, with private.pem) is ignored by git', () => {
  const ignored = readFileSync(join(REPO, '.gitignore'), 'utf8').split('\n').map((l) => l.trim());
  assert.ok(ignored.includes('/keys/') || ignored.includes('keys/'), '.gitignore lists keys/');
});
