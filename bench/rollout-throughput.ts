// bench/rollout-throughput: sustained steps/s from the recorder to the updater's store on loopback (QoS 1,
// durable spool with fsync, end-to-end acks after the SQLite commit), 64-float observation, 6 joints, for the
// body uncompressed and gzip'd; beside, in the same run and against the same broker, what a bare MQTT.js
// publisher and mosquitto_pub achieve for the same payload size (one chunk), publisher → broker → subscriber.
// Also: the recorder's onStep cost on the calling thread (every step, and the steps that cut a chunk), bytes per
// step on the wire and in the store. The updater runs as its own process, as in production.
// Prints one JSON object. Usage: node dist/bench/rollout-throughput.js [--steps N] [--chunk-steps N] [--broker aedes|mosquitto]
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decode, encode } from '@msgpack/msgpack';
import mqtt from 'mqtt';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { topics } from '../src/contracts/topics.js';
import { LatencyHistogram } from '../src/util/histogram.js';
import { createLogger, silentLogger } from '../src/log.js';
import { RewardStep } from '../src/reward/reward-step.js';
import { Recorder } from '../src/rollout/recorder.js';
import { RolloutService } from '../src/rollout/rollout-service.js';
import { Spool } from '../src/rollout/spool.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { MOSQUITTO, startMosquitto } from '../test/helpers/mosquitto.js';

const ROBOT = 'bench-1';
const PASS = { [ROBOT]: 'bench-pass', updater: 'updater-pass' };
const OBS = 64;
const ACT = 6;

if (process.env.STRIATUM_BENCH_ROLE === 'updater') {
  const a = JSON.parse(process.env.STRIATUM_BENCH_ARGS as string) as { url: string; storePath: string };
  const updater = await runUpdater({
    logger: createLogger({ level: 'info', pretty: false }),
    config: UpdaterConfigSchema.parse({ id: 'bench-updater', broker: { url: a.url, username: 'updater', password: PASS.updater }, store: { path: a.storePath } }),
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await updater.close();
  process.exit(0);
}

const { values } = parseArgs({ options: { steps: { type: 'string' }, 'chunk-steps': { type: 'string' }, broker: { type: 'string' } } });
const STEPS = Number(values.steps ?? 100_000);
const CHUNK = Number(values['chunk-steps'] ?? 250);
const brokerKind = values.broker ?? (MOSQUITTO !== null ? 'mosquitto' : 'aedes');
const dir = mkdtempSync(join(tmpdir(), 'striatum-bench-rollout-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function startBroker(): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  if (brokerKind === 'mosquitto') {
    const m = await startMosquitto(PASS);
    return { url: m.url, port: m.port, stop: () => m.stop() };
  }
  const b = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [makeAccount(ROBOT, PASS[ROBOT], 'robot'), makeAccount('updater', PASS.updater, 'updater')],
  });
  return { url: b.url, port: b.port, stop: () => b.close() };
}

function startUpdaterProcess(url: string, storePath: string) {
  const env = { ...process.env, STRIATUM_BENCH_ROLE: 'updater', STRIATUM_BENCH_ARGS: JSON.stringify({ url, storePath }) };
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, exited, subscribed: () => log.includes('"updater subscribed"') };
}

/** A full chunk as published, kept from the first run for the store-only stage. */
const captured: { chunk: Uint8Array | null } = { chunk: null };

async function recorderRun(url: string, compression: 'none' | 'gzip') {
  const service = await RolloutService.start({
    robotId: ROBOT, task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`),
    policyVersion: 'bench', stampOriginUnixMs: null, spoolDir: join(dir, `spool-${compression}`), logger: silentLogger,
    mqtt: { url, username: ROBOT, password: PASS[ROBOT] },
    config: { chunk_steps: CHUNK, compression, max_inflight: 8, buffers: 8, max_spool_mb: 512 },
  });
  const view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(OBS), action: new Float64Array(ACT), command: new Float64Array(ACT), progress: 0, done: false, truncated: false };
  const reward = new RewardStep();
  const perStep = new LatencyHistogram();
  const perCut = new LatencyHistogram();
  const rec = service.recorder;
  const feed = (n: number, measure: boolean) => {
    for (let i = 0; i < n; i++) {
      view.step++;
      view.stampMs += 2;
      for (let k = 0; k < OBS; k++) view.observation[k] = Math.sin(view.step * 0.01 + k);
      for (let j = 0; j < ACT; j++) { view.action[j] = Math.cos(view.step * 0.02 + j); view.command[j] = view.action[j] * 0.9; }
      reward.total = view.step * 1e-3;
      const cuts = rec.stats.chunksCut;
      const t = performance.now();
      rec.onStep(view, reward);
      const us = (performance.now() - t) * 1000;
      if (measure) (rec.stats.chunksCut !== cuts ? perCut : perStep).record(us);
      if (view.step % 1000 === 999) {
        rec.onEpisodeEnd({ episode: view.episode, instruction: '', outcome: 'timeout' });
        view.episode++;
        view.step = -1;
      }
    }
  };
  service.spool.onWritten = ((hook) => (entry, bytes) => {
    if (compression === 'none' && !entry.final) captured.chunk = bytes;
    hook?.(entry, bytes);
  })(service.spool.onWritten);
  const drained = async () => { while (service.publisher.backlog > 0 || service.spool.writesPending > 0) await sleep(1); };
  // Warm-up (JIT, connection, first fsyncs), then the measured run with backpressure: never more than 32
  // chunks unacknowledged, so nothing is counted as unrecorded and the rate is what the whole path sustains.
  const BUFFERS = 8;
  const busy = () => service.publisher.backlog + service.spool.writesPending >= 32 || service.spool.writesPending >= BUFFERS - 2 || !rec.recording;
  while (!service.publisher.connectedToBroker) await sleep(5);
  for (let i = 0; i < 10; i++) {
    while (busy()) await sleep(1);
    feed(CHUNK, false);
    await new Promise((r) => setImmediate(r));
  }
  await drained();
  const bytes0 = service.spool.stats.bytesWritten;
  const chunks0 = service.spool.stats.chunksWritten;
  const t0 = performance.now();
  let fed = 0;
  while (fed < STEPS) {
    if (busy()) { await sleep(0); continue; }
    feed(CHUNK, true);
    fed += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  await drained();
  const seconds = (performance.now() - t0) / 1000;
  const chunks = service.spool.stats.chunksWritten - chunks0;
  const fileBytes = service.spool.stats.bytesWritten - bytes0;
  const payloadPerChunk = (fileBytes - 16 * chunks) / chunks;
  // MQTT PUBLISH framing per chunk: fixed header (1 + up to 4 length bytes), topic (2 + length), packet id (2).
  // Chunks include the zero-step final chunk of each 1000-step episode.
  const framing = 1 + 4 + 2 + topics.rollout(ROBOT).length + 2;
  const stats = service.stats();
  const ack = service.publisher.ackLatency;
  await service.close('bench done', 5000);
  return {
    compression, steps: fed, seconds: round(seconds, 2), steps_per_s: Math.round(fed / seconds),
    chunks, chunk_payload_bytes_mean: Math.round(payloadPerChunk), bytes_per_step_wire: round(((payloadPerChunk + framing) * chunks) / fed, 1),
    unrecorded_steps: stats.recorder.unrecordedSteps, resent: stats.publisher.resent,
    onstep_us: { p50: round(perStep.quantile(0.5), 2), p99: round(perStep.quantile(0.99), 2), max: round(perStep.max, 1), count: perStep.count },
    onstep_cut_us: { p50: round(perCut.quantile(0.5), 1), p99: round(perCut.quantile(0.99), 1), max: round(perCut.max, 1), count: perCut.count },
    ack_latency_ms: { p50: round(ack.quantile(0.5) / 1000, 2), p99: round(ack.quantile(0.99) / 1000, 2), count: ack.count },
    spool_worker_last_chunk_us: { encode: Math.round(stats.spool.lastEncodeUs), write_fsync_rename: Math.round(stats.spool.lastWriteUs) },
  };
}

/** Bare MQTT.js: publish `count` payloads QoS 1 (at most `window` unacked), timed until a subscriber has them all. */
async function mqttJsBaseline(url: string, payload: Buffer, count: number, window: number) {
  const sub = mqtt.connect(url, { username: 'updater', password: PASS.updater, clientId: 'bench-sub', reconnectPeriod: 0 });
  const pub = mqtt.connect(url, { username: 'updater', password: PASS.updater, clientId: 'bench-pub', reconnectPeriod: 0 });
  await Promise.all([sub, pub].map((c) => new Promise((r) => c.once('connect', r))));
  let got = 0;
  sub.on('message', () => { got++; });
  await sub.subscribeAsync(topics.updaterBench(), { qos: 1 });
  const t0 = performance.now();
  let inflight = 0;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (inflight < window && sent < count) {
        inflight++;
        sent++;
        pub.publish(topics.updaterBench(), payload, { qos: 1 }, () => { inflight--; pump(); });
      }
      if (sent === count && inflight === 0) resolve();
    };
    pump();
  });
  while (got < count) await sleep(1);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([sub.endAsync(), pub.endAsync()]);
  return { messages: count, window, seconds: round(seconds, 2), msgs_per_s: Math.round(count / seconds), steps_per_s_equiv: Math.round((count / seconds) * CHUNK) };
}

/** Stage 1 alone: recorder → spool worker (encode, write, fsync, rename, fsync dir), nothing published. */
async function spoolOnly(steps: number) {
  const spool = await Spool.open({ dir: join(dir, 'spool-only'), maxBytes: 1 << 30, compression: 'none', logger: silentLogger });
  const rec = new Recorder({
    robotId: ROBOT, task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`),
    chunkSteps: CHUNK, chunkMs: 1e9, spool, camera: null, policyVersion: null, stampOriginUnixMs: null, maxChunkBytes: 8 << 20, buffers: 8, logger: silentLogger,
  });
  const view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(OBS).fill(0.5), action: new Float64Array(ACT), command: new Float64Array(ACT), progress: 0, done: false, truncated: false };
  const t0 = performance.now();
  for (let fed = 0; fed < steps; fed += CHUNK) {
    while (spool.writesPending >= 6) await sleep(0);
    for (let i = 0; i < CHUNK; i++) { view.step++; rec.onStep(view, null); }
    await new Promise((r) => setImmediate(r));
  }
  await spool.flushed();
  const seconds = (performance.now() - t0) / 1000;
  await spool.close();
  return { steps, seconds: round(seconds, 2), steps_per_s: Math.round(steps / seconds), chunks_per_s: Math.round(steps / CHUNK / seconds) };
}

/** Stage 3 alone: the updater's decode + validate + SQLite commit (synchronous=FULL), in process, no MQTT. */
async function storeOnly(chunks: number, payload: Uint8Array) {
  const store = new RolloutStore(join(dir, 'store-only.sqlite'));
  const ingest = new Ingest(store, { maxChunkBytes: 8 << 20, logger: silentLogger });
  const raw = decode(payload) as Record<string, unknown>;
  const copies = Array.from({ length: chunks }, (_, i) => encode({ ...raw, episode: `${randomUUID()}:${i}`, chunk: 0 }));
  const t0 = performance.now();
  for (const c of copies) if ((await ingest.handle(topics.rollout(ROBOT), c)).outcome !== 'stored') throw new Error('store-only chunk not stored');
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { chunks, seconds: round(seconds, 2), chunks_per_s: Math.round(chunks / seconds), steps_per_s_equiv: Math.round((chunks / seconds) * CHUNK) };
}

async function mosquittoPubBaseline(url: string, port: number, payload: Buffer, count: number) {
  const file = join(dir, 'payload.bin');
  writeFileSync(file, payload);
  const sub = mqtt.connect(url, { username: 'updater', password: PASS.updater, clientId: 'bench-sub2', reconnectPeriod: 0 });
  await new Promise((r) => sub.once('connect', r));
  let got = 0;
  sub.on('message', () => { got++; });
  await sub.subscribeAsync(topics.updaterBench(), { qos: 1 });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'updater', '-P', PASS.updater, '-t', topics.updaterBench(), '-q', '1', '-f', file, '--repeat', String(count)],
      (err) => (err ? reject(err) : resolve()));
  });
  while (got < count) await sleep(1);
  const seconds = (performance.now() - t0) / 1000;
  await sub.endAsync();
  return { messages: count, seconds: round(seconds, 2), msgs_per_s: Math.round(count / seconds), steps_per_s_equiv: Math.round((count / seconds) * CHUNK) };
}

const broker = await startBroker();
const storePath = join(dir, 'store.sqlite');
const updater = startUpdaterProcess(broker.url, storePath);
while (!updater.subscribed()) await sleep(20);

const runs = [];
for (const c of ['none', 'gzip'] as const) runs.push(await recorderRun(broker.url, c));
// The baselines publish full chunks (250 steps' worth), the size the recorder publishes most.
const payload = Buffer.alloc(Math.round(runs[0].bytes_per_step_wire * CHUNK), 7);
const messages = Math.ceil(STEPS / CHUNK);
const mqttjs = await mqttJsBaseline(broker.url, payload, messages, 8);
const mqttjsWide = await mqttJsBaseline(broker.url, payload, messages, 256);
let mosqPub: Awaited<ReturnType<typeof mosquittoPubBaseline>> | { skipped: string };
try {
  mosqPub = await mosquittoPubBaseline(broker.url, broker.port, payload, messages);
} catch (err) {
  mosqPub = { skipped: (err as Error).message.split('\n')[0] };
}

updater.child.kill('SIGTERM');
await updater.exited;
await broker.stop();
const spoolOnly_ = await spoolOnly(STEPS);
const storeOnly_ = await storeOnly(Math.ceil(STEPS / CHUNK), captured.chunk as Uint8Array);
const totalSteps = runs.reduce((s, r) => s + r.steps, 0) + runs.length * 10 * CHUNK;
const storeBytes = statSync(storePath).size;

process.stdout.write(`${JSON.stringify({
  bench: 'rollout-throughput',
  broker: brokerKind,
  node: process.version,
  observation_floats: OBS,
  joints: ACT,
  chunk_steps: CHUNK,
  recorder_to_store: runs,
  baseline_same_payload: { payload_bytes: payload.byteLength, mqttjs_qos1_window8: mqttjs, mqttjs_qos1_window256: mqttjsWide, mosquitto_pub_qos1: mosqPub },
  ratio_vs_mqttjs_window8: round(runs[0].steps_per_s / mqttjs.steps_per_s_equiv, 3),
  // The durable stages alone, on the same disk: the whole path cannot beat the slower of them.
  stages_alone: { spool_only: spoolOnly_, store_only: storeOnly_ },
  store: { file_bytes: storeBytes, steps: totalSteps, bytes_per_step: round(storeBytes / totalSteps, 1) },
}, null, 2)}\n`);
