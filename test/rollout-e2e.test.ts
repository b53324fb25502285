// No data lost, end to end, with real processes and real brokers (the embedded aedes and a real Mosquitto):
// a robot process is kill -9'd mid-episode and restarted on the same spool, the broker is restarted while the
// robot records, the updater process is kill -9'd and restarted. Afterwards every step the robots spooled is in
// the store exactly once, checked by count and by content (every value is a function of episode and step).
//
// The robot process drives the real Recorder + Spool + Publisher (RolloutService) with synthetic steps at a
// fixed pace rather than the sim control loop: the content check needs values derived from (episode, step),
// and the pace must not depend on physics or ONNX. test/rollout-runtime.test.ts covers the real control loop.
//
// This file is also the child processes: STRIATUM_E2E_ROLE=robot | updater runs that role instead of tests.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { decodeStoredBody, type RolloutHeader } from '../src/contracts/rollout.js';
import { createLogger, silentLogger } from '../src/log.js';
import { RewardStep } from '../src/reward/reward-step.js';
import { RolloutService } from '../src/rollout/rollout-service.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { freePort, tempDir, waitFor } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { requireMosquitto } from './helpers/required-tools.js';

const ROBOT = 'arm-7';
const PASS = { [ROBOT]: 'arm-7-pass', updater: 'updater-pass' };
const OBS = 64;
const ACT = 6;

interface RobotArgs { url: string; spoolDir: string; episodes: number | null; stepsPerEpisode: number; chunkSteps: number; tickMs: number; stepsPerTick: number }
interface UpdaterArgs { url: string; storePath: string; id: string }

/** The value every robot writes for observation k of step `step` in episode `index`: exact in float32. */
const obsValue = (index: number, step: number, k: number) => index * 10_000 + step * 8 + k;

// ---------------------------------------------------------------------------------------------------------------
// Child roles.

async function robotMain(a: RobotArgs): Promise<void> {
  const emit = (e: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(e)}\n`);
  const service = await RolloutService.start({
    robotId: ROBOT, task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`),
    policyVersion: 'e2e-1', stampOriginUnixMs: null, spoolDir: a.spoolDir, logger: createLogger({ level: 'warn', pretty: false }),
    mqtt: { url: a.url, username: ROBOT, password: PASS[ROBOT] },
    config: { chunk_steps: a.chunkSteps, compression: 'gzip', buffers: 16, ack_timeout_ms: 400, ack_timeout_max_ms: 1500, reconnect_min_ms: 100, reconnect_max_ms: 800, max_spool_mb: 256 },
  });
  const publisherHook = service.spool.onWritten;
  service.spool.onWritten = (entry, payload) => {
    emit({ event: 'spooled', episode: entry.episode, chunk: entry.chunk, final: entry.final });
    publisherHook?.(entry, payload);
  };
  emit({ event: 'ready', run: service.recorder.runId, backlog: service.spool.backlog.map((e) => [e.episode, e.chunk]), tombstones: service.spool.scan.tombstones, quarantined: service.spool.scan.quarantined });
  const view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(OBS), action: new Float64Array(ACT), command: new Float64Array(ACT), progress: 0, done: false, truncated: false };
  const reward = new RewardStep();
  let episode = 0;
  let step = 0;
  let stopping = false;
  process.on('SIGTERM', () => { stopping = true; });
  service.recorder.onEpisodeStart({ episode, instruction: `episode ${episode}` });
  while (!stopping && (a.episodes === null || episode < a.episodes)) {
    for (let i = 0; i < a.stepsPerTick; i++) {
      view.episode = episode;
      view.step = step;
      view.stampMs = episode * 1e6 + step * 20;
      for (let k = 0; k < OBS; k++) view.observation[k] = obsValue(episode, step, k);
      for (let j = 0; j < ACT; j++) { view.action[j] = step + j; view.command[j] = -(step + j); }
      view.done = step === a.stepsPerEpisode - 1;
      reward.total = step;
      reward.rawProgress = step / a.stepsPerEpisode;
      service.recorder.onStep(view, reward);
      step++;
      if (step === a.stepsPerEpisode) {
        service.recorder.onEpisodeEnd({ episode, instruction: `episode ${episode}`, outcome: 'success' });
        emit({ event: 'episode', index: episode });
        episode++;
        step = 0;
        if (a.episodes !== null && episode >= a.episodes) break;
        service.recorder.onEpisodeStart({ episode, instruction: `episode ${episode}` });
      }
    }
    await new Promise((r) => setTimeout(r, a.tickMs));
  }
  await service.close('finished', 60_000);
  emit({ event: 'done', stats: service.stats() });
}

async function updaterMain(a: UpdaterArgs): Promise<void> {
  const config = UpdaterConfigSchema.parse({
    id: a.id, broker: { url: a.url, username: 'updater', password: PASS.updater, reconnect_min_ms: 100, reconnect_max_ms: 800 },
    store: { path: a.storePath }, status_interval_s: 1,
  });
  const updater = await runUpdater({ config, logger: createLogger({ level: 'info', pretty: false }) });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await updater.close();
}

// ---------------------------------------------------------------------------------------------------------------
// The test process.

interface Child { proc: ChildProcess; events: Record<string, any>[]; logs: Record<string, any>[]; exited: Promise<number | null> }

function spawnRole(role: 'robot' | 'updater', args: RobotArgs | UpdaterArgs): Child {
  const env: NodeJS.ProcessEnv = { ...process.env, STRIATUM_E2E_ROLE: role, STRIATUM_E2E_ARGS: JSON.stringify(args) };
  delete env.NODE_TEST_CONTEXT;
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, any>[] = [];
  const logs: Record<string, any>[] = [];
  const lines = (into: Record<string, any>[]) => {
    let buf = '';
    return (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { into.push(JSON.parse(line)); } catch { into.push({ raw: line }); }
      }
    };
  };
  proc.stdout!.on('data', lines(events));
  proc.stderr!.on('data', lines(logs));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, events, logs, exited };
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL');
  await c.exited;
}

interface Broker { url: string; stop(): Promise<void>; start(): Promise<void> }

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

async function brokerOf(kind: 'aedes' | 'mosquitto'): Promise<Broker> {
  if (kind === 'mosquitto') {
    let handle = await startMosquitto(PASS);
    const conf = handle.proc.spawnargs.slice(1);
    let proc: ChildProcess | null = null;
    return {
      url: handle.url,
      async stop() {
        if (proc !== null) {
          const p = proc;
          await new Promise<void>((resolve) => { if (p.exitCode !== null) return resolve(); p.once('exit', () => resolve()); p.kill('SIGTERM'); });
          proc = null;
        } else {
          await handle.stop();
        }
      },
      async start() {
        proc = spawn(requireMosquitto(), conf, { stdio: 'ignore' });
        let open = false;
        await waitFor('mosquitto to listen again', () => {
          void portOpen(handle.port).then((o) => { open = o; });
          return open;
        }, 10_000);
        handle = { ...handle, proc };
      },
    };
  }
  const port = await freePort();
  const accounts = [makeAccount(ROBOT, PASS[ROBOT], 'robot'), makeAccount('updater', PASS.updater, 'updater')];
  let b: EmbeddedBroker | null = await EmbeddedBroker.start({ host: '127.0.0.1', port, wsPort: null, accounts, logger: silentLogger });
  return {
    url: b.url,
    async stop() { await b?.close(); b = null; },
    async start() { b = await EmbeddedBroker.start({ host: '127.0.0.1', port, wsPort: null, accounts, logger: silentLogger }); },
  };
}

function storedChunks(storePath: string): number {
  if (!existsSync(storePath)) return 0;
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS c FROM chunks').get() as { c: number }).c;
  } catch {
    return 0; // the updater has not created the schema yet
  } finally {
    db.close();
  }
}

function registerTests(): void {
  for (const kind of ['aedes', 'mosquitto'] as const) {
    describe(`rollouts survive crashes and restarts over ${kind}`, () => {
      test('kill -9 of the robot, a broker restart and kill -9 of the updater lose and duplicate nothing', { timeout: 180_000 }, async (t) => {
        const dir = tempDir('striatum-e2e-');
        const spoolDir = join(dir, 'spool');
        const storePath = join(dir, 'store.sqlite');
        const broker = await brokerOf(kind);
        const children: Child[] = [];
        const start = (role: 'robot' | 'updater', args: RobotArgs | UpdaterArgs) => { const c = spawnRole(role, args); children.push(c); return c; };
        const robotArgs = { url: broker.url, spoolDir, stepsPerEpisode: 150, chunkSteps: 20, tickMs: 5, stepsPerTick: 2 };
        try {
          let updater = start('updater', { url: broker.url, storePath, id: `e2e-${kind}-1` });
          await waitFor('the updater to subscribe', () => updater.logs.find((l) => l.msg === 'updater subscribed'), 30_000);

          // 1. A robot records and publishes; it is killed -9 in the middle of its work.
          const robotA = start('robot', { ...robotArgs, episodes: null });
          await waitFor('robot A to get chunks stored', () => storedChunks(storePath) >= 12, 60_000);
          await kill9(robotA);

          // 2. The broker goes down; the restarted robot recovers its spool and records while it is down.
          await broker.stop();
          const robotB = start('robot', { ...robotArgs, episodes: 16 });
          await waitFor('robot B to start', () => robotB.events.find((e) => e.event === 'ready'), 30_000);
          await waitFor('robot B to spool while the broker is down', () => robotB.events.filter((e) => e.event === 'spooled').length >= 5, 30_000);
          const beforeRestart = storedChunks(storePath);
          await broker.start();
          await waitFor('chunks to flow again after the broker restart', () => storedChunks(storePath) > beforeRestart + 5, 60_000);

          // 3. The updater is killed -9 and restarted while the robot keeps recording.
          await kill9(updater);
          const spooledAtKill = robotB.events.filter((e) => e.event === 'spooled').length;
          await waitFor('robot B to spool with no updater', () => robotB.events.filter((e) => e.event === 'spooled').length >= spooledAtKill + 5, 30_000);
          updater = start('updater', { url: broker.url, storePath, id: `e2e-${kind}-2` });

          // 4. Robot B finishes its episodes and drains its spool through the new updater.
          const code = await robotB.exited;
          assert.equal(code, 0, JSON.stringify(robotB.logs.slice(-5)));
          updater.proc.kill('SIGTERM');
          await updater.exited;

          // --- Checks -------------------------------------------------------------------------------------------
          const ready = robotB.events.find((e) => e.event === 'ready')!;
          const done = robotB.events.find((e) => e.event === 'done')!;
          assert.ok(ready.backlog.length > 0, 'robot B found robot A\'s unacknowledged chunks on disk');
          assert.equal(readdirSync(spoolDir).filter((f) => f.endsWith('.seg') || f.endsWith('.chunk')).length, 0, 'every spooled chunk was acknowledged');
          const quarantined = readdirSync(join(spoolDir, 'quarantine'));
          assert.ok(quarantined.every((f) => f.includes('partial-write')), `only a write cut short by kill -9 may be set aside: ${quarantined.join(', ')}`);

          const db = new Database(storePath, { readonly: true });
          const rows = db.prepare('SELECT robot, episode, chunk, n, header, body FROM chunks ORDER BY episode, chunk').all() as { robot: string; episode: string; chunk: number; n: number; header: string; body: Buffer }[];
          const episodes = db.prepare('SELECT * FROM episodes').all() as { episode: string; steps: number; skipped_steps: number; complete: number; outcome: string; chunks: number }[];
          db.close();

          // Every chunk either robot reported as spooled is in the store.
          const have = new Set(rows.map((r) => `${r.episode}#${r.chunk}`));
          for (const c of [robotA, robotB]) {
            for (const e of c.events.filter((x) => x.event === 'spooled')) assert.ok(have.has(`${e.episode}#${e.chunk}`), `spooled chunk ${e.episode}#${e.chunk} missing from the store`);
          }
          // Every stored step exactly once, with the values the robot wrote. A robot whose disk falls behind pauses
          // and counts the steps it did not record (skipped_steps); those are the only gaps allowed.
          const stepsByEpisode = new Map<string, number[]>();
          const skippedBefore = new Map<string, number>();
          for (const r of rows) {
            const header = JSON.parse(r.header) as RolloutHeader;
            const cols = decodeStoredBody(header, r.body);
            const index = Number(r.episode.split(':')[1]);
            const list = stepsByEpisode.get(r.episode) ?? [];
            if (r.n > 0) skippedBefore.set(`${r.episode}@${cols.step[0]}`, header.skipped_steps);
            for (let i = 0; i < r.n; i++) {
              const s = cols.step[i];
              list.push(s);
              assert.equal(cols.observation[i * OBS], obsValue(index, s, 0));
              assert.equal(cols.observation[i * OBS + OBS - 1], obsValue(index, s, OBS - 1));
              assert.equal(cols.action[i * ACT + 2], s + 2);
              assert.equal(cols.reward.total[i], s);
            }
            stepsByEpisode.set(r.episode, list);
          }
          let total = 0;
          let skipped = 0;
          for (const [episode, steps] of stepsByEpisode) {
            let expect = 0;
            for (const s of steps) {
              if (s !== expect) {
                assert.ok(s > expect, `episode ${episode}: step ${s} stored twice or out of order`);
                assert.equal(skippedBefore.get(`${episode}@${s}`), s - expect, `episode ${episode}: steps ${expect}..${s - 1} missing without being reported as not recorded`);
                skipped += s - expect;
              }
              expect = s + 1;
            }
            total += steps.length;
          }
          assert.equal(episodes.reduce((s, e) => s + e.steps, 0), total);

          // Robot B: 16 whole episodes. Robot A: whole episodes, and at most one cut short by kill -9, closed as aborted.
          const runB = ready.run as string;
          const epsB = episodes.filter((e) => e.episode.startsWith(`${runB}:`));
          assert.equal(epsB.length, 16);
          for (const e of epsB) assert.deepEqual([e.steps + e.skipped_steps, e.complete, e.outcome], [150, 1, 'success']);
          const epsA = episodes.filter((e) => !e.episode.startsWith(`${runB}:`));
          assert.ok(epsA.length >= 2);
          for (const e of epsA) {
            assert.equal(e.complete, 1, `robot A's episode ${e.episode} is complete`);
            if (e.outcome !== 'aborted') assert.equal(e.steps + e.skipped_steps, 150);
          }
          assert.ok(epsA.filter((e) => e.outcome === 'aborted').length <= 1);
          assert.equal(ready.tombstones, epsA.filter((e) => e.outcome === 'aborted').length);
          t.diagnostic(JSON.stringify({
            chunks: rows.length, steps: total, not_recorded: skipped, episodes_a: epsA.length, aborted_a: ready.tombstones, backlog_at_restart: ready.backlog.length,
            quarantined: quarantined.length, robot_b_publisher: done.stats.publisher,
          }));
        } finally {
          for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) await kill9(c);
          await broker.stop();
        }
      });
    });
  }
}

const role = process.env.STRIATUM_E2E_ROLE;
if (role === 'robot') await robotMain(JSON.parse(process.env.STRIATUM_E2E_ARGS as string) as RobotArgs);
else if (role === 'updater') await updaterMain(JSON.parse(process.env.STRIATUM_E2E_ARGS as string) as UpdaterArgs);
else registerTests();
