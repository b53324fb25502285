// bench/policy-step as a user runs it: a loop that cannot keep its deadlines ends the bench with the safety
// fault's code and exit status, never with numbers measured on a faulted loop (and never by hanging).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../src/errors.js';

const BENCH = fileURLToPath(new URL('../bench/policy-step.js', import.meta.url));

test('policy-step bench: a deadline storm at start-up ends it with STRIATUM_ERR_SAFETY and a non-zero exit', () => {
  // A 10 µs period: every tick misses its deadline, so the storm rule trips within the first window.
  const run = spawnSync(process.execPath, ['--expose-gc', BENCH, '--ticks', '2000', '--rate', '100000'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.error, undefined, `bench did not finish: ${String(run.error)}`);
  assert.equal(run.status, ErrorCodes.STRIATUM_ERR_SAFETY.exit, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr, /STRIATUM_ERR_SAFETY/);
  assert.equal(run.stdout, '', 'no benchmark numbers from a faulted loop');
});
