// One full round on the simulator, every part real: `striatum run` (BC policy, rollouts) → embedded broker →
// `striatum updater run` (store, relabel, trainer/awr.py, validation, ed25519 signature) → the robot verifies,
// warms up and swaps in the new version, which then drives the episodes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, REPO, runCli, simConfig, startCli, tempDir, waitFor, writeConfig } from './helpers/fixtures.js';
import { watch } from './helpers/mqtt-watch.js';
import { requirePython } from './helpers/required-tools.js';

const ROBOT = 'round-bot';

test('robot → updater → trainer → signed model → robot runs the new version', { timeout: 240_000 }, async () => {
  requirePython(['torch', 'onnx', 'numpy']);
  const dir = tempDir();
  const keys = join(dir, 'keys');
  const gen = await runCli(['keys', 'generate', '--out', keys]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(existsSync(join(keys, 'private.pem')) && existsSync(join(keys, 'public.pem')));

  const cfg = simConfig(join(REPO, 'models/push/policy.onnx'), { robotId: ROBOT });
  cfg.mqtt.users.push({ username: 'updater', password: 'updater-pass', role: 'updater' });
  cfg.transport.time_limit_s = 1.5;
  cfg.policy.trusted_keys = [join(keys, 'public.pem')];
  cfg.rollout = { spool_dir: join(dir, 'spool'), chunk_steps: 50, ack_timeout_ms: 2000 };
  const robot = startCli(['run', '--config', writeConfig(dir, cfg)]);
  let updater: ReturnType<typeof spawn> | null = null;
  try {
    const listening = await waitFor('embedded broker', () => robot.logs().find((l) => l.msg === 'embedded MQTT broker listening'));
    const url = `mqtt://${listening.tcp}`;
    const w = await watch(url, 'operator', 'operator-pass', `striatum/v1/${ROBOT}/#`);
    const first = await waitFor('the BC policy running', () => w.json('/status').find((s) => s.online && s.policy));
    const baseVersion = first.policy.version as string;

    const updaterConfig = writeConfig(dir, {
      broker: { url, username: 'updater', password_env: 'UPDATER_PW' },
      store: { path: join(dir, 'episodes.sqlite') },
      training: {
        enabled: true, episodes_per_round: 3, window_episodes: 10, min_steps: 50,
        base_policy_dir: join(REPO, 'models/push'), out_dir: join(dir, 'rounds'), epochs: 2, threads: 1,
        shaping: { period_s: 0.02 },
      },
      release: { key: join(keys, 'private.pem') },
    }, 'updater.yaml');
    updater = spawn(process.execPath, [CLI, '--log-format', 'json', 'updater', 'run', '--config', updaterConfig],
      { env: { ...process.env, UPDATER_PW: 'updater-pass' }, stdio: 'ignore' });

    const swapped = await waitFor('the robot to run a new, signed version', () =>
      w.json('/status').find((s) => s.online && s.policy && s.policy.version !== baseVersion), 200_000);
    const newVersion = swapped.policy.version as string;
    assert.match(newVersion, /^awr-/);
    assert.ok(w.json('/event').some((e) => e.kind === 'policy' && e.code === 'policy_swapped'));
    const t = await waitFor('telemetry counting the deployment', () => w.json('/telemetry').find((x) => x.policy?.version === newVersion));
    assert.equal(t.policy.deployed, 1);
    assert.equal(t.policy.swaps, 1);
    assert.equal(t.policy.refused, 0);
    const laterEpisode = await waitFor('an episode driven by the new version', () =>
      w.json('/episode').find((e) => e.event === 'start' && e.policy_version === newVersion), 30_000);
    assert.equal(laterEpisode.policy_version, newVersion);
    robot.child.kill('SIGINT');
    assert.equal(await robot.exited, 0);
    await w.close().catch(() => undefined);
  } finally {
    robot.child.kill('SIGKILL');
    updater?.kill('SIGKILL');
  }
});
