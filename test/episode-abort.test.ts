// An episode interrupted by an operator's e-stop is neither a success nor a failure: it ends as "aborted" in the
// episode message, in the rollout store and in the statistics, and the resume starts a fresh episode, so the time
// spent e-stopped is charged to no episode. The real runtime: sim transport, ONNX policy, embedded broker,
// rollouts to an updater, an operator watching over MQTT.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { simConfig, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { watch } from './helpers/mqtt-watch.js';
import { TelemetryMessageSchema } from '../src/contracts/messages.js';

test('an e-stop mid-episode ends it as aborted (message, store, statistics) and the resume starts a fresh episode', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 0.2 }), { robotId: 'sim-9' });
  cfg.transport.time_limit_s = 1;
  cfg.transport.cameras = [];
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  cfg.rollout = { spool_dir: 'spool', chunk_steps: 16, ack_timeout_ms: 500 };
  const loaded = loadConfig(writeConfig(dir, cfg));

  let runtime: RobotRuntime | null = null;
  let estopped = false;
  const runtimeReady = RobotRuntime.start({
    loaded, logger: silentLogger, mqtt: true, realtime: false, episodes: 2,
    onStep: (s) => {
      if (s.episode === 0 && s.step === 10 && !estopped) {
        estopped = true;
        runtime!.loop!.handleCommand('estop', 'operator test');
        // Virtual time: the loop runs e-stopped for many simulated seconds (more than the time limit) before this.
        setTimeout(() => {
          runtime!.loop!.handleCommand('arm', 'operator test');
          runtime!.loop!.handleCommand('resume', 'operator test');
        }, 300);
      }
    },
  });
  runtime = await runtimeReady;
  const url = runtime.brokerUrl as string;
  const updater = await runUpdater({
    logger: silentLogger,
    config: UpdaterConfigSchema.parse({ broker: { url, username: 'updater', password: 'updater-pass' }, store: { path: join(dir, 'store.sqlite') } }),
  });
  const operator = await watch(url, 'operator', 'operator-pass', topics.episode('sim-9'));
  try {
    await runtime.run();
    const loop = runtime.loop!;
    const ends = await waitFor('both episode end messages', () => {
      const e = operator.json('/episode').filter((m) => m.event === 'end');
      return e.length >= 2 ? e : null;
    });
    assert.equal(ends[0].episode, 0);
    assert.equal(ends[0].outcome, 'aborted');
    assert.equal(ends[0].success, false);
    assert.equal(ends[0].steps, 11, 'the steps run before the e-stop (0 to 10)');
    assert.match(ends[0].end_reason, /estop/);
    assert.equal(ends[1].episode, 1);
    assert.notEqual(ends[1].outcome, 'aborted');
    assert.ok(ends[1].steps >= 45, `the fresh episode gets its whole time limit after the resume: ${ends[1].steps} steps`);
    assert.ok(ends[1].duration_s < 1.5, `the e-stopped time is not charged to the next episode: ${ends[1].duration_s} s`);

    assert.equal(loop.episodesDone, 2);
    assert.equal(loop.episodesAborted, 1);
    assert.equal(loop.successes, ends[1].success ? 1 : 0);
    const outcomes = (runtime.policyManager as unknown as { outcomes: boolean[] }).outcomes;
    assert.deepEqual(outcomes, [ends[1].success], 'auto-rollback sees only the episode that ran to its end');

    // The rollout part of the telemetry fits its published schema (strict: no field undeclared).
    const telemetry = TelemetryMessageSchema.parse(runtime.telemetry());
    assert.ok(telemetry.rollout !== null && telemetry.rollout !== undefined && telemetry.rollout.recorder.stepsRecorded > 0);
    await runtime.rollouts!.close('test done', 30_000);
    const stored = await updater.store.listEpisodes();
    const first = stored.find((e) => e.episode.endsWith(':0'));
    assert.ok(first !== undefined, 'episode 0 is in the store');
    assert.equal(first.outcome, 'aborted');
    assert.equal(first.complete, true);
    assert.equal(first.steps, 11);
    assert.match(first.end_reason ?? '', /estop/);
    const second = stored.find((e) => e.episode.endsWith(':1'));
    assert.equal(second?.outcome, ends[1].outcome);
  } finally {
    await operator.close();
    await updater.close();
    await runtime.shutdown('test end');
  }
});
