// bench/rollout-throughput: sustained steps/s from the recorder to the updater's store on loopback (QoS 1,
// durable spool with fsync, end-to-end acks after the store's commit), 64-float observation, 6 joints, for 1, 4
// and 8 robots at once, into SQLite and into PostgreSQL; beside each, in the same run and against the same broker,
// what as many bare MQTT.js QoS 1 publishers achieve for the same payload (one chunk), publisher → broker →
// subscriber. Per stage: the spool worker's encode and write+fsync time per chunk, the publish → ack latency, the
// updater's store time per batch and chunks per batch, what the feeder (the control loop's stand-in) waited on
// (the spool or the acks), and the CPU the robots' process and the updater process used, in cores. Also the recorder's onStep cost, bytes per step, and
// mosquitto_pub's rate for one payload. The updater runs as its own process, as in production; the robots run
// in this process (each with its own spool worker thread and MQTT connection).
// The disk, per run: bytes each process sent to storage (/proc/<pid>/io write_bytes: the robots' spools, the
// updater's store) and what the device wrote (/sys/dev/block/<dev>/stat, the file system's journal included), per
// step, beside the disk alone in the same run (the same bytes appended in 576 KiB writes, fdatasync after each, as
// a spool batch does, and in 4 MiB writes synced every 64 MiB). The bare publishers run at least as long as the path.
// The CPU, per run: Mosquitto's (/proc/<pid>/stat) and the whole machine's busy cores (/proc/stat), for the path and
// the bare publishers alike, and each one's machine CPU per chunk; the stages alone report their own CPU per chunk.
// Where both are CPU-bound on the same cores, the ratio is the bare publisher's CPU per message over the path's.
// Prints one JSON object. Usage: node dist/bench/rollout-throughput.js [--steps N per robot] [--chunk-steps N]
//   [--robots 1,4,8] [--stores sqlite,postgres] [--compression none|gzip] [--broker aedes|mosquitto]
//   [--window N: the robots' rollout.max_inflight, default the config's] [--buffers N: the recorder's column sets,
//   rollout.buffers, default the config's] [--pg-setting name=value ...] [--mosquitto-conf 'line' ...]
//   [--repeat N: alternate N runs of the path and of the bare publisher; medians and their ratio]
//   [--warmup-s S: untimed feeding before each run is measured, default 2; the bare publishers warm up as long]
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decode, encode } from '@msgpack/msgpack';
import mqtt from 'mqtt';
import pg from 'pg';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { topics } from '../src/contracts/topics.js';
import { LatencyHistogram } from '../src/util/histogram.js';
import { createLogger, silentLogger } from '../src/log.js';
import { RewardStep } from '../src/reward/reward-step.js';
import { RolloutConfigSchema } from '../src/rollout/config.js';
import { Recorder } from '../src/rollout/recorder.js';
import { RolloutService } from '../src/rollout/rollout-service.js';
import { Spool } from '../src/rollout/spool.js';
import type { EpisodeStore } from '../src/updater/episode-store.js';
import { Ingest } from '../src/updater/ingest.js';
import { openEpisodeStore } from '../src/updater/open-store.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { MOSQUITTO, startMosquitto } from '../test/helpers/mosquitto.js';
import { startPostgres } from '../test/helpers/postgres.js';

const MAX_ROBOTS = 8;
const ROBOT_IDS = Array.from({ length: MAX_ROBOTS }, (_, i) => `bench-${i + 1}`);
const PASS: Record<string, string> = { updater: 'updater-pass' };
for (const r of ROBOT_IDS) PASS[r] = `${r}-pass`;
const OBS = 64;
const ACT = 6;
// The feeder stands in for the control loop: its rows come from a table (smooth signals, as a robot's are) so that
// its own cost (76 trigonometric calls a step) is not counted against the recorder's path it measures.
const TABLE_ROWS = 4096;
const OBS_TABLE = Float64Array.from({ length: TABLE_ROWS * OBS }, (_, i) => Math.sin(Math.floor(i / OBS) * 0.01 + (i % OBS)));
const ACT_TABLE = Float64Array.from({ length: TABLE_ROWS * ACT }, (_, i) => Math.cos(Math.floor(i / ACT) * 0.02 + (i % ACT)));
// One view per row, made once: a subarray per step would be the feeder's garbage, collected on the robots' CPU.
const OBS_ROWS = Array.from({ length: TABLE_ROWS }, (_, r) => OBS_TABLE.subarray(r * OBS, r * OBS + OBS));
const ACT_ROWS = Array.from({ length: TABLE_ROWS }, (_, r) => ACT_TABLE.subarray(r * ACT, r * ACT + ACT));
/** onStep is timed on every TIMED_EVERY-th step and on the last step fed (where chunks are cut), not on all. */
const TIMED_EVERY = 16;
type StoreSpec = { path: string } | { url: string };

/** Bytes this process (all its threads) has sent to the storage layer so far: /proc/self/io's write_bytes. */
function writeBytes(): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m === null ? Number.NaN : Number(m[1]);
}

/** Bytes the block device holding `path` has written so far (its stat's sectors written × 512), or NaN. */
function deviceBytesWritten(path: string): number {
  const dev = statSync(path).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 4096) & ~0xff) >>> 0);
  try {
    const f = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/);
    return Number(f[6]) * 512;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds a process has used so far (user + system, its threads included: /proc/<pid>/stat), or NaN. */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ, 100 on Linux)
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has been busy so far (every core; idle and I/O wait excluded: /proc/stat). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / 100;
}

if (process.env.STRIATUM_BENCH_ROLE === 'updater') {
  const a = JSON.parse(process.env.STRIATUM_BENCH_ARGS as string) as { url: string; store: StoreSpec };
  const updater = await runUpdater({
    logger: createLogger({ level: 'info', pretty: false }),
    config: UpdaterConfigSchema.parse({ id: 'bench-updater', broker: { url: a.url, username: 'updater', password: PASS.updater }, store: a.store }),
  });
  const cpu0 = process.cpuUsage(); // from here: the run's work, not module loading and start-up
  const written0 = writeBytes();
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  const cpu = process.cpuUsage(cpu0);
  await updater.close(); // its last commit and checkpoint count as the run's
  process.stderr.write(`${JSON.stringify({ msg: 'bench updater cpu', cpu_ms: (cpu.user + cpu.system) / 1000, write_bytes: writeBytes() - written0 })}\n`);
  process.exit(0);
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  steps: { type: 'string' }, 'chunk-steps': { type: 'string' }, broker: { type: 'string' }, robots: { type: 'string' },
  stores: { type: 'string' }, buffers: { type: 'string' }, 'warmup-s': { type: 'string' }, repeat: { type: 'string' }, 'mosquitto-conf': { type: 'string', multiple: true }, compression: { type: 'string' }, window: { type: 'string' }, 'pg-setting': { type: 'string', multiple: true },
} as const;
const USAGE = `usage: node dist/bench/rollout-throughput.js [options]   (prints one JSON object)
  --steps N            steps per robot and run (default 50000)
  --chunk-steps N      steps per chunk (default 250)
  --robots 1,4,8       robot counts, each a run with its own updater process
  --stores sqlite,postgres
  --compression none|gzip
  --broker aedes|mosquitto   (default mosquitto when installed)
  --window N           rollout.max_inflight (default: the config's)
  --buffers N          rollout.buffers (default: the config's)
  --warmup-s S         untimed feeding before each run is measured, and as long for the bare publishers (default 2)
  --repeat N           alternate N runs of the path and of the bare publishers; medians and their ratio
  --pg-setting name=value, --mosquitto-conf 'line'   (repeatable)
Scratch files (spools, SQLite store, disk probe) go under $TMPDIR: TMPDIR=/dev/shm takes the disk out of the path.
`;
let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  ({ values } = parseArgs({ options: OPTIONS }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const STEPS = Number(values.steps ?? 50_000);
const CHUNK = Number(values['chunk-steps'] ?? 250);
const ROBOT_COUNTS = (values.robots ?? '1,4,8').split(',').map(Number);
const STORES = (values.stores ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
/** The recorder's column sets (rollout.buffers): how many cut chunks can wait for the spool's write + fdatasync. */
const BUFFERS = values.buffers === undefined ? RolloutConfigSchema.parse({}).buffers : Number(values.buffers);
/** More mosquitto.conf lines (`--mosquitto-conf 'set_tcp_nodelay true'`, repeatable), printed with the results. */
const MOSQUITTO_CONF = values['mosquitto-conf'] ?? [];
/** Alternated runs of the path and the bare publisher per store and robot count (`--repeat N`, default 1). */
const REPEAT = Math.max(1, Number(values.repeat ?? 1));
const COMPRESSION = (values.compression ?? 'none') as 'none' | 'gzip';
/** Seconds each run feeds untimed before it measures (`--warmup-s`, default 2); the bare publisher likewise. */
const WARMUP_S = Number(values['warmup-s'] ?? 2);
/** The robots' in-flight window (rollout.max_inflight); default: the config's default. */
const WINDOW = values.window === undefined ? RolloutConfigSchema.parse({}).max_inflight : Number(values.window);
const brokerKind = values.broker ?? (MOSQUITTO !== null ? 'mosquitto' : 'aedes');
const dir = mkdtempSync(join(tmpdir(), 'striatum-bench-rollout-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** The broker; `pid` is Mosquitto's (aedes runs inside this process, so its CPU counts as the robots' process's). */
async function startBroker(): Promise<{ url: string; port: number; pid?: number; stop(): Promise<void> }> {
  if (brokerKind === 'mosquitto') {
    const m = await startMosquitto(PASS, { confExtra: MOSQUITTO_CONF });
    return { url: m.url, port: m.port, pid: m.proc.pid, stop: () => m.stop() };
  }
  const b = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [...ROBOT_IDS.map((r) => makeAccount(r, PASS[r], 'robot')), makeAccount('updater', PASS.updater, 'updater')],
  });
  return { url: b.url, port: b.port, stop: () => b.close() };
}

function startUpdaterProcess(url: string, store: StoreSpec) {
  const env = { ...process.env, STRIATUM_BENCH_ROLE: 'updater', STRIATUM_BENCH_ARGS: JSON.stringify({ url, store }) };
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child, exited, subscribed: () => log.includes('"updater subscribed"'),
    /** The updater's own totals, from its last log line (after SIGTERM). */
    stopped: (): { stored: number; batches: number; store_ms: number; cpu_ms: number; write_bytes: number } | null => {
      const line = log.split('\n').find((l) => l.includes('"updater stopped"'));
      const cpu = log.split('\n').find((l) => l.includes('"bench updater cpu"'));
      if (line === undefined) return null;
      const c = cpu === undefined ? { cpu_ms: Number.NaN, write_bytes: Number.NaN } : JSON.parse(cpu) as { cpu_ms: number; write_bytes: number };
      return { ...JSON.parse(line) as { stored: number; batches: number; store_ms: number }, cpu_ms: c.cpu_ms, write_bytes: c.write_bytes };
    },
  };
}

/** A full chunk as published, kept from the first run for the store-only stage. */
const captured: { chunk: Uint8Array | null; robot: string } = { chunk: null, robot: ROBOT_IDS[0] };

/** One robot: its own rollout service (spool worker, MQTT connection), fed `steps` steps under backpressure. */
async function robotRun(url: string, robot: string, steps: number, go: Promise<void>) {
  const service = await RolloutService.start({
    robotId: robot, task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`),
    policyVersion: 'bench', stampOriginUnixMs: null, spoolDir: join(dir, `spool-${robot}-${randomUUID()}`), logger: silentLogger,
    mqtt: { url, username: robot, password: PASS[robot] },
    config: { chunk_steps: CHUNK, compression: COMPRESSION, buffers: BUFFERS, max_spool_mb: 512, max_inflight: WINDOW },
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
      const row = view.step % TABLE_ROWS;
      view.observation.set(OBS_ROWS[row]);
      view.action.set(ACT_ROWS[row]);
      for (let j = 0; j < ACT; j++) view.command[j] = view.action[j] * 0.9;
      reward.total = view.step * 1e-3;
      if (measure && (i % TIMED_EVERY === 0 || i === n - 1)) {
        const cuts = rec.stats.chunksCut;
        const t = performance.now();
        rec.onStep(view, reward);
        const us = (performance.now() - t) * 1000;
        (rec.stats.chunksCut !== cuts ? perCut : perStep).record(us);
      } else {
        rec.onStep(view, reward);
      }
      if (view.step % 1000 === 999) {
        rec.onEpisodeEnd({ episode: view.episode, instruction: '', outcome: 'timeout' });
        view.episode++;
        view.step = -1;
      }
    }
  };
  if (captured.chunk === null && COMPRESSION === 'none') {
    service.spool.onWritten = ((hook) => (entry, bytes) => {
      if (!entry.final && captured.chunk === null) { captured.chunk = bytes; captured.robot = robot; }
      hook?.(entry, bytes);
    })(service.spool.onWritten);
  }
  // The feeder waits for the spool to change (a chunk written or acknowledged), as a control loop would find a
  // free set on its next tick, not for a 1 ms timer: the bare publishers' pump is driven by their PUBACKs too.
  let wake: (() => void) | null = null;
  const onUsage = service.spool.onUsage;
  service.spool.onUsage = () => {
    onUsage?.();
    if (wake !== null) { const w = wake; wake = null; w(); }
  };
  const spoolChanged = () => new Promise<void>((resolve) => { wake = resolve; });
  const drained = async () => { while (service.publisher.backlog > 0 || service.spool.writesPending > 0) await sleep(1); };
  // Backpressure: never more than twice the window (at least 32) unacknowledged and 2 column sets always free,
  // so nothing is counted as unrecorded and the rate is what the whole path sustains.
  const maxBacklog = Math.max(32, 2 * WINDOW);
  const busy = () => service.publisher.backlog + service.spool.writesPending >= maxBacklog || service.spool.writesPending >= BUFFERS - 2 || !rec.recording;
  while (!service.publisher.connectedToBroker) await sleep(5);
  // Warm-up, untimed: connections, first fsyncs, and the JIT of this process and of the fresh updater process (a
  // production updater has run for days; compiling its hot paths cost ~8% of the machine in a 4 s run).
  const warmUntil = performance.now() + WARMUP_S * 1000;
  let warmSteps = 0;
  for (let i = 0; i < 4 || performance.now() < warmUntil; i++) {
    while (busy()) await sleep(1);
    feed(CHUNK, false);
    warmSteps += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  await drained();
  await go;
  const chunks0 = service.spool.stats.chunksWritten;
  const bytes0 = service.spool.stats.bytesWritten;
  const enc0 = service.spool.workerUs.encode;
  const wr0 = service.spool.workerUs.write;
  const t0 = performance.now();
  let fed = 0;
  // Why the feeder waited: on the spool (writes not yet on disk) or on acks (the unacknowledged backlog).
  const waitedMs = { spool: 0, acks: 0 };
  while (fed < steps) {
    if (busy()) {
      const onSpool = service.spool.writesPending >= BUFFERS - 2;
      const tw = performance.now();
      await Promise.race([spoolChanged(), sleep(50)]);
      waitedMs[onSpool ? 'spool' : 'acks'] += performance.now() - tw;
      continue;
    }
    feed(CHUNK, true);
    fed += CHUNK;
    await new Promise((r) => setImmediate(r));
  }
  await drained();
  const seconds = (performance.now() - t0) / 1000;
  const chunks = service.spool.stats.chunksWritten - chunks0;
  const fileBytes = service.spool.stats.bytesWritten - bytes0;
  const payloadPerChunk = (fileBytes - 16 * chunks) / chunks;
  const framing = 1 + 4 + 2 + topics.rollout(robot).length + 2;
  const stats = service.stats();
  const ack = service.publisher.ackLatency;
  const result = {
    steps: fed, warmSteps, seconds, chunks, payloadPerChunk, bytesPerStepWire: ((payloadPerChunk + framing) * chunks) / fed,
    unrecorded: stats.recorder.unrecordedSteps, resent: stats.publisher.resent,
    encodeUsPerChunk: (service.spool.workerUs.encode - enc0) / chunks, writeUsPerChunk: (service.spool.workerUs.write - wr0) / chunks,
    ack, perStep, perCut, waitedMs,
  };
  await service.close('bench done', 5000);
  return result;
}

/** R robots at once into the running updater; the rate is all their steps over the slowest robot's time. */
async function fleetRun(url: string, robots: number) {
  let start!: () => void;
  const go = new Promise<void>((r) => { start = r; });
  const runs = ROBOT_IDS.slice(0, robots).map((r) => robotRun(url, r, STEPS, go));
  await sleep(500);
  start();
  const results = await Promise.all(runs);
  const seconds = Math.max(...results.map((r) => r.seconds));
  const steps = results.reduce((s, r) => s + r.steps, 0);
  const mean = (f: (r: (typeof results)[number]) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
  const r0 = results[0];
  return {
    robots, steps, steps_with_warmup: steps + results.reduce((s, r) => s + r.warmSteps, 0), seconds: round(seconds, 2), steps_per_s: Math.round(steps / seconds),
    chunk_payload_bytes_mean: Math.round(mean((r) => r.payloadPerChunk)), bytes_per_step_wire: round(mean((r) => r.bytesPerStepWire), 1),
    unrecorded_steps: results.reduce((s, r) => s + r.unrecorded, 0), resent: results.reduce((s, r) => s + r.resent, 0),
    per_chunk_ms: {
      spool_encode: round(mean((r) => r.encodeUsPerChunk) / 1000, 2), spool_write_fsync: round(mean((r) => r.writeUsPerChunk) / 1000, 2),
      publish_to_ack_p50: round(r0.ack.quantile(0.5) / 1000, 2), publish_to_ack_p99: round(r0.ack.quantile(0.99) / 1000, 2),
    },
    // Share of the run each robot's feeder (the control loop's stand-in) spent waiting, and on what.
    feeder_waiting_share: { on_spool: round(mean((r) => r.waitedMs.spool / 1000 / r.seconds), 3), on_acks: round(mean((r) => r.waitedMs.acks / 1000 / r.seconds), 3) },
    onstep_us: { p50: round(r0.perStep.quantile(0.5), 2), p99: round(r0.perStep.quantile(0.99), 2), cut_p50: round(r0.perCut.quantile(0.5), 1), cut_p99: round(r0.perCut.quantile(0.99), 1) },
  };
}

/**
 * `publishers` bare MQTT.js clients at once, each publishing `count` payloads QoS 1 (at most `window` unacked), and
 * on for at least `minSeconds` (the path's own run time: a baseline of a fraction of a second moved ×3 between
 * runs), timed until one subscriber has them all.
 */
async function mqttJsBaseline(url: string, brokerPid: number | undefined, payload: Buffer, count: number, window: number, publishers: number, minSeconds = 0) {
  const sub = mqtt.connect(url, { username: 'updater', password: PASS.updater, clientId: 'bench-sub', reconnectPeriod: 0 });
  const pubs = Array.from({ length: publishers }, (_, i) => mqtt.connect(url, { username: 'updater', password: PASS.updater, clientId: `bench-pub-${i}`, reconnectPeriod: 0 }));
  await Promise.all([sub, ...pubs].map((c) => new Promise((r) => c.once('connect', r))));
  let got = 0;
  let lastAt = 0;
  sub.on('message', () => { got++; lastAt = performance.now(); });
  await sub.subscribeAsync(topics.updaterBench(), { qos: 1 });
  /** Every publisher publishes `count` payloads and until `untilMs`, at most `window` unacked; resolves with how many. */
  const publishAll = async (count: number | null, untilMs = 0) => (await Promise.all(pubs.map((pub) => new Promise<number>((resolve) => {
    let inflight = 0;
    let sent = 0;
    const more = () => (count !== null && sent < count) || performance.now() < untilMs;
    const pump = () => {
      while (inflight < window && more()) {
        inflight++;
        sent++;
        pub.publish(topics.updaterBench(), payload, { qos: 1 }, () => { inflight--; pump(); });
      }
      if (!more() && inflight === 0) resolve(sent);
    };
    pump();
  })))).reduce((a, b) => a + b, 0);
  // Warm-up, untimed, as long as the recorder's path gets.
  const warm = await publishAll(null, performance.now() + WARMUP_S * 1000);
  while (got < warm && !(got > 0 && performance.now() - lastAt > 3000)) await sleep(1);
  got = 0;
  const t0 = performance.now();
  const busy0 = machineBusySeconds();
  const brokerCpu0 = processCpuSeconds(brokerPid);
  const total = await publishAll(count, t0 + minSeconds * 1000);
  // A broker drops QoS 1 messages for a subscriber that lags by more than its queue (Mosquitto's
  // max_queued_messages, 1000): then the rate is what the subscriber received, over the time it took, and the
  // drops are reported (the recorder's path never loses one: every chunk is resent until acked).
  while (got < total && !(got > 0 && performance.now() - lastAt > 3000)) await sleep(1);
  const seconds = ((got < total ? lastAt : performance.now()) - t0) / 1000;
  const heldSeconds = (performance.now() - t0) / 1000;
  const busy = machineBusySeconds() - busy0;
  const brokerCpu = processCpuSeconds(brokerPid) - brokerCpu0;
  await Promise.all([sub, ...pubs].map((c) => c.endAsync()));
  return {
    publishers, messages: total, window, seconds: round(seconds, 2), msgs_per_s: Math.round(got / seconds), steps_per_s_equiv: Math.round((got / seconds) * CHUNK),
    dropped_by_broker: total - got, machine_busy_cores: round(busy / heldSeconds, 2), broker_cpu_cores: round(brokerCpu / heldSeconds, 2),
    machine_cpu_ms_per_message: round((busy * 1000) / Math.max(1, got), 2),
  };
}

/** Stage 1 alone: recorder → spool worker (encode, write, fsync, rename, fsync dir), nothing published. */
async function spoolOnly(steps: number) {
  const spool = await Spool.open({ dir: join(dir, 'spool-only'), maxBytes: 1 << 30, compression: COMPRESSION, logger: silentLogger });
  const rec = new Recorder({
    robotId: ROBOT_IDS[0], task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`),
    chunkSteps: CHUNK, chunkMs: 1e9, spool, camera: null, policyVersion: null, stampOriginUnixMs: null, maxChunkBytes: 8 << 20, buffers: BUFFERS, logger: silentLogger,
  });
  const view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(OBS).fill(0.5), action: new Float64Array(ACT), command: new Float64Array(ACT), progress: 0, done: false, truncated: false };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let fed = 0; fed < steps; fed += CHUNK) {
    while (spool.writesPending >= BUFFERS - 2) await sleep(0);
    for (let i = 0; i < CHUNK; i++) { view.step++; rec.onStep(view, null); }
    await new Promise((r) => setImmediate(r));
  }
  await spool.flushed();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0); // this process: the feeder, the recorder and the spool worker thread
  await spool.close();
  return {
    steps, seconds: round(seconds, 2), steps_per_s: Math.round(steps / seconds), chunks_per_s: Math.round(steps / CHUNK / seconds),
    cpu_ms_per_chunk: round((cpu.user + cpu.system) / 1000 / (steps / CHUNK), 2),
  };
}

/** Stage 3 alone: the updater's decode + validate + store commit, in process, no MQTT; one chunk per batch and 16. */
async function storeOnly(store: EpisodeStore, chunks: number, payload: Uint8Array) {
  const raw = decode(payload) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const batch of [1, 16]) {
    const ingest = new Ingest(store, { maxChunkBytes: 8 << 20, logger: silentLogger, maxBatch: batch });
    const copies = Array.from({ length: chunks }, (_, i) => encode({ ...raw, episode: `${randomUUID()}:${i}`, chunk: 0 }));
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < copies.length; i += batch) {
      const rs = await Promise.all(copies.slice(i, i + batch).map((c) => ingest.handle(topics.rollout(captured.robot), c)));
      const bad = rs.find((r) => r.outcome !== 'stored');
      if (bad !== undefined) throw new Error(`store-only chunk not stored: ${JSON.stringify(bad)}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0); // this process: decode, checks, the store client (not PostgreSQL's server)
    out[`batch_${batch}`] = {
      chunks, seconds: round(seconds, 2), chunks_per_s: Math.round(chunks / seconds), steps_per_s_equiv: Math.round((chunks / seconds) * CHUNK),
      ms_per_commit: round((ingest.storeMs / ingest.batches), 2), cpu_ms_per_chunk: round((cpu.user + cpu.system) / 1000 / chunks, 2),
    };
  }
  await store.close();
  return out;
}

/**
 * The disk alone: `bytes` appended to a fresh file in `blockKiB` writes, fdatasync after every `syncKiB`. 576 KiB
 * synced each is a spool batch of 6 chunks; 4 MiB writes synced every 64 MiB is about the most the disk takes.
 */
function diskAlone(bytes: number, blockKiB: number, syncKiB: number) {
  const file = join(dir, 'disk-alone.bin');
  const block = Buffer.alloc(blockKiB * 1024, 7);
  const fd = openSync(file, 'w');
  const t0 = performance.now();
  let written = 0;
  let unsynced = 0;
  while (written < bytes) {
    const n = writeSync(fd, block);
    written += n;
    unsynced += n;
    if (unsynced >= syncKiB * 1024 || written >= bytes) { fdatasyncSync(fd); unsynced = 0; }
  }
  const seconds = (performance.now() - t0) / 1000;
  closeSync(fd);
  rmSync(file);
  return { bytes: written, seconds: round(seconds, 2), mb_per_s: round(written / seconds / 1e6, 1) };
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
/** Extra PostgreSQL server settings (`--pg-setting shared_buffers=256MB`, repeatable), printed with the results. */
const PG_SETTINGS = Object.fromEntries((values['pg-setting'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const postgres = STORES.includes('postgres') ? await startPostgres({ settings: PG_SETTINGS }) : null;
// A failure mid-run must not leave the broker and the database server running behind it.
const stopped = { broker: false, postgres: false };
let runningUpdater: ReturnType<typeof startUpdaterProcess> | null = null;
process.once('uncaughtException', (err) => { void failed(err); });
process.once('unhandledRejection', (err) => { void failed(err); });
async function failed(err: unknown): Promise<void> {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  runningUpdater?.child.kill('SIGKILL');
  if (!stopped.broker) await broker.stop().catch(() => undefined);
  if (!stopped.postgres) await postgres?.destroy().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}
const results: Record<string, unknown>[] = [];
let payload: Buffer | null = null;
for (const kind of STORES) {
  let store: StoreSpec;
  if (kind === 'sqlite') store = { path: join(dir, 'store.sqlite') };
  else {
    const admin = new pg.Client({ connectionString: postgres!.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    store = { url: postgres!.url.replace(/\/postgres$/, '/bench') };
  }
  for (const robots of ROBOT_COUNTS) {
    const reps: { path: Record<string, unknown> & { steps_per_s: number }; bare: Awaited<ReturnType<typeof mqttJsBaseline>> }[] = [];
    for (let rep = 0; rep < REPEAT; rep++) {
      // A fresh updater process per run, so its totals (batches, store time, CPU) are this run's.
      const updater = startUpdaterProcess(broker.url, store);
      runningUpdater = updater;
      while (!updater.subscribed()) await sleep(20);
      const startedAt = performance.now();
      const cpu0 = process.cpuUsage();
      const busy0 = machineBusySeconds();
      const brokerCpu0 = processCpuSeconds(broker.pid);
      const written0 = writeBytes();
      const device0 = deviceBytesWritten(dir);
      const run = await fleetRun(broker.url, robots);
      const cpu1 = process.cpuUsage(cpu0);
      const busy1 = machineBusySeconds();
      const brokerCpu1 = processCpuSeconds(broker.pid);
      const robotsWritten = writeBytes() - written0;
      const heldSeconds = (performance.now() - startedAt) / 1000;
      updater.child.kill('SIGTERM');
      await updater.exited;
      runningUpdater = null;
      const deviceWritten = deviceBytesWritten(dir) - device0;
      const u = updater.stopped();
      // Every step fed (warm-up included) went through the spool and the store by the end of the run.
      const perStep = (b: number) => round(b / run.steps_with_warmup, 0);
      const aloneBytes = Math.min(deviceWritten, 1 << 30);
      const alone = { spool_like_576k_fdatasync_each: diskAlone(aloneBytes, 576, 576), sequential_4m_fdatasync_per_64m: diskAlone(aloneBytes, 4096, 65_536) };
      const disk = {
        // PostgreSQL's own writes are its server's (the updater only sends rows): the device's figure counts them.
        robots_process_bytes_per_step: perStep(robotsWritten), updater_process_bytes_per_step: perStep(u?.write_bytes ?? Number.NaN),
        device_bytes_per_step: perStep(deviceWritten), device_mb_per_s_during_run: round(deviceWritten / heldSeconds / 1e6, 1),
        // The disk alone right after (on a virtual disk its rate moves between runs as much as the path's does).
        disk_alone: alone,
      };
      // The baseline right after, against the same broker: as many bare publishers, the same payload and count, and
      // on for at least as long as the path ran.
      payload ??= Buffer.alloc(Math.round(run.bytes_per_step_wire * CHUNK), 7);
      const bare = await mqttJsBaseline(broker.url, broker.pid, payload, Math.ceil(STEPS / CHUNK), 8, robots, run.seconds);
      reps.push({ bare, path: {
        store: kind, ...run,
        // The updater process over this run (warm-up chunks included, start-up not): its batches, time in the
        // store's transactions, and CPU in cores; the robots' process (recorders, spool workers, MQTT clients) beside it.
        updater: u === null ? null : {
          chunks_stored: u.stored, batches: u.batches, chunks_per_batch: round(u.stored / Math.max(1, u.batches), 2),
          store_ms_per_batch: round(u.store_ms / Math.max(1, u.batches), 2), cpu_cores: round(u.cpu_ms / 1000 / heldSeconds, 2),
        },
        robots_process_cpu_cores: round((cpu1.user + cpu1.system) / 1e6 / heldSeconds, 2),
        // Mosquitto's own CPU, and every core's busy time over the run (this machine's other load included): the
        // path is CPU-bound when this is close to the core count.
        broker_cpu_cores: round((brokerCpu1 - brokerCpu0) / heldSeconds, 2),
        machine_busy_cores: round((busy1 - busy0) / heldSeconds, 2),
        machine_cpu_ms_per_chunk: round(((busy1 - busy0) * 1000) / (run.steps_with_warmup / CHUNK), 2),
        disk,
      } });
      process.stderr.write(`${kind} ×${robots}: ${run.steps_per_s} steps/s (bare MQTT.js ${bare.steps_per_s_equiv})\n`);
    }
    // With --repeat, path and bare publisher alternate (the bare rate alone moves by half between runs on a shared
    // machine): each is reported by its median run (the lower middle one for an even count), whole, and the ratio
    // is median over median.
    const medianRun = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[(xs.length - 1) >> 1];
    const path = medianRun(reps, (r) => r.path.steps_per_s).path;
    const bare = medianRun(reps, (r) => r.bare.steps_per_s_equiv).bare;
    results.push({
      ...path, bare_mqttjs_qos1_window8: bare, ratio_vs_bare: round(path.steps_per_s / bare.steps_per_s_equiv, 3),
      ...(REPEAT > 1 ? { repeats: {
        steps_per_s: reps.map((r) => r.path.steps_per_s), bare_steps_per_s_equiv: reps.map((r) => r.bare.steps_per_s_equiv),
      } } : {}),
    });
  }
}

const mqttjsWide = await mqttJsBaseline(broker.url, broker.pid, payload as Buffer, Math.ceil(STEPS / CHUNK), 256, 1);
let mosqPub: Awaited<ReturnType<typeof mosquittoPubBaseline>> | { skipped: string };
try {
  mosqPub = await mosquittoPubBaseline(broker.url, broker.port, payload as Buffer, Math.ceil(STEPS / CHUNK));
} catch (err) {
  mosqPub = { skipped: (err as Error).message.split('\n')[0] };
}
stopped.broker = true;
await broker.stop();
const spoolOnly_ = await spoolOnly(STEPS);
const storeOnly_: Record<string, unknown> = {};
if (captured.chunk !== null) {
  for (const kind of STORES) {
    const location = kind === 'sqlite' ? join(dir, 'store-only.sqlite') : (postgres as NonNullable<typeof postgres>).url;
    storeOnly_[kind] = await storeOnly(await openEpisodeStore(location, { logger: silentLogger }), 1000, captured.chunk);
  }
}
stopped.postgres = true;
await postgres?.destroy();
const sqliteBytes = STORES.includes('sqlite') ? statSync(join(dir, 'store.sqlite')).size : null;
// The spools and stores: several GB for a long run, and nothing in them is read afterwards.
rmSync(dir, { recursive: true, force: true });

process.stdout.write(`${JSON.stringify({
  bench: 'rollout-throughput',
  broker: brokerKind,
  node: process.version,
  observation_floats: OBS,
  joints: ACT,
  chunk_steps: CHUNK,
  compression: COMPRESSION,
  robot_window: WINDOW,
  warmup_s: WARMUP_S,
  postgres_settings: PG_SETTINGS,
  mosquitto_conf: MOSQUITTO_CONF,
  steps_per_robot: STEPS,
  recorder_to_store: results,
  baseline_same_payload: { payload_bytes: payload?.byteLength ?? null, mqttjs_qos1_window256: mqttjsWide, mosquitto_pub_qos1: mosqPub },
  // The durable stages alone, on the same disk: the whole path cannot beat the slower of them.
  stages_alone: { spool_only: spoolOnly_, store_only: storeOnly_ },
  sqlite_file_bytes: sqliteBytes,
}, null, 2)}\n`);
