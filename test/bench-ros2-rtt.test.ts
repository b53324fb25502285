// bench/ros2-rtt runs end to end on a tiny count and prints its JSON: both round-trip distributions and their
// ratio. Timing is not judged here (the machine is shared); only that both sides measured every round trip.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { REPO } from './helpers/fixtures.js';
import { ensureRos2Bridge, loopbackDds } from './helpers/ros2-bridge.js';

before(() => { ensureRos2Bridge(); });

test('bench/ros2-rtt prints Striatum and C round trips through the robot peer, each one measured or counted lost', () => {
  const dds = loopbackDds();
  try {
    const out = execFileSync(process.execPath, [join(REPO, 'dist', 'bench', 'ros2-rtt.js'), '--count', '50', '--segments', '1'], {
      env: dds.env, encoding: 'utf8', timeout: 90_000,
    });
    const r = JSON.parse(out) as Record<string, any>;
    assert.equal(r.bench, 'ros2-rtt');
    for (const side of ['striatum', 'c_pair']) {
      // A round trip waits 100 ms before it counts as lost: on a loaded machine a few may be; none goes missing.
      assert.equal(r[side].count + r[side].lost, 50, side);
      assert.ok(r[side].count > 0, side);
      assert.ok(r[side].p50_us > 0, side);
    }
    assert.equal(typeof r.p50_ratio, 'number');
  } finally {
    dds.cleanup();
  }
});
