// Every bench script answers --help with what it measures and how to call it, and a wrong flag with the error and
// exit status 2, not a stack trace (bench/bench-args.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers/fixtures.js';

const BENCHES = ['export', 'learning', 'policy-step', 'prm', 'ros2-rtt', 'serial-rtt', 'soak'];

for (const name of BENCHES) {
  test(`bench/${name}: --help describes it; an unknown flag exits 2 with the reason`, () => {
    const script = join(REPO, 'dist/bench', `${name}.js`);
    const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.ok(help.stdout.startsWith(`bench/${name}: `), help.stdout.slice(0, 200));
    assert.match(help.stdout, /usage/i, 'the help names how to call it');
    const bad = spawnSync(process.execPath, [script, '--no-such-flag'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
    assert.doesNotMatch(bad.stderr, /\sat .*\.js:\d+:\d+/, 'no stack trace');
    assert.ok(bad.stderr.includes(`bench/${name}: `), 'the usage follows the error');
  });
}

test('bench/rollout-throughput: --help lists its flags; an unknown flag exits 2 with the reason', () => {
  const script = join(REPO, 'dist/bench/rollout-throughput.js');
  const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: node dist\/bench\/rollout-throughput\.js/);
  assert.match(help.stdout, /--buffers N/);
  const bad = spawnSync(process.execPath, [script, '--no-such-flag'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
  assert.doesNotMatch(bad.stderr, /\sat .*\.js:\d+:\d+/, 'no stack trace');
  assert.match(bad.stderr, /usage: node dist\/bench\/rollout-throughput\.js/);
});
