// The recorder fed by the real control loop: the simulated pusher under a real ONNX policy (virtual time), its
// steps and top-camera frames recorded, spooled, published over the embedded broker and stored by an updater.
// What the store holds is compared with what the loop handed to onStep.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { FLAG_DONE, FLAG_NO_REWARD, FLAG_TRUNCATED } from '../src/contracts/rollout.js';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { RolloutService } from '../src/rollout/rollout-service.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import type { RobotTransport } from '../src/transports/types.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { simConfig, tempDir, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

test('the control loop\'s steps and camera frames reach the store unchanged', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: 'sim-7' });
  cfg.transport.time_limit_s = 1;
  const loaded = loadConfig(writeConfig(dir, cfg));
  const broker = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [makeAccount('sim-7', 'sim-7-pass', 'robot'), makeAccount('updater', 'updater-pass', 'updater')],
  });
  const updater = await runUpdater({
    logger: silentLogger,
    config: UpdaterConfigSchema.parse({ broker: { url: broker.url, username: 'updater', password: 'updater-pass' }, store: { path: join(dir, 'store.sqlite') } }),
  });

  // What the loop handed to the recorder, copied, to compare with the store.
  const seen = new Map<number, { obs: number[]; command: number[]; done: boolean; truncated: boolean }[]>();
  let rollouts: RolloutService | null = null;
  const runtime = await RobotRuntime.start({
    loaded, logger: silentLogger, mqtt: false, realtime: false, episodes: 2,
    onStep: (s) => {
      rollouts!.recorder.onStep(s, null);
      const list = seen.get(s.episode) ?? [];
      list[s.step] = { obs: [...s.observation], command: [...s.command], done: s.done, truncated: s.truncated };
      seen.set(s.episode, list);
    },
    onEpisode: (summary, event) => {
      if (event === 'start') rollouts!.recorder.onEpisodeStart(summary);
      else rollouts!.recorder.onEpisodeEnd(summary);
    },
  });
  const transport = (runtime as unknown as { transport: RobotTransport }).transport;
  rollouts = await RolloutService.start({
    robotId: 'sim-7', task: 'push', observationFields: runtime.observationFields, joints: ['x', 'y'], policyVersion: 'test-1',
    stampOriginUnixMs: null, spoolDir: join(dir, 'spool'), logger: silentLogger, mqtt: { url: broker.url, username: 'sim-7', password: 'sim-7-pass' },
    config: { chunk_steps: 16, compression: 'gzip', buffers: 32, camera: { name: 'top', width: 24, height: 24, channels: 3, every_steps: 10 } },
    latestFrame: (c) => transport.latestFrame(c),
  });
  try {
    await runtime.run();
    await rollouts.close('episodes done', 30_000);
    assert.equal(rollouts.publisher.backlog, 0, 'the updater acknowledged every chunk');

    const stored = await updater.store.listEpisodes();
    assert.equal(stored.length, 2);
    for (const row of stored) {
      assert.equal(row.complete, true);
      const index = Number(row.episode.split(':')[1]);
      const ex = await updater.store.exportEpisode('sim-7', row.episode);
      const loop = seen.get(index)!;
      // Virtual time runs the loop far faster than real time; should the disk fall behind, the recorder pauses and
      // reports what it did not record, and that is the only way a step may be missing.
      assert.equal(ex.steps + ex.skippedSteps, loop.length, `episode ${index}: every step of the loop is stored or reported`);
      assert.equal(ex.outcome, loop[loop.length - 1].done ? 'success' : 'timeout');
      const dim = runtime.observationFields.reduce((s, f) => s + f.size, 0);
      for (let r = 0; r < ex.steps; r++) {
        const i = ex.columns.step[r];
        if (r > 0) assert.ok(i > ex.columns.step[r - 1]);
        for (let k = 0; k < dim; k++) assert.equal(ex.columns.observation[r * dim + k], Math.fround(loop[i].obs[k]));
        assert.equal(ex.columns.command[r * 2 + 1], Math.fround(loop[i].command[1]));
        const f = ex.columns.flags[r];
        assert.equal((f & FLAG_DONE) !== 0, loop[i].done);
        assert.equal((f & FLAG_TRUNCATED) !== 0, loop[i].truncated);
        assert.ok((f & FLAG_NO_REWARD) !== 0, 'no reward composer in this run');
      }
      assert.ok(ex.columns.frameStep !== null && ex.columns.frameStep.length > 0, 'frames recorded');
      for (const s of ex.columns.frameStep) assert.equal(s % 10, 0);
      assert.equal(ex.columns.frames?.length, ex.columns.frameStep.length * 24 * 24 * 3);
      assert.ok(ex.columns.frames!.some((b) => b !== ex.columns.frames![0]), 'the frames are pictures, not blanks');
    }
  } finally {
    await rollouts.close('test end', 0);
    await runtime.shutdown('test end');
    await updater.close();
    await broker.close();
  }
});
