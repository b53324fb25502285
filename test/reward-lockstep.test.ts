// Virtual time (run --fast, learn) with learned rewards: the reward models judge every camera frame before
// simulated time goes on, so a fast run gets the rewards a real-time run would.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { REPO } from './helpers/fixtures.js';

test('in virtual time every camera frame the reward models read gets an answer', async () => {
  const loaded = loadConfig(join(REPO, 'examples/sim.yaml'));
  loaded.config.transport = { ...loaded.config.transport, time_limit_s: 3 } as typeof loaded.config.transport;
  let steps = 0;
  let fresh = 0;
  let runtime: RobotRuntime | null = null;
  runtime = await RobotRuntime.start({
    loaded, logger: silentLogger, mqtt: false, rewards: true, realtime: false, episodes: 1,
    onStep: () => {
      steps++;
      if (runtime?.rewards?.record.fresh === true) fresh++;
    },
  });
  try {
    await runtime.run();
  } finally {
    await runtime.shutdown('test done');
  }
  // The top camera renders at 10 Hz, every 5th step at 50 Hz; each of its frames is answered by both models,
  // and an answer arrives by the next step (the first frame's answer at step 1).
  const frames = Math.floor((steps - 1) / 5);
  assert.ok(steps > 50, `steps ${steps}`);
  assert.ok(fresh >= frames, `${fresh} steps with a fresh answer for ${frames} frames`);
  assert.equal(runtime.rewards?.lockstepTimeouts, 0);
});
