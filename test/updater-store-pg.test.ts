// The episode store on a real PostgreSQL (Debian's server, started by the test): the same exactly-once rule as
// SQLite, the same episodes and exports, two updaters' stores writing at once, versioned migrations (a newer
// schema is refused), a server that is down at start, the fleet-wide training lock, and the CLI on a URL.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { topics } from '../src/contracts/topics.js';
import { createLogger, silentLogger } from '../src/log.js';
import { updaterCommand } from '../src/cli/cmd-updater.js';
import { loadUpdaterConfig } from '../src/updater/config.js';
import { Ingest } from '../src/updater/ingest.js';
import { openEpisodeStore } from '../src/updater/open-store.js';
import { PG_SCHEMA_VERSION, PgEpisodeStore } from '../src/updater/pg-store.js';
import { RolloutStore } from '../src/updater/store.js';
import { readNpy } from '../src/util/npy.js';
import { tempDir } from './helpers/fixtures.js';
import { startPostgres, type PostgresHandle } from './helpers/postgres.js';
import { ROLLOUT_TEST_RUN as RUN, rolloutTestChunk } from './helpers/rollout-chunks.js';

const ROLLOUT = topics.rollout('arm-1');
const chunkOf = (index: number, chunk: number, first: number, n: number, final: false | 'success' | 'aborted' = false) =>
  rolloutTestChunk(index, chunk, first, n, final, { skippedSteps: chunk === 1 ? 3 : 0 });

let server: PostgresHandle;
let dbCount = 0;

/** A fresh database on the shared server, so tests never see each other's rows. */
async function freshDb(): Promise<string> {
  const name = `t${++dbCount}_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return server.url.replace(/\/postgres$/, `/${name}`);
}

before(async () => { server = await startPostgres(); });
after(async () => { await server?.destroy(); });

test('postgres store: a chunk is stored once, duplicates are acked as such, episodes complete in any order, exports match SQLite', async () => {
  const url = await freshDb();
  const store = await openEpisodeStore(url, { logger: silentLogger });
  const lite = new RolloutStore(':memory:');
  try {
    assert.equal(store.kind, 'postgres');
    const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
    const ref = new Ingest(lite, { maxChunkBytes: 1 << 20, logger: silentLogger });
    const chunks = [chunkOf(1, 2, 20, 4, 'success'), chunkOf(1, 0, 0, 10), chunkOf(1, 1, 10, 10)];
    const first = await ingest.handle(ROLLOUT, chunks[0]);
    assert.deepEqual(first.ack, { v: 1, robot: 'arm-1', episode: `${RUN}:1`, chunk: 2, status: 'stored' });
    assert.equal((await store.episode('arm-1', `${RUN}:1`))?.complete, false);
    // The rest arrive together (one batch), with the first one again (a resend after a lost ack).
    const rest = await Promise.all([chunks[1], chunks[0], chunks[2]].map((c) => ingest.handle(ROLLOUT, c)));
    assert.deepEqual(rest.map((r) => r.outcome), ['stored', 'duplicate', 'stored']);
    for (const c of chunks) await ref.handle(ROLLOUT, c);
    assert.equal(ingest.episodesComplete, 1);
    assert.deepEqual(ingest.counts, { stored: 3, duplicate: 1, rejected: 0 });
    const ep = await store.episode('arm-1', `${RUN}:1`);
    const liteEp = lite.episode('arm-1', `${RUN}:1`);
    const pick = (e: typeof ep) => ({ complete: e?.complete, steps: e?.steps, chunks: e?.chunks, final: e?.final_chunk, outcome: e?.outcome, skipped: e?.skipped_steps, task: e?.task });
    assert.deepEqual(pick(ep), { complete: true, steps: 24, chunks: 3, final: 2, outcome: 'success', skipped: 3, task: liteEp?.task });
    assert.deepEqual(pick(ep), pick(liteEp));
    assert.deepEqual(await store.totals(), { ...lite.totals(), bodyBytes: (await store.totals()).bodyBytes });
    const ex = await store.exportEpisode('arm-1', `${RUN}:1`);
    const liteEx = lite.exportEpisode('arm-1', `${RUN}:1`);
    assert.deepEqual([...ex.columns.step], [...liteEx.columns.step]);
    assert.deepEqual([...ex.columns.observation], [...liteEx.columns.observation]);
    assert.deepEqual(ex.columns.reward, liteEx.columns.reward);
    await assert.rejects(Promise.resolve().then(() => store.exportEpisode('arm-1', `${RUN}:9`)), { code: 'STRIATUM_ERR_IO' } as never);
    assert.deepEqual((await store.listEpisodes({ complete: true })).map((e) => e.episode), [`${RUN}:1`]);
  } finally {
    await store.close();
    lite.close();
  }
});

test('postgres store: two updaters storing the same chunks at once store each exactly once, and the episode counts add up', async () => {
  const url = await freshDb();
  const a = await openEpisodeStore(url, { logger: silentLogger });
  const b = await openEpisodeStore(url, { logger: silentLogger });
  try {
    const ia = new Ingest(a, { maxChunkBytes: 1 << 20, logger: silentLogger });
    const ib = new Ingest(b, { maxChunkBytes: 1 << 20, logger: silentLogger });
    const all: Uint8Array[] = [];
    for (let e = 0; e < 6; e++) for (let c = 0; c < 8; c++) all.push(chunkOf(e, c, c * 5, 5, c === 7 ? 'success' : false));
    // Both see every chunk, in opposite orders: each is stored by one and a duplicate for the other.
    const [ra, rb] = await Promise.all([
      Promise.all(all.map((c) => ia.handle(ROLLOUT, c))),
      Promise.all([...all].reverse().map((c) => ib.handle(ROLLOUT, c))),
    ]);
    const stored = [...ra, ...rb].filter((r) => r.outcome === 'stored').length;
    assert.equal(stored, all.length, 'every chunk stored exactly once across both');
    assert.equal([...ra, ...rb].filter((r) => r.outcome === 'duplicate').length, all.length);
    const t = await a.totals();
    assert.deepEqual([t.chunks, t.episodes, t.complete], [48, 6, 6]);
    for (const ep of await a.listEpisodes()) assert.deepEqual([ep.chunks, ep.steps, ep.final_chunk, ep.complete], [8, 40, 7, true]);
    assert.equal(ia.episodesComplete + ib.episodesComplete, 6, 'each episode completed once, by whichever stored its last chunk');
  } finally {
    await a.close();
    await b.close();
  }
});

test('postgres store: migrations are versioned; a store with a newer schema is refused, never downgraded', async () => {
  const url = await freshDb();
  const s = await openEpisodeStore(url, { logger: silentLogger });
  await s.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    assert.deepEqual((await c.query('SELECT version FROM striatum_schema ORDER BY version')).rows.map((r) => r.version), [PG_SCHEMA_VERSION]);
    // Opened again: nothing is applied twice.
    await (await openEpisodeStore(url, { logger: silentLogger })).close();
    assert.equal((await c.query('SELECT count(*)::int AS n FROM striatum_schema')).rows[0].n, 1);
    await c.query('INSERT INTO striatum_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION + 1]);
    await assert.rejects(openEpisodeStore(url, { logger: silentLogger }), { code: 'STRIATUM_ERR_STORE_SCHEMA' } as never);
    await assert.rejects(openEpisodeStore(url, { logger: silentLogger, readonly: true }), { code: 'STRIATUM_ERR_STORE_SCHEMA' } as never);
    assert.equal((await c.query('SELECT max(version)::int AS v FROM striatum_schema')).rows[0].v, PG_SCHEMA_VERSION + 1, 'left as it was');
  } finally {
    await c.end();
  }
});

test('postgres store: down at start is a clear error when waiting is bounded, and a retried open succeeds once it is up', async () => {
  const url = await freshDb();
  await server.stop();
  try {
    await assert.rejects(openEpisodeStore(url, { logger: silentLogger, maxWaitMs: 300 }), { code: 'STRIATUM_ERR_STORE' } as never);
    const logged: string[] = [];
    const logger = createLogger({ level: 'error', sink: { pretty: false, write: (line) => { logged.push(line); } } });
    const opening = PgEpisodeStore.open(url, { logger });
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(logged.some((m) => /not reachable; retrying/.test(m)), 'each failed attempt is logged');
    await server.start();
    const store = await opening;
    const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
    assert.equal((await ingest.handle(ROLLOUT, chunkOf(0, 0, 0, 5))).outcome, 'stored');
    // A restart under a running store: the batch in flight fails (no ack), the next one reconnects.
    await server.stop();
    assert.equal((await ingest.handle(ROLLOUT, chunkOf(0, 1, 5, 5))).outcome, 'store_failed');
    await server.start();
    assert.equal((await ingest.handle(ROLLOUT, chunkOf(0, 1, 5, 5))).outcome, 'stored');
    await store.close();
  } finally {
    await server.start().catch(() => undefined);
  }
});

test('postgres store: one training round at a time across updaters, numbered by the store', async () => {
  const url = await freshDb();
  const a = await openEpisodeStore(url, { logger: silentLogger });
  const b = await openEpisodeStore(url, { logger: silentLogger });
  try {
    let release!: () => void;
    const holding = new Promise<void>((r) => { release = r; });
    const first = a.withTrainingLock(async (round) => { await holding; return round; });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await b.withTrainingLock(async (round) => round), { held: false }, 'the other updater does not train meanwhile');
    release();
    assert.deepEqual(await first, { held: true, value: 1 });
    assert.deepEqual(await b.withTrainingLock(async (round) => round), { held: true, value: 2 });
  } finally {
    await a.close();
    await b.close();
  }
});

test('striatum updater episodes and export read a PostgreSQL store by URL; the config takes store.url', async () => {
  const url = await freshDb();
  const store = await openEpisodeStore(url, { logger: silentLogger });
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  await ingest.handle(ROLLOUT, chunkOf(2, 0, 0, 8, 'success'));
  await ingest.handle(ROLLOUT, chunkOf(5, 0, 0, 8));
  await store.close();
  const dir = tempDir();
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
  try {
    assert.equal(await updaterCommand.run(['episodes', '--store', url, '--complete'], silentLogger), 0);
    assert.equal(await updaterCommand.run(['export', '--store', url, '--robot', 'arm-1', '--episode', `${RUN}:2`, '--out', join(dir, 'ep')], silentLogger), 0);
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(out[0].trim().split('\n').map((l) => JSON.parse(l)).map((e) => [e.episode, e.complete, e.steps]), [[`${RUN}:2`, true, 8]]);
  assert.deepEqual(readNpy(join(dir, 'ep', 'step.npy')).shape, [8]);
  const cfg = loadUpdaterConfig({ store: url });
  assert.equal(cfg.store.url, url);
  assert.equal(cfg.store.path, undefined);
  assert.throws(() => loadUpdaterConfig({ config: undefined, store: undefined }), { code: 'STRIATUM_ERR_CONFIG' } as never);
});
