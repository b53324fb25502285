// bench/policy-step as a user runs it: a loop that faults ends the bench with the safety fault's code and exit
// status, never with numbers measured on a faulted loop (and never by hanging). The fault here is deterministic
// (a policy whose every action is NaN), not a deadline storm, whose onset depends on the machine's speed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../src/errors.js';
import { simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

const BENCH = fileURLToPath(new URL('../bench/policy-step.js', import.meta.url));

test('policy-step bench: a loop that faults ends it with STRIATUM_ERR_SAFETY and a non-zero exit, no numbers', () => {
  const dir = tempDir();
  const config = writeConfig(dir, simConfig(writeLinearPolicy(dir, { name: 'nan', bias: Number.NaN })));
  const run = spawnSync(process.execPath, ['--expose-gc', BENCH, '--ticks', '2000', '--config', config], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.error, undefined, `bench did not finish: ${String(run.error)}`);
  assert.equal(run.status, ErrorCodes.STRIATUM_ERR_SAFETY.exit, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr, /STRIATUM_ERR_SAFETY/);
  assert.equal(run.stdout, '', 'no benchmark numbers from a faulted loop');
});
