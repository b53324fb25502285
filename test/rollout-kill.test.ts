// kill -9 of `striatum run` in the middle of an episode, before that episode's first chunk was cut: the next start
// closes it as aborted, so the store has a record of it (its steps were only in memory, which is the documented
// window), and every step of the episodes before it. Real child processes, real embedded broker, real updater.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { freePort, simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { watch } from './helpers/mqtt-watch.js';
import { sqliteStore } from './helpers/stores.js';

const ROBOT = 'sim-kill';

test('kill -9 mid-episode: after a restart the store has that episode closed as aborted, and every step of the earlier ones', { timeout: 180_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 0.2 }), { robotId: ROBOT, port });
  cfg.transport.time_limit_s = 1.5; // 75 steps: one chunk per episode with the default chunk_ms (2 s)
  cfg.transport.cameras = [];
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  cfg.rollout = { spool_dir: join(dir, 'spool'), ack_timeout_ms: 500, reconnect_min_ms: 100, reconnect_max_ms: 500 };
  const configPath = writeConfig(dir, cfg);
  const url = `mqtt://127.0.0.1:${port}`;

  const first = startCli(['run', '--config', configPath]);
  let second: ReturnType<typeof startCli> | null = null;
  let updater: Awaited<ReturnType<typeof runUpdater>> | null = null;
  try {
    await waitFor('embedded broker', () => first.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    updater = await runUpdater({
      logger: silentLogger,
      config: UpdaterConfigSchema.parse({
        broker: { url, username: 'updater', password: 'updater-pass', reconnect_min_ms: 100, reconnect_max_ms: 500 },
        store: { path: join(dir, 'store.sqlite') },
      }),
    });
    const store = sqliteStore(updater.store);
    const end0 = await waitFor('episode 0 to end', () => w.json('/episode').find((e) => e.event === 'end' && e.episode === 0), 60_000);
    // Some steps into episode 1, well before its first chunk is cut: then kill -9.
    await waitFor('episode 1 under way', () => w.json('/telemetry').find((t) => t.episode.index === 1 && t.episode.step >= 10), 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await w.close().catch(() => undefined);

    second = startCli(['run', '--config', configPath]);
    const run1 = first.logs().find((l) => l.msg === 'rollout recording started')?.run as string;
    assert.ok(run1, 'the first process logged its run id');
    const aborted = await waitFor('the killed episode closed as aborted in the store', () => {
      const e = store.listEpisodes().find((x) => x.episode === `${run1}:1`);
      return e !== undefined && e.complete ? e : null;
    }, 60_000);
    assert.equal(aborted.outcome, 'aborted');
    assert.match(aborted.end_reason ?? '', /restart/);
    // The documented window: steps not yet cut into a chunk were only in memory. Every chunk that reached the spool
    // is stored, so what is stored of the episode is a prefix of it: here no chunk had been cut yet.
    assert.equal(aborted.steps, 0);
    const ep0 = await waitFor('episode 0 complete', () => store.listEpisodes().find((x) => x.episode === `${run1}:0` && x.complete));
    assert.equal(ep0.steps, end0.steps, 'every step of the finished episode is stored');
    assert.equal(ep0.outcome, end0.outcome);

    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0);
  } finally {
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await updater?.close();
  }
});
