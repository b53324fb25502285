// A full disk on the updater: the SQLite store is capped (store.max_mb, SQLite's max_page_count, which fails
// writes with SQLITE_FULL exactly as a full disk does). Ingest must pause, ack nothing it has not stored, raise a
// store_full alarm on striatum/v1/updater/event, retry, and once space comes back store every waiting chunk
// exactly once, ack it and say store_resumed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, RolloutAckSchema, UpdaterEventSchema, encodeRolloutChunk, type RewardComponent,
  type RolloutAck, type UpdaterEvent,
} from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater, type RunningUpdater } from '../src/updater/updater.js';
import { tempDir, waitFor } from './helpers/fixtures.js';
import { connectClient, watch, type Watcher } from './helpers/mqtt-watch.js';

const ROBOT = 'arm-1';
const PASS = { [ROBOT]: 'arm-1-pass', updater: 'updater-pass', operator: 'operator-pass' };
const RUN = '0b0b0b0b-1b1b-4c2c-8d3d-4e4e4e4e4e4e';
const CHUNKS = 30;

function chunk(seq: number, n: number): Uint8Array {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(n);
  return encodeRolloutChunk({
    v: ROLLOUT_VERSION, robot: ROBOT, episode: `${RUN}:0`, chunk: seq, policy_version: null, task: 'push', instruction: '',
    stamp: new Date().toISOString(), stamp_origin_unix_ms: null, n, skipped_steps: 0, final: false, outcome: null, end_reason: null,
    layout: { observation: [{ name: 'o', size: 64 }], joints: ['a', 'b', 'c'], reward: [...REWARD_COMPONENTS], camera: null },
  }, {
    observation: new Float32Array(n * 64).fill(seq), action: new Float32Array(n * 3), command: new Float32Array(n * 3), progress: new Float32Array(n),
    reward, flags: new Uint8Array(n), step: Int32Array.from({ length: n }, (_, i) => seq * 1000 + i), stampMs: new Float64Array(n),
    frames: null, frameStep: null,
  }, 'none');
}

let broker: EmbeddedBroker | null = null;
let updater: RunningUpdater | null = null;
let robot: MqttClient | null = null;
let events: Watcher | null = null;
after(async () => {
  await robot?.endAsync();
  await events?.close();
  await updater?.close();
  await broker?.close();
});

test('a full store pauses ingest: nothing acked that is not stored, a store_full alarm, and every chunk stored once when space comes back', async () => {
  broker = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [makeAccount(ROBOT, PASS[ROBOT], 'robot'), makeAccount('updater', PASS.updater, 'updater'), makeAccount('operator', PASS.operator, 'operator')],
  });
  // Ballast fills most of the capped file; dropping it later is the operator freeing space.
  const path = join(tempDir(), 'store.sqlite');
  const side = new Database(path);
  side.pragma('journal_mode = WAL');
  side.exec('CREATE TABLE ballast (b BLOB NOT NULL)');
  side.prepare('INSERT INTO ballast (b) VALUES (zeroblob(?))').run(800 * 1024);
  const config = UpdaterConfigSchema.parse({
    id: 'upd-full', broker: { url: broker.url, username: 'updater', password: PASS.updater, reconnect_min_ms: 100 },
    store: { path, max_mb: 1 }, max_chunk_bytes: 64 * 1024, status_interval_s: 0.2,
  });
  updater = await runUpdater({ config, logger: silentLogger });
  events = await watch(broker.url, 'operator', PASS.operator, topics.updaterEvent());
  robot = await connectClient(broker.url, ROBOT, PASS[ROBOT]);
  const acks: RolloutAck[] = [];
  robot.on('message', (_t, p) => acks.push(RolloutAckSchema.parse(JSON.parse(p.toString()))));
  await robot.subscribeAsync(topics.rolloutAck(ROBOT), { qos: 1 });
  const alarms = (): UpdaterEvent[] => events!.json('updater/event').map((m) => UpdaterEventSchema.parse(m));

  // ~13 KB each: the capped store takes some, then is full.
  for (let i = 0; i < CHUNKS; i++) await robot.publishAsync(topics.rollout(ROBOT), Buffer.from(chunk(i, 50)), { qos: 1 });
  const full = await waitFor('the store_full alarm', () => alarms().find((e) => e.code === 'store_full'));
  assert.equal(full.updater, 'upd-full');
  assert.equal(full.store, path);
  await waitFor('every chunk stored or waiting', () => updater!.ingest.counts.stored + updater!.ingest.queued === CHUNKS);
  assert.equal(updater.ingest.storeFull, true);
  const storedNow = (): number[] => (side.prepare('SELECT chunk FROM chunks ORDER BY chunk').all() as { chunk: number }[]).map((r) => r.chunk);
  const stored = storedNow();
  assert.ok(stored.length > 0 && stored.length < CHUNKS, `some chunks fit before the store was full (${stored.length})`);
  // Nothing acked that was not stored: the acks name exactly the chunks in the store.
  assert.deepEqual(acks.map((a) => a.chunk).sort((a, b) => (a as number) - (b as number)), stored);
  assert.ok(acks.every((a) => a.status === 'stored'));

  // Space comes back: the retries store everything that waited, each chunk once, and the alarm clears.
  side.exec('DROP TABLE ballast');
  const resumed = await waitFor('the store_resumed event', () => alarms().find((e) => e.code === 'store_resumed'));
  assert.equal(resumed.updater, 'upd-full');
  await waitFor('an ack for every chunk', () => new Set(acks.map((a) => a.chunk)).size === CHUNKS);
  assert.deepEqual(storedNow(), Array.from({ length: CHUNKS }, (_, i) => i));
  assert.equal(acks.filter((a) => a.status === 'stored').length, CHUNKS, 'each chunk acked stored exactly once');
  assert.equal(updater.ingest.storeFull, false);
  assert.deepEqual(alarms().map((e) => e.code), ['store_full', 'store_resumed'], 'one alarm per pause');
  side.close();
});
