// The fleet under faults: 8 robots (the real rollout path in their own processes, steps as fast as backpressure
// allows), 3 updaters (`striatum updater run`, MQTT 5 shared subscription), Mosquitto and PostgreSQL, all on
// loopback. While they run, robots, updaters and the broker are killed with SIGKILL and PostgreSQL is crashed
// (immediate shutdown) and restarted, one fault at a time, at least 30 in all. Then the robots drain and stop.
// What must hold: every chunk a robot spooled is in the store, every stored step exactly once with the content
// the robot generated, every episode closed, no spool holds a chunk, and training rounds ran.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import pg from 'pg';
import { silentLogger } from '../src/log.js';
import { PgEpisodeStore } from '../src/updater/pg-store.js';
import { CLI, REPO, tempDir, waitFor } from './helpers/fixtures.js';
import { FLEET_FIELDS, fleetCommand, fleetObservation, type FleetRobotArgs } from './helpers/fleet-robot.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { startPostgres } from './helpers/postgres.js';
import { requirePython } from './helpers/required-tools.js';

const ROBOTS = 8;
const UPDATERS = 3;
const FAULTS = 32;
const EPISODE_STEPS = 200;
const CHUNK_STEPS = 50;
const ROBOT_SCRIPT = fileURLToPath(new URL('./helpers/fleet-robot.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small deterministic random source, so a failing run can be replayed with STRIATUM_FLEET_SEED. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

test('fleet: 8 robots × 3 updaters × Mosquitto × PostgreSQL under ≥30 kill -9s and restarts lose nothing and store nothing twice', { timeout: 600_000 }, async () => {
  const python = requirePython(['torch', 'onnx', 'numpy']);
  const seed = Number(process.env.STRIATUM_FLEET_SEED ?? Date.now() % 100_000);
  const random = rng(seed);
  const dir = tempDir('striatum-fleet-');
  const robots = Array.from({ length: ROBOTS }, (_, i) => `fleet-${i + 1}`);
  const accounts: Record<string, string> = { updater: 'updater-pass' };
  for (const r of robots) accounts[r] = `${r}-pass`;
  const postgres = await startPostgres();
  const broker = await startMosquitto(accounts);
  const procs = new Map<string, ChildProcess>();
  const exits = new Map<string, Promise<number | null>>();
  const faults: string[] = [];
  try {
    const updaterConfig = join(dir, 'updater.yaml');
    writeFileSync(updaterConfig, [
      'broker:', `  url: ${broker.url}`, '  username: updater', '  password: updater-pass', '  reconnect_min_ms: 100', '  reconnect_max_ms: 1000',
      'store:', `  url: ${postgres.url}`,
      'training:', '  enabled: true', '  episodes_per_round: 40', '  window_episodes: 40', '  min_steps: 1000', `  python: ${python}`,
      `  base_policy_dir: ${join(REPO, 'models', 'push')}`, `  out_dir: ${join(dir, 'rounds')}`, '  epochs: 2', '  batch_size: 256', '  threads: 1', '',
    ].join('\n'));

    const spawnLogged = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): void => {
      const log = openSync(join(dir, `${name}.log`), 'a');
      const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
      procs.set(name, child);
      exits.set(name, new Promise((resolve) => child.once('exit', (code) => resolve(code))));
    };
    const startUpdater = (i: number) => spawnLogged(`updater-${i}`, [CLI, 'updater', 'run', '--config', updaterConfig, '--id', `u${i}`]);
    const robotArgs = (i: number): FleetRobotArgs => ({
      robot: robots[i], robotNumber: i + 1, url: broker.url, password: accounts[robots[i]], spoolDir: join(dir, 'spool', robots[i]),
      spoolLog: join(dir, `${robots[i]}.spooled.jsonl`), episodeSteps: EPISODE_STEPS, chunkSteps: CHUNK_STEPS, pauseMs: 60,
    });
    const startRobot = (i: number) => spawnLogged(robots[i], [ROBOT_SCRIPT], { STRIATUM_FLEET_ROBOT: JSON.stringify(robotArgs(i)) });
    const kill9 = async (name: string) => {
      procs.get(name)?.kill('SIGKILL');
      await exits.get(name);
    };

    mkdirSync(join(dir, 'spool'), { recursive: true });
    for (let i = 0; i < UPDATERS; i++) startUpdater(i);
    for (let i = 0; i < ROBOTS; i++) startRobot(i);
    await sleep(3000);

    // One fault at a time, each followed by its restart: robots and updaters most often, the broker and the
    // database now and then (every fifth fault at least one of them).
    for (let f = 0; f < FAULTS; f++) {
      await sleep(800 + random() * 1500);
      const roll = random();
      const infra = f % 5 === 4;
      if (infra && f % 10 === 4) {
        faults.push('broker');
        await broker.kill9();
        await sleep(300 + random() * 700);
        await broker.restart();
      } else if (infra) {
        faults.push('postgres');
        await postgres.crash();
        await sleep(300 + random() * 700);
        await postgres.start();
      } else if (roll < 0.6) {
        const i = Math.floor(random() * ROBOTS);
        faults.push(robots[i]);
        await kill9(robots[i]);
        await sleep(100 + random() * 500);
        startRobot(i);
      } else {
        const i = Math.floor(random() * UPDATERS);
        faults.push(`updater-${i}`);
        await kill9(`updater-${i}`);
        await sleep(100 + random() * 500);
        startUpdater(i);
      }
    }
    // Everything up for a while, so the store catches up and a training round can finish; then the robots drain.
    await sleep(8000);
    // A robot restarted by the last faults may still be loading: stop each only once its SIGTERM handler is in.
    for (const r of robots) {
      const pid = String(procs.get(r)?.pid);
      await waitFor(`${r} ready`, () => { try { return readFileSync(join(dir, `${r}.spooled.jsonl.ready`), 'utf8') === pid; } catch { return false; } }, 60_000);
      procs.get(r)?.kill('SIGTERM');
    }
    const codes = await Promise.all(robots.map((r) => exits.get(r)));
    assert.deepEqual(codes, robots.map(() => 0), `every robot drained its spool and exited 0 (seed ${seed}; faults ${faults.join(' ')})`);
    // Let a round that is under way finish (bounded), then stop the updaters.
    const probe = new pg.Client({ connectionString: postgres.url });
    await probe.connect();
    const deadline = Date.now() + 90_000;
    let roundsOk = 0;
    while (Date.now() < deadline) {
      roundsOk = readdirSync(join(dir, 'rounds'), { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(dir, 'rounds', d.name, 'model', 'policy.onnx'))).length;
      if (roundsOk > 0) break;
      await sleep(1000);
    }
    const roundsStarted = (await probe.query('SELECT count(*)::int AS n FROM training_rounds')).rows[0].n as number;
    await probe.end();
    for (let i = 0; i < UPDATERS; i++) procs.get(`updater-${i}`)?.kill('SIGTERM');
    await Promise.all([...exits.values()]);

    assert.ok(faults.length >= 30, `${faults.length} faults`);
    assert.ok(faults.includes('broker') && faults.includes('postgres'), faults.join(' '));
    console.log(`fleet: seed ${seed}, ${faults.length} faults: ${faults.join(' ')}`);

    // No spool holds a chunk: everything spooled was acked after its commit, and deleted.
    for (const r of robots) {
      const left = readdirSync(join(dir, 'spool', r)).filter((f) => f.endsWith('.seg') || f.endsWith('.chunk'));
      assert.deepEqual(left, [], `${r}'s spool is empty`);
    }

    const store = await PgEpisodeStore.open(postgres.url, { logger: silentLogger, readonly: true });
    try {
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      const stored = new Set((await db.query('SELECT robot, episode, chunk FROM chunks')).rows.map((c) => `${c.robot}/${c.episode}/${c.chunk}`));
      await db.end();
      let spooled = 0;
      for (const r of robots) {
        const lines = readFileSync(join(dir, `${r}.spooled.jsonl`), 'utf8').trim().split('\n').filter((l) => l !== '');
        for (const line of lines) {
          const c = JSON.parse(line) as { episode: string; chunk: number };
          spooled++;
          assert.ok(stored.has(`${r}/${c.episode}/${c.chunk}`), `spooled chunk ${r}/${c.episode}/${c.chunk} is in the store`);
        }
      }
      // Every stored step: exactly once (steps 0..n-1 in order, chunks 0..final), with the generated content.
      const episodes = await store.listEpisodes();
      let steps = 0;
      for (const e of episodes) {
        assert.ok(e.complete, `episode ${e.robot}/${e.episode} is closed (${e.chunks} chunks, final ${e.final_chunk})`);
        const ex = await store.exportEpisode(e.robot, e.episode);
        const robotNumber = robots.indexOf(e.robot) + 1;
        const index = Number(e.episode.split(':')[1]);
        assert.equal(ex.steps, e.steps);
        if (e.outcome === 'timeout') assert.equal(ex.steps, EPISODE_STEPS, `${e.robot}/${e.episode} ended by its time limit has every step`);
        else assert.equal(e.outcome, 'aborted');
        const dim = FLEET_FIELDS.reduce((s, f) => s + f.size, 0);
        for (let s = 0; s < ex.steps; s++) {
          assert.equal(ex.columns.step[s], s, `${e.robot}/${e.episode}: step ${s} once and in order`);
          for (let k = 0; k < dim; k++) {
            const want = Math.fround(fleetObservation(robotNumber, index, s, k));
            if (ex.columns.observation[s * dim + k] !== want) assert.fail(`${e.robot}/${e.episode} step ${s} observation ${k}: ${ex.columns.observation[s * dim + k]} ≠ ${want}`);
          }
          for (let j = 0; j < 2; j++) assert.equal(ex.columns.command[s * 2 + j], Math.fround(fleetCommand(s, j)));
        }
        steps += ex.steps;
      }
      const totals = await store.totals();
      assert.equal(totals.steps, steps, 'no chunk outside an episode');
      assert.equal(totals.chunks, stored.size);
      assert.ok(spooled > 0 && steps > 0);
      console.log(`fleet: ${episodes.length} episodes, ${steps} steps, ${totals.chunks} chunks stored; ${spooled} chunk spool records; training rounds started ${roundsStarted}, finished with a model ${roundsOk}`);
    } finally {
      await store.close();
    }
    assert.ok(roundsStarted >= 1 && roundsOk >= 1, `training rounds ran (started ${roundsStarted}, with a model ${roundsOk})`);
  } finally {
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all([...exits.values()]);
    await broker.stop();
    await postgres.destroy();
  }
});
