// Several updaters, one fleet: three `runUpdater`s on one Mosquitto (MQTT 5 shared subscription) and one
// PostgreSQL store split the robots' chunks between them, each chunk stored and acked once; one training round
// at a time across them; and the policy a round produces is the same whichever updater trained it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, RolloutAckSchema, encodeRolloutChunk, type RewardComponent, type RolloutAck,
} from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater, type RunningUpdater } from '../src/updater/updater.js';
import { REPO, tempDir, waitFor } from './helpers/fixtures.js';
import { FLEET_FIELDS, FLEET_JOINTS, fleetCommand, fleetObservation } from './helpers/fleet-robot.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { startPostgres } from './helpers/postgres.js';
import { requirePython } from './helpers/required-tools.js';

const RUN = '77777777-2222-4333-8444-555555555555';
const STEPS = 100;
const PER_CHUNK = 25;

/** Chunk c of episode e of robot r (number rn): the same generated content as the fleet robots'. */
function chunk(robot: string, rn: number, e: number, c: number): Uint8Array {
  const first = c * PER_CHUNK;
  const n = PER_CHUNK;
  const final = first + n >= STEPS;
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
  for (let i = 0; i < n; i++) { reward.potential[i] = (first + i) / STEPS; reward.next_potential[i] = (first + i + 1) / STEPS; }
  return encodeRolloutChunk({
    v: ROLLOUT_VERSION, robot, episode: `${RUN}:${e}`, chunk: c, policy_version: 'bc-1', task: 'push', instruction: 'push',
    stamp: new Date().toISOString(), stamp_origin_unix_ms: null, layout: { observation: FLEET_FIELDS, joints: FLEET_JOINTS, reward: [...REWARD_COMPONENTS], camera: null },
    n, skipped_steps: 0, final, outcome: final ? 'timeout' : null, end_reason: null,
  }, {
    observation: Float32Array.from({ length: n * 8 }, (_, j) => fleetObservation(rn, e, first + Math.floor(j / 8), j % 8)),
    action: Float32Array.from({ length: n * 2 }, (_, j) => fleetCommand(first + Math.floor(j / 2), j % 2)),
    command: Float32Array.from({ length: n * 2 }, (_, j) => fleetCommand(first + Math.floor(j / 2), j % 2)),
    progress: new Float32Array(n), reward, flags: Uint8Array.from({ length: n }, (_, i) => (final && i === n - 1 ? 2 : 0)),
    step: Int32Array.from({ length: n }, (_, i) => first + i), stampMs: Float64Array.from({ length: n }, (_, i) => (first + i) * 20), frames: null, frameStep: null,
  }, 'none');
}

test('three updaters share one fleet through a shared subscription and one PostgreSQL store; rounds are exclusive and reproducible', { timeout: 300_000 }, async () => {
  const python = requirePython(['torch', 'onnx', 'numpy']);
  const dir = tempDir('striatum-fleet-updaters-');
  const robots = ['arm-1', 'arm-2', 'arm-3', 'arm-4'];
  const accounts: Record<string, string> = { updater: 'updater-pass' };
  for (const r of robots) accounts[r] = `${r}-pass`;
  const postgres = await startPostgres();
  const broker = await startMosquitto(accounts);
  const updaters: RunningUpdater[] = [];
  const clients: mqtt.MqttClient[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      updaters.push(await runUpdater({
        logger: silentLogger,
        config: UpdaterConfigSchema.parse({
          id: `u${i}`, broker: { url: broker.url, username: 'updater', password: 'updater-pass' }, store: { url: postgres.url },
          training: {
            enabled: true, episodes_per_round: 1_000_000, min_steps: 100, python, base_policy_dir: join(REPO, 'models', 'push'),
            out_dir: join(dir, `rounds-u${i}`), epochs: 3, batch_size: 64, threads: 1,
          },
        }),
      }));
    }
    assert.deepEqual(updaters.map((u) => u.subscription), ['shared', 'shared', 'shared']);
    await waitFor('three updaters subscribed', () => updaters.every((u) => u.status(true).online), 10_000);
    await new Promise((r) => setTimeout(r, 300));

    // Each robot publishes 6 episodes of 4 chunks, every chunk twice (a resend): 96 distinct chunks.
    const acks = new Map<string, RolloutAck[]>();
    let sent = 0;
    for (const [rn, robot] of robots.entries()) {
      const c = await mqtt.connectAsync(broker.url, { username: robot, password: accounts[robot], clientId: `${robot}-pub` });
      clients.push(c);
      c.on('message', (_t, payload) => {
        const ack = RolloutAckSchema.parse(JSON.parse(payload.toString()));
        const key = `${ack.robot}/${ack.episode}/${ack.chunk}`;
        acks.set(key, [...(acks.get(key) ?? []), ack]);
      });
      await c.subscribeAsync(topics.rolloutAck(robot), { qos: 1 });
      for (let e = 0; e < 6; e++) {
        for (let k = 0; k < STEPS / PER_CHUNK; k++) {
          const payload = Buffer.from(chunk(robot, rn + 1, e, k));
          await c.publishAsync(topics.rollout(robot), payload, { qos: 1 });
          sent++;
        }
      }
    }
    const distinct = robots.length * 6 * (STEPS / PER_CHUNK);
    await waitFor('every chunk acked', () => acks.size === distinct, 30_000);
    for (const [rn, robot] of robots.entries()) {
      for (let e = 0; e < 6; e++) for (let k = 0; k < 4; k++) await clients[rn].publishAsync(topics.rollout(robot), Buffer.from(chunk(robot, rn + 1, e, k)), { qos: 1 });
    }
    await waitFor('every resend acked', () => [...acks.values()].every((a) => a.length === 2), 30_000);
    assert.equal(sent, distinct);
    for (const [key, a] of acks) assert.deepEqual(a.map((x) => x.status).sort(), ['duplicate', 'stored'], key);
    const stored = updaters.map((u) => u.ingest.counts.stored);
    assert.equal(stored.reduce((s, n) => s + n, 0), distinct, 'each chunk stored by exactly one updater');
    assert.ok(stored.every((n) => n > 0), `the shared subscription spread the chunks over all three updaters: ${stored.join(', ')}`);
    const totals = await updaters[0].store.totals();
    assert.deepEqual([totals.chunks, totals.episodes, totals.complete, totals.steps], [distinct, 24, 24, 24 * STEPS]);

    // Two updaters asked for a round at once: one trains, the other skips (lock held) and keeps its episodes pending.
    const [a, b] = await Promise.all([updaters[0].training!.runRound(), updaters[1].training!.runRound()]);
    const outcomes = [a.outcome, b.outcome].sort();
    assert.deepEqual(outcomes, ['ok', 'skipped'], JSON.stringify([a, b]));
    const skipped = a.outcome === 'skipped' ? a : b;
    assert.match(skipped.outcome === 'skipped' ? skipped.reason : '', /another updater/);
    const first = (a.outcome === 'ok' ? a : b);
    // The third updater trains on the same store now: the same data, the same settings, the same policy.
    const second = await updaters[2].training!.runRound();
    assert.equal(first.outcome, 'ok');
    assert.equal(second.outcome, 'ok', JSON.stringify(second));
    if (first.outcome !== 'ok' || second.outcome !== 'ok') return;
    assert.equal(first.snapshot.sha256, second.snapshot.sha256, 'the same snapshot');
    const meta = (d: string) => JSON.parse(readFileSync(join(d, 'policy.json'), 'utf8'));
    const model = (d: string) => createHash('sha256').update(readFileSync(join(d, 'policy.onnx'))).digest('hex');
    assert.equal(meta(first.modelDir).version, meta(second.modelDir).version, 'the same version');
    assert.equal(model(first.modelDir), model(second.modelDir), 'the same model, byte for byte');
    // Rounds are numbered by the store: 1 for the first, 2 for the third updater's; the one that skipped ran none.
    assert.deepEqual(updaters.map((u) => u.training!.state.round).sort(), [0, 1, 2]);
  } finally {
    for (const c of clients) await c.endAsync().catch(() => undefined);
    for (const u of updaters) await u.close();
    await broker.stop();
    await postgres.destroy();
  }
});
