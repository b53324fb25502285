// The updater against real brokers: the embedded aedes (MQTT 3.1.1, plain subscription) and a real Mosquitto
// (MQTT 5, shared subscription). A robot account publishes good, duplicate, malformed, oversized and
// wrong-version chunks; the updater rejects and counts the bad ones and keeps storing the good ones.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import type { MqttClient } from 'mqtt';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, RolloutAckSchema, UpdaterStatusSchema, encodeRolloutChunk, type RewardComponent,
  type RolloutAck,
} from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import { createLogger, type Logger } from '../src/log.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater, type RunningUpdater } from '../src/updater/updater.js';
import { tempDir, waitFor } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'arm-1';
const PASS = { [ROBOT]: 'arm-1-pass', updater: 'updater-pass', operator: 'operator-pass' };
const RUN = '0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e';

function chunk(index: number, seq: number, n: number): Uint8Array {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
  return encodeRolloutChunk({
    v: ROLLOUT_VERSION, robot: ROBOT, episode: `${RUN}:${index}`, chunk: seq, policy_version: null, task: 'push', instruction: '',
    stamp: new Date().toISOString(), stamp_origin_unix_ms: null, n, skipped_steps: 0, final: false, outcome: null, end_reason: null,
    layout: { observation: [{ name: 'o', size: 64 }], joints: ['a', 'b', 'c'], reward: [...REWARD_COMPONENTS], camera: null },
  }, {
    observation: new Float32Array(n * 64).fill(seq), action: new Float32Array(n * 3), command: new Float32Array(n * 3), progress: new Float32Array(n),
    reward, flags: new Uint8Array(n), step: Int32Array.from({ length: n }, (_, i) => seq * 1000 + i), stampMs: new Float64Array(n),
    frames: null, frameStep: null,
  }, 'none');
}

function collectingLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  return { lines, logger: createLogger({ level: 'debug', sink: { pretty: false, write: (l) => lines.push(JSON.parse(l)) } }) };
}

interface Broker { url: string; stop(): Promise<void> }

async function startBroker(kind: 'aedes' | 'mosquitto'): Promise<Broker> {
  if (kind === 'mosquitto') {
    const m = await startMosquitto(PASS);
    return { url: m.url, stop: () => m.stop() };
  }
  const b = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: createLogger({ level: 'error', sink: { pretty: false, write: () => {} } }),
    accounts: [makeAccount(ROBOT, PASS[ROBOT], 'robot'), makeAccount('updater', PASS.updater, 'updater'), makeAccount('operator', PASS.operator, 'operator')],
  });
  return { url: b.url, stop: () => b.close() };
}

for (const kind of ['aedes', 'mosquitto'] as const) {
  describe(`updater ingest over ${kind}`, () => {
    let broker: Broker;
    let updater: RunningUpdater;
    let robot: MqttClient;
    const acks: RolloutAck[] = [];
    const { logger, lines } = collectingLogger();
    after(async () => {
      await robot?.endAsync();
      await updater?.close();
      await broker?.stop();
    });

    test('subscribes (shared on MQTT 5, plain with a log line on MQTT 3.1.1) and acks stored, then duplicate', async () => {
      broker = await startBroker(kind);
      const config = UpdaterConfigSchema.parse({
        id: `upd-${kind}`, broker: { url: broker.url, username: 'updater', password: PASS.updater, reconnect_min_ms: 100 },
        store: { path: join(tempDir(), 'store.sqlite') }, max_chunk_bytes: 64 * 1024, status_interval_s: 0.2,
      });
      updater = await runUpdater({ config, logger });
      assert.equal(updater.subscription, kind === 'mosquitto' ? 'shared' : 'plain');
      await waitFor('the subscription', () => lines.find((l) => l.msg === 'updater subscribed'));
      if (kind === 'aedes') assert.ok(lines.some((l) => l.level === 'warn' && /MQTT 3\.1\.1 only/.test(l.msg)), 'the fallback is logged');
      const sub = lines.find((l) => l.msg === 'updater subscribed');
      assert.deepEqual(sub?.filters, [kind === 'mosquitto' ? '$share/striatum-updaters/striatum/v1/+/rollout' : 'striatum/v1/+/rollout']);

      robot = await connectClient(broker.url, ROBOT, PASS[ROBOT]);
      robot.on('message', (_t, p) => acks.push(RolloutAckSchema.parse(JSON.parse(p.toString()))));
      await robot.subscribeAsync(topics.rolloutAck(ROBOT), { qos: 1 });
      await robot.publishAsync(topics.rollout(ROBOT), Buffer.from(chunk(0, 0, 50)), { qos: 1 });
      await waitFor('the stored ack', () => acks.find((a) => a.chunk === 0 && a.status === 'stored'));
      await robot.publishAsync(topics.rollout(ROBOT), Buffer.from(chunk(0, 0, 50)), { qos: 1 });
      await waitFor('the duplicate ack', () => acks.find((a) => a.chunk === 0 && a.status === 'duplicate'));
      assert.equal((await updater.store.totals()).chunks, 1);
    });

    test('malformed, oversized and wrong-version chunks are rejected and counted in the retained status; good chunks still go in', async () => {
      const raw = decode(chunk(0, 1, 10)) as Record<string, unknown>;
      await robot.publishAsync(topics.rollout(ROBOT), Buffer.from([0xc1, 0xff, 0x00, 0x13]), { qos: 1 });
      await robot.publishAsync(topics.rollout(ROBOT), randomBytes(100 * 1024), { qos: 1 });
      await robot.publishAsync(topics.rollout(ROBOT), Buffer.from(encode({ ...raw, v: 99 })), { qos: 1 });
      await robot.publishAsync(topics.rollout(ROBOT), Buffer.from(chunk(0, 2, 20)), { qos: 1 });
      await waitFor('the version rejection', () => acks.find((a) => a.chunk === 1 && a.status === 'rejected'));
      await waitFor('the next good chunk', () => acks.find((a) => a.chunk === 2 && a.status === 'stored'));
      assert.deepEqual(updater.ingest.rejectedByCode, { malformed: 1, oversized: 1, version: 1 });

      const w = await watch(broker.url, 'operator', PASS.operator, topics.updaterStatus());
      const status = await waitFor('a retained status with the rejections', () => {
        const s = w.json('updater/status').map((m) => UpdaterStatusSchema.parse(m)).at(-1);
        return s !== undefined && s.chunks.rejected === 3 && s.chunks.stored === 2 ? s : undefined;
      });
      assert.equal(status.online, true);
      assert.equal(status.subscription, kind === 'mosquitto' ? 'shared' : 'plain');
      assert.deepEqual(status.rejected_by_code, { malformed: 1, oversized: 1, version: 1 });
      assert.equal(status.chunks.duplicate, 1);
      assert.equal(status.steps_stored, 70);
      assert.ok(lines.filter((l) => l.msg === 'rejected a rollout chunk').length === 3);
      await w.close();
    });
  });
}
